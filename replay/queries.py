"""Reading recordings: one session's rrweb events, and the recordings list.

`session_snapshots(project, session_id)` is the read API the player's snapshots
endpoint uses: the session's rrweb events in time order, decompressed (plain
rrweb events, as rrweb-player wants them), unmasked — masking by role is the
caller's job (replay/masking.py).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from analytics_app import clickhouse as ch
from analytics_app.jsoncodec import loads
from cohorts.membership import cohort_condition
from insights.blocks import EventSource, SQLBuilder
from insights.blocks import filters as filter_blocks
from insights.blocks.source import DT64

from .format import decompress_event

# Equal timestamps keep the order the SDK sent them in: posthog-js chunk uuids are
# UUIDv7 (time ordered) and chunk_index is the position inside the chunk. The uuid is
# compared as text: ClickHouse's UUID ordering is not the textual (time) order.
SESSION_SNAPSHOTS_SQL = """
    SELECT data
    FROM session_replay_snapshots
    WHERE project_id = {project_id:UInt32} AND session_id = {session_id:String}
    ORDER BY timestamp, toString(uuid), chunk_index
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


# ---- Per-session summaries (replay/summary.py has the definitions) ----

IDLE_MS = 5000
RAGE_WINDOW_MS = 1000
RAGE_RADIUS_PX = 30
DEAD_CLICK_MS = 2500

# Clicks in time order as parallel arrays ct (ms), cx, cy, cn (node id). The previous
# click's and the one before's values come from shifted copies (`_shift`), so no lambda
# captures a whole array (ClickHouse copies a captured array for every element).
_FAR_PAST = "toInt64(-1000000000000000)"


def _shift(array: str, by: int, fill: str) -> str:
    """`array` moved `by` places later, `fill` in front, same length."""
    return f"arraySlice(arrayConcat([{', '.join([fill] * by)}], {array}), 1, length({array}))"


def _same_spot(n: str, x: str, y: str) -> str:
    return f"((n = {n} AND n != 0) OR (x - {x}) * (x - {x}) + (y - {y}) * (y - {y}) <= {RAGE_RADIUS_PX**2})"


RAGE_END_SQL = (
    f"arrayMap((t, t2, x, x1, x2, y, y1, y2, n, n1, n2) -> "
    f"t - t2 <= {RAGE_WINDOW_MS} AND {_same_spot('n1', 'x1', 'y1')} AND {_same_spot('n2', 'x2', 'y2')}, "
    f"ct, {_shift('ct', 2, _FAR_PAST)}, cx, {_shift('cx', 1, '0')}, {_shift('cx', 2, '0')}, "
    f"cy, {_shift('cy', 1, '0')}, {_shift('cy', 2, '0')}, cn, {_shift('cn', 1, '0')}, {_shift('cn', 2, '0')})"
)
# Clicks (kind 0) and reactions (kind 1) in one time order, reactions after clicks of the
# same ms; arrayReverseFill gives each click the next reaction (or itself when none follows).
DEAD_CLICKS_SQL = (
    f"arrayCount((e, next) -> e.2 = 0 AND (next.2 = 0 OR next.1 > e.1 + {DEAD_CLICK_MS}), "
    "merged, arrayReverseFill(e -> e.2 = 1, merged))"
)

SESSION_FACTS_SQL = f"""
    SELECT
        session_id,
        argMaxIf(distinct_id, (timestamp, toString(uuid), chunk_index), distinct_id != '') AS distinct_id,
        min(timestamp) AS start_time,
        max(timestamp) AS end_time,
        arraySort(groupArrayIf(toUnixTimestamp64Milli(timestamp), active = 1)) AS active_ts,
        arraySum(d -> if(d < {IDLE_MS}, d, 0), arrayDifference(active_ts)) AS active_ms,
        countIf(click = 1) AS click_count,
        countIf(keypress = 1) AS keypress_count,
        countIf(mouse = 1) AS mouse_activity_count,
        countIf(console_level = 'log') AS console_log_count,
        countIf(console_level = 'warn') AS console_warn_count,
        countIf(console_level = 'error') AS console_error_count,
        arraySort(groupArrayIf(
            (toUnixTimestamp64Milli(timestamp), toString(uuid), chunk_index, toInt64(x), toInt64(y), node_id), click = 1
        )) AS c,
        arrayMap(e -> e.1, c) AS ct,
        arrayMap(e -> e.4, c) AS cx,
        arrayMap(e -> e.5, c) AS cy,
        arrayMap(e -> e.6, c) AS cn,
        {RAGE_END_SQL} AS rage_end,
        toUInt32(arrayCount((r, previous) -> r AND NOT previous, rage_end, {_shift("rage_end", 1, "false")})) AS rage_click_count,
        arraySort(arrayConcat(
            arrayMap(t -> (t, 0), ct),
            groupArrayIf((toUnixTimestamp64Milli(timestamp), 1), reaction = 1)
        )) AS merged,
        toUInt32({DEAD_CLICKS_SQL}) AS dead_click_count,
        arrayMap(u -> u.4, arraySort(groupArrayIf((timestamp, toString(uuid), chunk_index, url), url != ''))) AS url_list,
        if(empty(url_list), '', url_list[1]) AS first_url,
        arraySlice(arrayDistinct(url_list), 1, 200) AS urls,
        anyIf(browser, browser != '') AS browser,
        anyIf(os, os != '') AS os,
        anyIf(device_type, device_type != '') AS device_type,
        sum(size) AS size_bytes,
        count() AS event_count,
        uniqExact(window_id) AS window_count,
        max(expires_at) AS expires_at
    FROM session_replay_snapshots
    WHERE project_id = {{project_id:UInt32}} AND session_id IN {{session_ids:Array(String)}}
    GROUP BY session_id
"""

