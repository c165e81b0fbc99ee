"""Reading recordings: one session's rrweb events, and the recordings list.

`session_snapshots(project, session_id)` is the read API the player's snapshots
endpoint uses: the session's rrweb events in time order, decompressed (plain
rrweb events, as rrweb-player wants them), unmasked — masking by role is the
caller's job (replay/masking.py).
"""

from __future__ import annotations

from analytics_app import clickhouse as ch
from ingestion.processing import loads

from .format import decompress_event

# Equal timestamps keep the order the SDK sent them in: posthog-js chunk uuids are
# UUIDv7 (time ordered), and chunk_index is the position inside the chunk.
SESSION_SNAPSHOTS_SQL = """
    SELECT data
    FROM session_replay_snapshots
    WHERE project_id = {project_id:UInt32} AND session_id = {session_id:String}
    ORDER BY timestamp, uuid, chunk_index
"""


def session_snapshots(project, session_id: str) -> list[dict]:
    """The session's rrweb events (dicts) in time order, decompressed; [] when there are none.

    Rows whose data is not a JSON object (never written by ingestion) are skipped.
    """
    result = ch.query(SESSION_SNAPSHOTS_SQL, {"project_id": project.id, "session_id": session_id})
    events = []
    for (data,) in result.rows:
        try:
            event = loads(data)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append(decompress_event(event))
    return events
