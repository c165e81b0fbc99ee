"""Reading one session for the player: its snapshots, its timeline and its context.

- ``snapshots_body``: the body of GET .../recordings/<session_id>/snapshots/, the
  session's rrweb events in time order (decompressed by replay.queries), masked
  for viewers without view-PII (replay.masking, by the project's replay_text_masking
  setting and the recorded person's PII values), serialized once.
- ``session_timeline``: what the player draws around the replay, read without the
  heavy rows (full snapshots and DOM mutations stay in ClickHouse): the activity
  marks behind the heatbar, navigations and console logs.
- ``activity_marks`` / ``heatbar`` / ``heatbar_path``: pure functions from rrweb
  events to weighted marks, to smoothed buckets, to an SVG path.
- ``session_events``: the session's analytics events for the side panel.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from dataclasses import dataclass, field

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from analytics_app.jsoncodec import dumps, loads

from . import queries
from .format import INCREMENTAL_SNAPSHOT, META, PLUGIN, decompress_event
from .masking import RecordingMasker, masker_for

CUSTOM = 5

# Session ids as ingestion accepts them (replay/ingest.py SESSION_ID).
SESSION_ID = re.compile(r"^[A-Za-z0-9_-]{1,70}$")

# Activity weights of the heatbar (issue 8).
WEIGHTS = {
    "rage_click": 5.0,
    "console_error": 3.0,
    "navigation": 2.0,
    "click": 1.0,
    "input": 0.8,
    "scroll": 0.3,
}
# Rage clicks as the session summaries count them (replay/queries.py): 3+ clicks on
# one spot (same node, or within 30 px) within a second.
RAGE_CLICKS = 3
RAGE_WINDOW_MS = 1000
RAGE_RADIUS_PX = 30

# rrweb IncrementalSource / MouseInteractions numbers
_SOURCE_MOUSE_INTERACTION, _SOURCE_SCROLL, _SOURCE_INPUT = 2, 3, 5
_CLICK = 2


def parse_session_id(value: str) -> str:
    if not isinstance(value, str) or not SESSION_ID.match(value):
        raise BadRequest(
            "session_id must be 1-70 characters of letters, digits, '-' or '_'.",
            {"session_id": "malformed"},
        )
    return value


# ---------------------------------------------------------------- snapshots


def session_snapshots(project, session_id: str) -> list[dict]:
    """The session's rrweb events in time order, decompressed (replay.queries' read API)."""
    return queries.session_snapshots(project, session_id)


def parse_window_id(value: str | None) -> str | None:
    """The optional window filter (posthog-js $window_id, stored cut to 200 characters)."""
    if value in (None, ""):
        return None
    if len(value) > 200:
        raise BadRequest("window_id is longer than 200 characters.", {"window_id": "too long"})
    return value


# The same read as replay.queries (one place decides the order), for one window.
_SESSION_FILTER = "AND session_id = {session_id:String}"
if _SESSION_FILTER not in queries.SESSION_SNAPSHOTS_SQL:  # pragma: no cover - a guard for edits there
    raise ImportError("replay.queries.SESSION_SNAPSHOTS_SQL changed its session filter")
WINDOW_SNAPSHOTS_SQL = queries.SESSION_SNAPSHOTS_SQL.replace(
    _SESSION_FILTER, _SESSION_FILTER + " AND window_id = {window_id:String}"
)

WINDOWS_SQL = """
    SELECT window_id, count() AS events,
        toUnixTimestamp64Milli(min(timestamp)) AS first_ms, toUnixTimestamp64Milli(max(timestamp)) AS last_ms
    FROM session_replay_snapshots
    WHERE project_id = {project_id:UInt32} AND session_id = {session_id:String}
    GROUP BY window_id
    ORDER BY first_ms, window_id
"""


@dataclass(frozen=True)
class Window:
    window_id: str
    events: int
    first_ms: int
    last_ms: int


def session_windows(project, session_id: str) -> list[Window]:
    """The session's browser windows (tabs), in the order they started."""
    rows = ch.query(WINDOWS_SQL, {"project_id": project.id, "session_id": session_id}).rows
    return [Window(w, int(n), int(a), int(b)) for w, n, a, b in rows]