SUMMARY_COLUMNS = (
    "project_id, session_id, distinct_id, person_id, start_time, end_time, active_ms, click_count, "
    "keypress_count, mouse_activity_count, console_log_count, console_warn_count, console_error_count, "
    "rage_click_count, dead_click_count, first_url, urls, browser, os, device_type, size_bytes, "
    "event_count, window_count, expires_at, version"
)

# The person is the current one of the session's (last) distinct_id; the list
# re-resolves persons at read time, so a later merge never leaves a stale name.
REFRESH_SQL = f"""
    INSERT INTO session_replay_summaries ({SUMMARY_COLUMNS})
    SELECT
        {{project_id:UInt32}}, s.session_id, s.distinct_id, m.person_id, s.start_time, s.end_time, s.active_ms,
        s.click_count, s.keypress_count, s.mouse_activity_count, s.console_log_count, s.console_warn_count,
        s.console_error_count, s.rage_click_count, s.dead_click_count, s.first_url, s.urls, s.browser, s.os,
        s.device_type, s.size_bytes, s.event_count, s.window_count, s.expires_at,
        toUInt64(toUnixTimestamp64Micro(now64(6)))
    FROM ({SESSION_FACTS_SQL}) AS s
    LEFT JOIN (
        SELECT distinct_id, argMax(person_id, version) AS person_id
        FROM person_distinct_ids
        WHERE project_id = {{project_id:UInt32}} AND distinct_id IN (
            SELECT DISTINCT distinct_id FROM session_replay_snapshots
            WHERE project_id = {{project_id:UInt32}} AND session_id IN {{session_ids:Array(String)}}
        )
        GROUP BY distinct_id
    ) AS m ON m.distinct_id = s.distinct_id
"""


# ---- The recordings list ----

# Order parameter (forms.ORDER_CHOICES) -> ORDER BY; session_id breaks ties so pages are stable.
ORDERS = {
    "-start_time": "start_time DESC, session_id DESC",
    "start_time": "start_time ASC, session_id ASC",
    "-duration": "duration_ms DESC, session_id DESC",
    "duration": "duration_ms ASC, session_id ASC",
    "-active": "active_ms DESC, session_id DESC",
    "-errors": "console_error_count DESC, start_time DESC, session_id DESC",
}

LIST_COLUMNS = """
    session_id, distinct_id, person_id, start_time, end_time,
    toUnixTimestamp64Milli(end_time) - toUnixTimestamp64Milli(start_time) AS duration_ms, active_ms,
    click_count, keypress_count, mouse_activity_count, console_log_count, console_warn_count,
    console_error_count, rage_click_count, dead_click_count, first_url, urls, browser, os, device_type,
    size_bytes, event_count
"""

# distinct_ids whose current person satisfies a condition on `person_id`.
DISTINCT_IDS_OF_PERSONS_SQL = """
    SELECT distinct_id FROM (
        SELECT distinct_id, argMax(person_id, version) AS person_id
        FROM person_distinct_ids
        WHERE project_id = {{project_id:UInt32}}
        GROUP BY distinct_id
        HAVING argMax(is_deleted, version) = 0
    ) WHERE {condition}
"""

PERSONS_WITH_EMAIL_SQL = """
    SELECT id FROM persons
    WHERE project_id = {{project_id:UInt32}}
    GROUP BY id
    HAVING lowerUTF8(JSONExtractString(argMax(properties, version), 'email')) = lowerUTF8({email})
"""

