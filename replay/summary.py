"""Per-session recording summaries, kept up to date as chunks arrive.

After every stored batch the writer calls `refresh_sessions({project_id: {session_id}})`
(hooked in replay/register.py). For each project one INSERT ... SELECT ... GROUP BY
recomputes the touched sessions from the narrow fact columns ingestion computed
per rrweb event (replay/ingest.py `snapshot_facts`); the JSON `data` column
is never read. A full recompute is idempotent, so chunks arriving out of order or
twice give the same summary; the newest `version` wins (ReplacingMergeTree, read
with FINAL).

Definitions (docs/replay.md, and tests/replay/reference.py implements the same):
- start/end: first and last rrweb event timestamp; duration = end - start.
- active time: the activity events (incremental MouseMove, MouseInteraction,
  Scroll, Input, TouchMove, Drag) in time order; the gap between two consecutive
  ones counts when it is under 5 s (a segment closes after 5 s idle, so a gap of
  exactly 5000 ms does not count).
- rage click: click i (MouseInteraction type Click, in time order) ends a rage
  run when it is the 3rd of three consecutive clicks within 1000 ms
  (t_i - t_{i-2} <= 1000) and clicks i-1 and i-2 are at its spot (the same rrweb
  node id, or within 30 px). rage_click_count counts runs: rage-ending clicks
  whose previous click is not rage-ending.
- dead click: a click with no page reaction (DOM mutation, scroll, input, media
  interaction, full snapshot, meta, `$url_changed`) in [t, t + 2500 ms].
"""

from __future__ import annotations

from analytics_app import clickhouse as ch

from .queries import REFRESH_SQL

BATCH = 2000  # sessions per statement


def refresh_sessions(sessions: dict[int, set[str]]) -> None:
    """Recompute the summaries of these sessions from all their stored rows."""
    for project_id, session_ids in sessions.items():
        ids = sorted(session_ids)
        for start in range(0, len(ids), BATCH):
            ch.command(
                REFRESH_SQL, {"project_id": int(project_id), "session_ids": ids[start : start + BATCH]}
            )


def summary(project, session_id: str) -> dict | None:
    """The stored summary of one session (latest version), or None."""
    result = ch.query(
        "SELECT * FROM session_replay_summaries FINAL"
        " WHERE project_id = {project_id:UInt32} AND session_id = {session_id:String}",
        {"project_id": project.id, "session_id": session_id},
    )
    rows = result.dicts()
    return rows[0] if rows else None
