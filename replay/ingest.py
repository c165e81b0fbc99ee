"""Recording chunks at ingestion: `$snapshot` events -> one replay row per rrweb event.

POST /s/ (ingestion/views.py) hands its batches to `process_snapshots` through the
recordings seam `ingestion.processing.snapshot_processor` (set in ReplayConfig.ready);
the rows travel in the ingestion Job to the writer. `snapshot_facts` computes the
narrow per-event columns the session summaries aggregate (replay/summary.py).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid

from analytics_app.jsoncodec import dumps
from ingestion.decoder import parse_timestamp
from ingestion.processing import (
    NAMESPACE,
    BadSnapshot,
    Job,
    RequestContext,
    clean_distinct_id,
    parse_user_agent,
    warning,
)

from .format import decompress_event

# Store full snapshots and mutations decompressed (posthog-js cv 2024-10 gzips them
# inside the JSON): smaller on disk under the column's ZSTD and no gunzip on every
# read. docs/replay.md has the measurement.
NORMALIZE_SNAPSHOTS = True


SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,70}$")


def process_snapshots(raw_events: list, project, ctx: RequestContext) -> tuple[Job, list[str]]:
    """$snapshot events -> one replay row per rrweb event. Raises BadSnapshot for a bad session id."""
    job = Job(project.id)
    rejected: list[str] = []
    for raw in raw_events:
        props = raw.get("properties") if isinstance(raw, dict) else None
        if not isinstance(props, dict):
            rejected.append("invalid_snapshot")
            job.warnings.append(
                warning(
                    "invalid_snapshot",
                    ctx,
                    event="$snapshot",
                    details="a $snapshot item without properties",
                    payload=raw,
                )
            )
            continue
        session_id = props.get("$session_id")
        if not isinstance(session_id, str) or not SESSION_ID.match(session_id):
            raise BadSnapshot("`$session_id` must be 1-70 characters of letters, digits, '-' or '_'.")
        window_id = props.get("$window_id")
        window_id = window_id[:200] if isinstance(window_id, str) else ""
        distinct_id = clean_distinct_id(raw.get("distinct_id") or props.get("distinct_id")) or ""
        data = props.get("$snapshot_data")
        if isinstance(data, dict):
            data = [data]
        if raw.get("event") != "$snapshot" or not isinstance(data, list):
            rejected.append("invalid_snapshot")
            job.warnings.append(
                warning(
                    "invalid_snapshot",
                    ctx,
                    event=str(raw.get("event"))[:200],
                    distinct_id=distinct_id,
                    details="not a $snapshot event with a $snapshot_data array",
                    payload=raw,
                )
            )
            continue
        if not project.recording_enabled:
            rejected.append("recording_disabled")
            job.warnings.append(
                warning(
                    "recording_disabled",
                    ctx,
                    event="$snapshot",
                    distinct_id=distinct_id,
                    details=f"session {session_id}: {len(data)} rrweb event(s) dropped because recording is disabled for this project",
                    payload={"$session_id": session_id, "count": len(data)},
                )
            )
            continue
        given = raw.get("uuid")
        try:
            chunk = (
                uuid.UUID(str(given))
                if given not in (None, "")
                else uuid.uuid5(NAMESPACE, dumps([project.id, session_id, window_id, data]))
            )
        except (ValueError, TypeError):
            chunk = uuid.uuid5(NAMESPACE, dumps([project.id, session_id, window_id, data]))
        device = parse_user_agent(ctx.user_agent) if ctx.user_agent else {}
        retention = dt.timedelta(days=project.recording_retention_days)
        for index, item in enumerate(data):
            ts = parse_timestamp(item.get("timestamp")) if isinstance(item, dict) else None
            ts = ts or ctx.now
            kind = item.get("type") if isinstance(item, dict) else None
            received = dumps(item)
            stored = received
            if NORMALIZE_SNAPSHOTS:
                normalized = decompress_event(item)
                if normalized is not item:
                    stored = dumps(normalized)
            job.snapshots.append(
                {
                    "session_id": session_id,
                    "window_id": window_id,
                    "distinct_id": distinct_id,
                    "timestamp": ts.isoformat(),
                    "event_type": kind
                    if isinstance(kind, int) and not isinstance(kind, bool) and 0 <= kind <= 255
                    else 255,
                    "data": stored,
                    "uuid": str(chunk),
                    "chunk_index": index,
                    "size": len(received.encode()),
                    "browser": device.get("$browser", ""),
                    "os": device.get("$os", ""),
                    "device_type": device.get("$device_type", ""),
                    "expires_at": _expiry(ts, retention),
                    **snapshot_facts(item),
                }
            )
    return job, rejected


def _expiry(ts: dt.datetime, retention: dt.timedelta) -> str:
    try:
        return (ts + retention).isoformat()
    except OverflowError:
        return dt.datetime.max.replace(tzinfo=dt.UTC).isoformat()


# rrweb numbers (rrweb EventType / IncrementalSource / MouseInteractions).
_INCREMENTAL, _META, _CUSTOM, _PLUGIN = 3, 4, 5, 6
_SOURCE_MUTATION, _SOURCE_MOUSE_MOVE, _SOURCE_MOUSE_INTERACTION, _SOURCE_SCROLL = 0, 1, 2, 3
_SOURCE_INPUT, _SOURCE_TOUCH_MOVE, _SOURCE_MEDIA, _SOURCE_DRAG = 5, 6, 7, 12
ACTIVE_SOURCES = frozenset(
    {
        _SOURCE_MOUSE_MOVE,
        _SOURCE_MOUSE_INTERACTION,
        _SOURCE_SCROLL,
        _SOURCE_INPUT,
        _SOURCE_TOUCH_MOVE,
        _SOURCE_DRAG,
    }
)
MOUSE_SOURCES = frozenset({_SOURCE_MOUSE_MOVE, _SOURCE_MOUSE_INTERACTION, _SOURCE_TOUCH_MOVE, _SOURCE_DRAG})
REACTION_SOURCES = frozenset({_SOURCE_MUTATION, _SOURCE_SCROLL, _SOURCE_INPUT, _SOURCE_MEDIA})
CLICK = 2  # MouseInteractions.Click
_NO_FACTS = {
    "active": 0,
    "click": 0,
    "keypress": 0,
    "mouse": 0,
    "reaction": 0,
    "console_level": "",
    "x": 0,
    "y": 0,
    "node_id": 0,
    "url": "",
}


def _int(value, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:  # noqa: PLR0124 - NaN
        return 0
    return int(min(max(value, lo), hi))


def console_level(level) -> str:
    """rrweb console plugin level -> log / warn / error."""
    if level in ("error", "assert"):
        return "error"
    if level == "warn":
        return "warn"
    return "log"


def snapshot_facts(event) -> dict:
    """The narrow per-event columns the session summary aggregates (docs/replay.md defines them).

    Works on the event as received: the events these facts read (incremental
    interactions, meta, custom, console) are never compressed by posthog-js.
    """
    facts = dict(_NO_FACTS)
    if not isinstance(event, dict):
        return facts
    kind, data = event.get("type"), event.get("data")
    if not isinstance(data, dict):
        if kind in (2, _META):  # a compressed full snapshot is a page (re)load: the page reacted
            facts["reaction"] = 1
        return facts
    if kind == _INCREMENTAL:
        source = data.get("source")
        if source in ACTIVE_SOURCES:
            facts["active"] = 1
        if source in MOUSE_SOURCES:
            facts["mouse"] = 1
        if source in REACTION_SOURCES:
            facts["reaction"] = 1
        if source == _SOURCE_INPUT:
            facts["keypress"] = 1
        if source == _SOURCE_MOUSE_INTERACTION and data.get("type") == CLICK:
            facts["click"] = 1
            facts["x"] = _int(data.get("x"), -(2**31), 2**31 - 1)
            facts["y"] = _int(data.get("y"), -(2**31), 2**31 - 1)
            facts["node_id"] = _int(data.get("id"), -(2**63), 2**63 - 1)
    elif kind in (2, _META):
        facts["reaction"] = 1
        href = data.get("href")
        if kind == _META and isinstance(href, str):
            facts["url"] = href[:2000]
    elif kind == _CUSTOM and data.get("tag") == "$url_changed":
        facts["reaction"] = 1
        payload = data.get("payload")
        href = payload.get("href") if isinstance(payload, dict) else None
        if isinstance(href, str):
            facts["url"] = href[:2000]
    elif kind == _PLUGIN and data.get("plugin") == "rrweb/console@1":
        payload = data.get("payload")
        facts["console_level"] = console_level(payload.get("level") if isinstance(payload, dict) else None)
    return facts