PEOPLE_OF_DISTINCT_IDS_SQL = """
    SELECT m.distinct_id, m.person_id, p.properties
    FROM (
        SELECT distinct_id, argMax(person_id, version) AS person_id
        FROM person_distinct_ids
        WHERE project_id = {project_id:UInt32} AND distinct_id IN {dids:Array(String)}
        GROUP BY distinct_id
        HAVING argMax(is_deleted, version) = 0
    ) AS m
    LEFT JOIN (
        SELECT id, argMax(properties, version) AS properties
        FROM persons
        WHERE project_id = {project_id:UInt32} AND id IN (
            SELECT person_id FROM person_distinct_ids
            WHERE project_id = {project_id:UInt32} AND distinct_id IN {dids:Array(String)}
        )
        GROUP BY id
    ) AS p ON p.id = m.person_id
"""


@dataclass(frozen=True)
class RecordingRow:
    session_id: str
    distinct_id: str
    person_id: uuid.UUID | None
    person_properties: dict
    start_time: dt.datetime
    end_time: dt.datetime
    duration_ms: int
    active_ms: int
    click_count: int
    keypress_count: int
    mouse_activity_count: int
    console_log_count: int
    console_warn_count: int
    console_error_count: int
    rage_click_count: int
    dead_click_count: int
    first_url: str
    urls: list[str]
    browser: str
    os: str
    device_type: str
    size_bytes: int
    event_count: int

    def person_name(self, presenter) -> str:
        for key in ("name", "email", "$email", "username"):
            value = self.person_properties.get(key)
            if value not in (None, ""):
                return str(presenter.value(key, value))
        return self.shown_distinct_id(presenter)

    def shown_distinct_id(self, presenter) -> str:
        """The distinct_id, masked for users without VIEW_PII when it is an email (as the player does)."""
        return presenter.distinct_id(self.distinct_id)

    def to_json(self, presenter) -> dict:
        return {
            "session_id": self.session_id,
            "person_id": str(self.person_id) if self.person_id else None,
            "distinct_id": self.shown_distinct_id(presenter),
            "person_name": self.person_name(presenter),
            "start_time": self.start_time.isoformat(),
            "end_time": self.end_time.isoformat(),
            "duration_seconds": round(self.duration_ms / 1000, 3),
            "active_seconds": round(self.active_ms / 1000, 3),
            "click_count": self.click_count,
            "keypress_count": self.keypress_count,
            "mouse_activity_count": self.mouse_activity_count,
            "console_log_count": self.console_log_count,
            "console_warn_count": self.console_warn_count,
            "console_error_count": self.console_error_count,
            "rage_click_count": self.rage_click_count,
            "dead_click_count": self.dead_click_count,
            "first_url": mask_url(self.first_url, presenter),
            "urls": [mask_url(u, presenter) for u in self.urls],
            "browser": self.browser,
            "os": self.os,
            "device_type": self.device_type,
            "size_bytes": self.size_bytes,
            "event_count": self.event_count,
        }


def mask_url(url: str, presenter) -> str:
    """Query string and fragment values replaced by same-length masks for users without VIEW_PII."""
    return presenter.url(url)


@dataclass(frozen=True)
class RecordingsPage:
    rows: list[RecordingRow]
    has_more: bool


