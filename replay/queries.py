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


# ---- Per-session summaries (replay/summary.py has the definitions) ----

IDLE_MS = 5000
RAGE_WINDOW_MS = 1000
RAGE_RADIUS_PX = 30
DEAD_CLICK_MS = 2500

# Clicks as (ms, uuid, chunk_index, x, y, node_id) in time order: c[i].4/.5/.6 are x, y, node.
SAME_SPOT = (
    "((c[{a}].6 = c[{b}].6 AND c[{a}].6 != 0) OR "
    "(pow(c[{a}].4 - c[{b}].4, 2) + pow(c[{a}].5 - c[{b}].5, 2) <= {radius}))"
)
RAGE_END = (
    f"(i >= 3 AND c[i].1 - c[i - 2].1 <= {RAGE_WINDOW_MS} AND "
    f"{SAME_SPOT.format(a='i', b='i - 1', radius=RAGE_RADIUS_PX**2)} AND "
    f"{SAME_SPOT.format(a='i', b='i - 2', radius=RAGE_RADIUS_PX**2)})"
)

SESSION_FACTS_SQL = f"""
    SELECT
        session_id,
        argMaxIf(distinct_id, (timestamp, uuid, chunk_index), distinct_id != '') AS distinct_id,
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
        arraySort(groupArrayIf((toUnixTimestamp64Milli(timestamp), uuid, chunk_index, x, y, node_id), click = 1)) AS c,
        arrayMap(i -> {RAGE_END}, arrayEnumerate(c)) AS rage_end,
        toUInt32(arrayCount(i -> rage_end[i] AND (i = 1 OR NOT rage_end[i - 1]), arrayEnumerate(c))) AS rage_click_count,
        groupArrayIf(toUnixTimestamp64Milli(timestamp), reaction = 1) AS reactions,
        toUInt32(arrayCount(
            click -> NOT arrayExists(r -> r >= click.1 AND r <= click.1 + {DEAD_CLICK_MS}, reactions), c
        )) AS dead_click_count,
        arrayMap(u -> u.4, arraySort(groupArrayIf((timestamp, uuid, chunk_index, url), url != ''))) AS url_list,
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