def snapshots_body(project, session_id: str, presenter, window_id: str | None = None) -> str | None:
    """JSON text {"snapshots": [...]} for this viewer, or None when the session has no recording
    (in that window, when one is given).

    Ingestion stores each rrweb event as JSON text, decompressed. A viewer who may see
    everything gets those texts joined as they are (no parse, no re-encode); only a row
    still holding posthog-js compressed parts (stored before normalization) is decoded.
    Everyone else gets the events parsed, masked and encoded again.
    """
    params = {"project_id": project.id, "session_id": session_id}
    if window_id is None:
        rows = ch.query(queries.SESSION_SNAPSHOTS_SQL, params).rows
    else:
        rows = ch.query(WINDOW_SNAPSHOTS_SQL, {**params, "window_id": window_id}).rows
    if not rows:
        return None
    if presenter.can_view_pii:
        parts = []
        for (data,) in rows:
            if not data.startswith("{"):
                continue  # not an rrweb event (queries.session_snapshots skips these too)
            if _COMPRESSED_MARK in data:
                event = _event(data)
                if event is None:
                    continue
                data = dumps(decompress_event(event))
            parts.append(data)
        return '{"snapshots":[' + ",".join(parts) + "]}"
    events = [decompress_event(e) for e in map(_event, (d for (d,) in rows)) if e is not None]
    masker = masker_for(project, session_id, presenter)
    return dumps({"snapshots": [masker.event(e) for e in events]})


# posthog-js marks compressed events with "cv"; a plain event mentioning it only costs a parse.
_COMPRESSED_MARK = '"cv"'


def _event(data: str) -> dict | None:
    try:
        event = loads(data)
    except ValueError:
        return None
    return event if isinstance(event, dict) else None


# ----------------------------------------------------------------- timeline

# Everything but full snapshots and DOM/style mutations, which are most of a
# session's bytes and carry no activity the player draws.
# (3, 4, 5, 6: incremental, meta, custom, plugin; sources 2, 3, 5: clicks, scrolls, inputs)
TIMELINE_SQL = """
    SELECT toUnixTimestamp64Milli(timestamp) AS ts, event_type,
        if(event_type IN (3, 4, 5, 6)
           AND (event_type != 3 OR JSONExtractInt(data, 'data', 'source') IN (2, 3, 5)),
           data, '') AS light
    FROM session_replay_snapshots
    WHERE project_id = {project_id:UInt32} AND session_id = {session_id:String}
    ORDER BY timestamp, toString(uuid), chunk_index
"""


@dataclass(frozen=True)
class Mark:
    ts: int  # epoch ms
    kind: str

    @property
    def weight(self) -> float:
        return WEIGHTS[self.kind]


@dataclass(frozen=True)
class ConsoleLine:
    ts: int
    level: str
    text: str
    trace: str = ""


@dataclass
class Timeline:
    start_ms: int
    end_ms: int
    marks: list[Mark] = field(default_factory=list)
    console: list[ConsoleLine] = field(default_factory=list)
    navigations: list[tuple[int, str]] = field(default_factory=list)

    @property
    def duration_ms(self) -> int:
        return max(0, self.end_ms - self.start_ms)

    def offset(self, epoch_ms: int) -> int:
        """An absolute time as milliseconds into the recording, clamped to it."""
        return min(max(0, epoch_ms - self.start_ms), self.duration_ms)


def session_timeline(project, session_id: str, presenter) -> Timeline | None:
    rows = ch.query(TIMELINE_SQL, {"project_id": project.id, "session_id": session_id}).rows
    if not rows:
        return None
    light = []
    for ts, event_type, data in rows:
        event = None
        if data:
            try:
                event = loads(data)
            except ValueError:
                event = None
        light.append(event if isinstance(event, dict) else {"type": int(event_type), "timestamp": int(ts)})
        light[-1]["timestamp"] = int(ts)  # the stored (clock-corrected) time is the timeline's
    return build_timeline(light, presenter, masker_for(project, session_id, presenter))


