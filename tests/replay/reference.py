"""A deliberately simple Python reference for recording summaries (docs/replay.md).

Input: the chunks of one session as [(chunk_uuid, [plain or compressed rrweb events])],
each chunk counted once (dedup is ingestion's job). Events are ordered by
(timestamp ms, chunk uuid, position in the chunk), the order the store uses.
"""

from __future__ import annotations

import math

ACTIVE = {1, 2, 3, 5, 6, 12}
MOUSE = {1, 2, 6, 12}
REACTION_SOURCES = {0, 3, 5, 7}


def ordered(chunks) -> list[dict]:
    rows = []
    for chunk_uuid, events in chunks:
        for index, event in enumerate(events):
            rows.append((event["timestamp"], str(chunk_uuid), index, event))
    rows.sort(key=lambda r: r[:3])
    return [r[3] for r in rows]


def _incremental(event, *sources) -> bool:
    return event["type"] == 3 and isinstance(event["data"], dict) and event["data"].get("source") in sources


def is_click(event) -> bool:
    return _incremental(event, 2) and event["data"].get("type") == 2


def is_reaction(event) -> bool:
    if event["type"] in (2, 4):
        return True
    if event["type"] == 5 and event["data"].get("tag") == "$url_changed":
        return True
    return _incremental(event, *REACTION_SOURCES)


def url_of(event) -> str:
    if event["type"] == 4:
        return event["data"].get("href") or ""
    if event["type"] == 5 and event["data"].get("tag") == "$url_changed":
        return (event["data"].get("payload") or {}).get("href") or ""
    return ""


def console_level(event) -> str:
    if event["type"] != 6 or event["data"].get("plugin") != "rrweb/console@1":
        return ""
    level = event["data"]["payload"].get("level")
    return "error" if level in ("error", "assert") else "warn" if level == "warn" else "log"


def same_spot(a, b) -> bool:
    if a["data"].get("id") and a["data"].get("id") == b["data"].get("id"):
        return True
    return math.hypot(a["data"]["x"] - b["data"]["x"], a["data"]["y"] - b["data"]["y"]) <= 30


def summarize(chunks, distinct_id: str) -> dict:
    events = ordered(chunks)
    times = [e["timestamp"] for e in events]

    active_times = [e["timestamp"] for e in events if _incremental(e, *ACTIVE)]
    active_ms = 0
    for previous, current in zip(active_times, active_times[1:], strict=False):
        if current - previous < 5000:  # a segment closes after 5 s idle
            active_ms += current - previous

    clicks = [e for e in events if is_click(e)]
    rage_end = []
    for i, click in enumerate(clicks):
        rage_end.append(
            i >= 2
            and click["timestamp"] - clicks[i - 2]["timestamp"] <= 1000
            and same_spot(click, clicks[i - 1])
            and same_spot(click, clicks[i - 2])
        )
    rage_runs = sum(1 for i, r in enumerate(rage_end) if r and (i == 0 or not rage_end[i - 1]))

    reactions = [e["timestamp"] for e in events if is_reaction(e)]
    dead = sum(1 for c in clicks if not any(c["timestamp"] <= r <= c["timestamp"] + 2500 for r in reactions))

    urls = [url_of(e) for e in events if url_of(e)]
    distinct_urls = []
    for url in urls:
        if url not in distinct_urls:
            distinct_urls.append(url)
    levels = [console_level(e) for e in events]
    return {
        "distinct_id": distinct_id,
        "start_ms": min(times),
        "end_ms": max(times),
        "active_ms": active_ms,
        "click_count": len(clicks),
        "keypress_count": sum(1 for e in events if _incremental(e, 5)),
        "mouse_activity_count": sum(1 for e in events if _incremental(e, *MOUSE)),
        "console_log_count": levels.count("log"),
        "console_warn_count": levels.count("warn"),
        "console_error_count": levels.count("error"),
        "rage_click_count": rage_runs,
        "dead_click_count": dead,
        "first_url": urls[0] if urls else "",
        "urls": distinct_urls,
        "event_count": len(events),
    }
