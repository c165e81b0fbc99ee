"""Brute-force Python reference for paths (docs/paths.md), compared against ClickHouse.

Input: a list of event dicts {uuid, event, distinct_id (person), ts (aware), props,
session_id}; the caller has already applied the date range. Output mirrors
PathsResult.to_json(): results (edges), dropoff, sessions.
"""

from __future__ import annotations

import re
from collections import defaultdict
from urllib.parse import urlsplit

GAP_SECONDS = 30 * 60


def url_path(url: str) -> str:
    if not url:
        return ""
    path = urlsplit(url).path
    return path.rstrip("/") or "/"


def raw_node(e: dict) -> str:
    if e["event"] == "$pageview":
        return url_path(e["props"].get("$current_url") or "")
    if e["event"] == "$screen":
        return e["props"].get("$screen_name") or ""
    return e["event"]


def included(event: str, types) -> bool:
    return event in types or ("custom_event" in types and not event.startswith("$"))


def wildcard(pattern: str) -> re.Pattern:
    return re.compile(".*".join(re.escape(p) for p in pattern.split("*")), re.S)


def clean(node: str, rules, groupings) -> str:
    for regex, alias in rules:
        node = re.sub(regex, lambda m, a=alias: a, node)
    for g in groupings:
        if wildcard(g).fullmatch(node):
            return g
    return node


def sessions(events, spec: dict, rules) -> list[tuple[str, str, list]]:
    """[(session id, person, [(ts, uuid, node)...] sorted)] before exclusion/collapse."""
    types = spec.get("include_event_types") or ["$pageview"]
    groupings = spec.get("path_groupings") or []
    by_key = defaultdict(list)
    for e in events:
        if not included(e["event"], types):
            continue
        raw = raw_node(e)
        if raw == "":
            continue
        item = (e["ts"], str(e["uuid"]), clean(raw, rules, groupings), e["distinct_id"])
        key = ("s", e["session_id"]) if e["session_id"] else ("p", e["distinct_id"])
        by_key[key].append(item)
    out = []
    for key, items in by_key.items():
        items.sort(key=lambda x: (x[0], x[1]))
        if key[0] == "s":
            person = items[0][3]
            out.append((key[1], person, items))
            continue
        part = [items[0]]
        for prev, cur in zip(items, items[1:], strict=False):
            if (cur[0] - prev[0]).total_seconds() > GAP_SECONDS:
                out.append(("", key[1], part))
                part = []
            part.append(cur)
        out.append(("", key[1], part))
    return out


def session_path(items, spec: dict) -> tuple[list, int] | None:
    """(path [(ts, uuid, node)], step offset) or None when the session is left out."""
    exclude = set(spec.get("exclude") or [])
    limit = spec.get("step_limit", 5)
    kept = [x for x in items if x[2] != "" and x[2] not in exclude]
    seq = [x for i, x in enumerate(kept) if i == 0 or x[2] != kept[i - 1][2]]
    names = [x[2] for x in seq]
    if spec.get("end_point"):
        if spec["end_point"] not in names:
            return None
        idx = names.index(spec["end_point"])
        path = seq[max(0, idx - limit + 1) : idx + 1]
        return path, limit - len(path)
    if spec.get("start_point"):
        if spec["start_point"] not in names:
            return None
        idx = names.index(spec["start_point"])
        return seq[idx : idx + limit], 0
    if not seq:
        return None
    return seq[:limit], 0


def all_paths(events, spec: dict, rules=()) -> list[dict]:
    rules = list(rules) + [(r["regex"], r["alias"]) for r in spec.get("path_cleaning") or []]
    out = []
    for sid, person, items in sessions(events, spec, rules):
        cut = session_path(items, spec)
        if cut is None:
            continue
        path, offset = cut
        steps = [f"{i + 1 + offset}_{x[2]}" for i, x in enumerate(path)]
        out.append({"sid": sid, "person": person, "path": path, "steps": steps, "offset": offset})
    return out


def paths(events, spec: dict, rules=()) -> dict:
    limit = spec.get("step_limit", 5)
    groups = defaultdict(list)
    for p in all_paths(events, spec, rules):
        path, steps = p["path"], p["steps"]
        for i in range(len(path)):
            if i + 1 < len(path):
                groups[(steps[i], steps[i + 1])].append((path[i + 1][0] - path[i][0]).total_seconds())
            else:
                groups[(steps[i], "")].append(0.0)
    node_sessions = defaultdict(int)
    node_no_next = defaultdict(int)
    for (source, target), times in groups.items():
        node_sessions[source] += len(times)
        if target == "":
            node_no_next[source] += len(times)
    min_w = spec.get("min_edge_weight", 1)
    eligible = sorted(
        ((s, t, len(v), sum(v) / len(v)) for (s, t), v in groups.items() if t != "" and len(v) >= min_w),
        key=lambda e: (-e[2], e[0], e[1]),
    )
    shown = eligible[: spec.get("edge_limit", 50)]
    edges = [
        {"source": s, "target": t, "value": n, "average_conversion_time_seconds": round(avg, 3)}
        for s, t, n, avg in shown
    ]
    shown_from = defaultdict(int)
    for e in edges:
        shown_from[e["source"]] += e["value"]
    visible = {e["source"] for e in edges} | {e["target"] for e in edges}
    dropoff = []
    for node in sorted(visible, key=lambda n: (int(n.split("_", 1)[0]), -node_sessions[n], n)):
        step = int(node.split("_", 1)[0])
        continued = node_sessions[node] - node_no_next[node]
        ended = node_no_next[node] if step < limit else 0
        omitted = continued - shown_from[node]
        dropoff.append(
            {
                "node": node,
                "sessions": node_sessions[node],
                "continued": continued,
                "continued_shown": shown_from[node],
                "continued_omitted": omitted,
                "ended": ended,
                "dropoff": omitted + ended,
            }
        )
    return {"results": edges, "dropoff": dropoff, "sessions": sum(node_no_next.values())}