def build_timeline(events: list[dict], presenter, masker=None) -> Timeline:
    """Timeline of rrweb events in time order (pure): bounds, marks, console lines, navigations.
    `masker`: the session's (replay.masking.masker_for); masking all text when not given."""
    stamps = [e["timestamp"] for e in events if isinstance(e.get("timestamp"), int | float)]
    timeline = Timeline(start_ms=int(min(stamps, default=0)), end_ms=int(max(stamps, default=0)))
    timeline.marks = activity_marks(events)
    if masker is None and not presenter.can_view_pii:
        masker = RecordingMasker()
    for event in events:
        etype, data = event.get("type"), event.get("data")
        if not isinstance(data, dict):
            continue
        if masker is not None and etype in (META, CUSTOM, PLUGIN):
            data = masker.event(event).get("data", {})
        ts = int(event["timestamp"])
        if etype == PLUGIN and data.get("plugin") == "rrweb/console@1":
            line = console_line(ts, data.get("payload"))
            if line:
                timeline.console.append(line)
        elif (href := navigation_href(etype, data)) is not None:
            timeline.navigations.append((ts, href))
    return timeline


def navigation_href(etype, data: dict) -> str | None:
    if etype == META and isinstance(data.get("href"), str):
        return data["href"]
    if etype == CUSTOM and data.get("tag") in ("$url_changed", "$pageview"):
        payload = data.get("payload")
        if isinstance(payload, dict) and isinstance(payload.get("href"), str):
            return payload["href"]
    return None


def console_line(ts: int, payload) -> ConsoleLine | None:
    if not isinstance(payload, dict):
        return None
    level = payload.get("level") if isinstance(payload.get("level"), str) else "log"
    parts = []
    for value in payload.get("payload") or []:
        if isinstance(value, str) and len(value) >= 2 and value[0] == value[-1] == '"':
            try:
                value = json.loads(value)
            except ValueError:
                pass
        parts.append(value if isinstance(value, str) else json.dumps(value))
    trace = payload.get("trace") or []
    first = trace[0] if isinstance(trace, list) and trace and isinstance(trace[0], str) else ""
    return ConsoleLine(ts=ts, level=level, text=" ".join(parts)[:2000], trace=first[:500])


def _console_level(event: dict) -> str | None:
    data = event.get("data")
    if event.get("type") != PLUGIN or not isinstance(data, dict) or data.get("plugin") != "rrweb/console@1":
        return None
    payload = data.get("payload")
    return payload.get("level") if isinstance(payload, dict) else None


def activity_marks(events: list[dict]) -> list[Mark]:
    """Weighted moments of a session (pure): clicks, rage clicks, inputs, scrolls, errors, navigations."""
    marks: list[Mark] = []
    clicks: list[tuple[int, float, float, object]] = []
    for event in events:
        ts = event.get("timestamp")
        if not isinstance(ts, int | float) or isinstance(ts, bool):
            continue
        ts = int(ts)
        etype, data = event.get("type"), event.get("data")
        if etype == INCREMENTAL_SNAPSHOT and isinstance(data, dict):
            source = data.get("source")
            if source == _SOURCE_MOUSE_INTERACTION and data.get("type") == _CLICK:
                marks.append(Mark(ts, "click"))
                clicks.append((ts, _num(data.get("x")), _num(data.get("y")), data.get("id")))
            elif source == _SOURCE_INPUT:
                marks.append(Mark(ts, "input"))
            elif source == _SOURCE_SCROLL:
                marks.append(Mark(ts, "scroll"))
        elif etype == META or (etype == CUSTOM and isinstance(data, dict) and navigation_href(etype, data)):
            marks.append(Mark(ts, "navigation"))
        elif _console_level(event) in ("error", "assert"):
            marks.append(Mark(ts, "console_error"))
    marks.extend(Mark(ts, "rage_click") for ts in rage_clicks(clicks))
    marks.sort(key=lambda m: m.ts)
    return marks


def _num(value) -> float:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else 0.0