class RecordingsQueryRunner:
    """The recordings list: session summaries filtered and sorted by a RecordingsSpec."""

    def __init__(self, project, spec):
        self.project = project
        self.spec = spec

    def build(self) -> tuple[str, dict]:
        spec, b = self.spec, SQLBuilder(self.project.id)
        start, end = spec.date_range.resolve(self.project.tz)
        where = ["project_id = {project_id:UInt32}", f"start_time < {b.bind(end, DT64)}"]
        if start is not None:
            where.append(f"start_time >= {b.bind(start, DT64)}")
        duration = "(toUnixTimestamp64Milli(end_time) - toUnixTimestamp64Milli(start_time))"
        if spec.min_duration is not None:
            where.append(f"{duration} >= {b.bind(round(spec.min_duration * 1000), 'Int64')}")
        if spec.max_duration is not None:
            where.append(f"{duration} <= {b.bind(round(spec.max_duration * 1000), 'Int64')}")
        if spec.min_active is not None:
            where.append(f"active_ms >= {b.bind(round(spec.min_active * 1000), 'UInt64')}")
        if spec.url:
            numbers = filter_blocks.needs_number_masks("icontains", [spec.url])
            url = filter_blocks.masked_text_sql(b, "u", numbers=numbers) if spec.masked else "u"
            where.append(
                f"arrayExists(u -> positionCaseInsensitiveUTF8({url}, {b.bind(spec.url, 'String')}) > 0, urls)"
            )
        if spec.has_errors:
            where.append("console_error_count > 0")
        if spec.has_rage_clicks:
            where.append("rage_click_count > 0")
        if spec.distinct_id:
            where.append(f"distinct_id = {b.bind(spec.distinct_id, 'String')}")
        if spec.person_id:
            where.append(self._person_condition(f"person_id = {b.bind(spec.person_id, 'UUID')}"))
        if spec.email:
            emails = PERSONS_WITH_EMAIL_SQL.format(email=b.bind(spec.email, "String"))
            where.append(self._person_condition(f"person_id IN ({emails})"))
        if spec.people:
            # a drill-down's people (insights.people), resolved by the view
            where.append(
                self._person_condition(f"has({b.bind(list(spec.person_ids), 'Array(UUID)')}, person_id)")
            )
        if spec.cohort:
            members = cohort_condition(b, spec.cohort, "person_id", False)
            where.append(self._person_condition(members))
        if spec.event:
            # the session's events happen after it starts, at most a day after the range ends
            events_end = end + dt.timedelta(days=1)
            source = EventSource(
                self.project,
                b,
                start,
                events_end,
                events=[spec.event],
                filters=spec.event_properties,
                need_person=False,
            )
            where.append(f"session_id IN (SELECT session_id FROM ({source.sql()}) WHERE session_id != '')")
        sql = f"""
            SELECT {LIST_COLUMNS}
            FROM session_replay_summaries FINAL
            WHERE {" AND ".join(where)}
            ORDER BY {ORDERS[spec.order]}
            LIMIT {b.bind(spec.limit + 1, "UInt32")} OFFSET {b.bind(spec.offset, "UInt32")}
        """
        return sql, b.params

    @staticmethod
    def _person_condition(condition: str) -> str:
        return f"distinct_id IN ({DISTINCT_IDS_OF_PERSONS_SQL.format(condition=condition)})"

    def run(self) -> RecordingsPage:
        sql, params = self.build()
        rows = ch.query(sql, params).dicts()
        has_more = len(rows) > self.spec.limit
        rows = rows[: self.spec.limit]
        people = self._people({r["distinct_id"] for r in rows if r["distinct_id"]})
        out = []
        for r in rows:
            person_id, props = people.get(r["distinct_id"], (None, {}))
            r["person_id"] = person_id
            out.append(RecordingRow(person_properties=props, **r))
        return RecordingsPage(out, has_more)

    def _people(self, distinct_ids: set[str]) -> dict[str, tuple[uuid.UUID, dict]]:
        """Current person and properties of each distinct_id (resolved now, so merges show)."""
        if not distinct_ids:
            return {}
        result = ch.query(
            PEOPLE_OF_DISTINCT_IDS_SQL, {"project_id": self.project.id, "dids": sorted(distinct_ids)}
        )
        people = {}
        for distinct_id, person_id, properties in result.rows:
            try:
                props = loads(properties) if properties else {}
            except ValueError:
                props = {}
            people[distinct_id] = (person_id, props if isinstance(props, dict) else {})
        return people


# ---- Deletion (replay/deletion.py) ----

DISTINCT_IDS_EVER_OF_PERSON_SQL = """
    SELECT DISTINCT distinct_id FROM person_distinct_ids
    WHERE project_id = {project_id:UInt32} AND person_id = {person_id:UUID}
"""

SESSIONS_OF_DISTINCT_IDS_SQL = """
    SELECT DISTINCT session_id FROM session_replay_summaries
    WHERE project_id = {project_id:UInt32} AND distinct_id IN {dids:Array(String)}
    UNION DISTINCT
    SELECT DISTINCT session_id FROM session_replay_snapshots
    WHERE project_id = {project_id:UInt32} AND distinct_id IN {dids:Array(String)}
"""

DELETE_SNAPSHOTS_SQL = """
    DELETE FROM session_replay_snapshots
    WHERE project_id = {project_id:UInt32} AND session_id IN {sessions:Array(String)}
    SETTINGS mutations_sync = 1
"""

DELETE_SUMMARIES_SQL = """
    DELETE FROM session_replay_summaries
    WHERE project_id = {project_id:UInt32} AND session_id IN {sessions:Array(String)}
    SETTINGS mutations_sync = 1
"""


# ---- Demo recordings (replay/synthetic.py) ----

DEMO_SESSIONS_SQL = """
    SELECT session_id, argMax(distinct_id, timestamp), any(window_id), min(timestamp), max(timestamp),
        arraySort(groupArray((timestamp, mat_current_url, event)))
    FROM events
    WHERE project_id = {project_id:UInt32} AND session_id != ''
        AND timestamp >= now() - toIntervalDay({days:UInt32})
    GROUP BY session_id
    ORDER BY cityHash64(session_id)
    LIMIT {limit:UInt32}
"""