def rage_clicks(clicks: list[tuple[int, float, float, object]]) -> list[int]:
    """Times of rage clicks: a run of 3+ clicks on one spot within a second counts once."""
    clicks = sorted(clicks, key=lambda c: c[0])

    def same_spot(a, b) -> bool:
        if a[3] is not None and a[3] == b[3] and a[3] != 0:
            return True
        return (a[1] - b[1]) ** 2 + (a[2] - b[2]) ** 2 <= RAGE_RADIUS_PX**2

    out, in_run = [], False
    for i in range(len(clicks)):
        ends = (
            i >= RAGE_CLICKS - 1
            and clicks[i][0] - clicks[i - 2][0] <= RAGE_WINDOW_MS
            and same_spot(clicks[i], clicks[i - 1])
            and same_spot(clicks[i], clicks[i - 2])
        )
        if ends and not in_run:
            out.append(clicks[i][0])
        in_run = ends
    return out


def heatbar(
    marks: list[Mark], start_ms: int, end_ms: int, buckets: int = 120, sigma: float = 1.5
) -> list[float]:
    """Weighted activity per time bucket, Gaussian-smoothed, scaled to a 0..1 maximum (pure)."""
    if buckets <= 0:
        return []
    span = max(1, end_ms - start_ms)
    raw = [0.0] * buckets
    for mark in marks:
        if start_ms <= mark.ts <= end_ms:
            raw[min(buckets - 1, (mark.ts - start_ms) * buckets // span)] += mark.weight
    radius = max(1, math.ceil(3 * sigma))
    kernel = [math.exp(-(k * k) / (2 * sigma * sigma)) for k in range(-radius, radius + 1)]
    smooth = [
        sum(raw[i + k] * kernel[k + radius] for k in range(-radius, radius + 1) if 0 <= i + k < buckets)
        for i in range(buckets)
    ]
    top = max(smooth)
    return [round(v / top, 4) for v in smooth] if top > 0 else smooth


def heatbar_path(values: list[float], width: int = 1000, height: int = 40) -> str:
    """A closed SVG area path through the bucket centres, on a width x height box (pure)."""
    if not values:
        return ""
    n = len(values)
    points = [((i + 0.5) * width / n, height - v * height) for i, v in enumerate(values)]
    d = [f"M0,{height}", f"L0,{points[0][1]:.1f}"]
    for i, (x, y) in enumerate(points):
        if i == 0:
            d.append(f"L{x:.1f},{y:.1f}")
            continue
        px, py = points[i - 1]
        mid = (px + x) / 2
        d.append(f"C{mid:.1f},{py:.1f} {mid:.1f},{y:.1f} {x:.1f},{y:.1f}")
    d.append(f"L{width},{points[-1][1]:.1f}")
    d.append(f"L{width},{height}Z")
    return " ".join(d)


# ------------------------------------------------------------ side panel

SESSION_EVENTS_SQL = """
    SELECT toString(uuid) AS uuid, event, toUnixTimestamp64Milli(timestamp) AS ts, distinct_id,
        toString(properties) AS properties
    FROM events
    WHERE project_id = {project_id:UInt32} AND session_id = {session_id:String}
      AND timestamp >= {lo:DateTime64(6, 'UTC')} AND timestamp <= {hi:DateTime64(6, 'UTC')}
    ORDER BY timestamp, uuid
    LIMIT {limit:UInt32}
"""
EVENTS_MARGIN = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class SessionEvent:
    uuid: str
    event: str
    ts: int
    distinct_id: str
    properties: dict


def session_events(
    project, session_id: str, start_ms: int, end_ms: int, limit: int = 500
) -> list[SessionEvent]:
    """The session's analytics events (project-scoped), around the recording's span."""
    lo = dt.datetime.fromtimestamp(start_ms / 1000, dt.UTC) - EVENTS_MARGIN
    hi = dt.datetime.fromtimestamp(end_ms / 1000, dt.UTC) + EVENTS_MARGIN
    rows = ch.query(
        SESSION_EVENTS_SQL,
        {"project_id": project.id, "session_id": session_id, "lo": lo, "hi": hi, "limit": limit},
    ).rows
    out = []
    for uuid, event, ts, distinct_id, props in rows:
        try:
            properties = loads(props) if props else {}
        except ValueError:
            properties = {}
        out.append(
            SessionEvent(
                uuid, event, int(ts), distinct_id, properties if isinstance(properties, dict) else {}
            )
        )
    return out
