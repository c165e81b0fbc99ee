"""A deliberately simple Python reference of the retention semantics (docs/retention.md).

Events are dicts {event, did, ts (aware), props}; `persons` maps distinct_id -> person.
Every period is computed from local calendar dates in the project's zone.
"""

from __future__ import annotations

import datetime as dt

from tests.insights import reference as ref


def floor_local(day: dt.date, period: str) -> dt.date:
    if period == "day":
        return day
    if period == "week":
        return day - dt.timedelta(days=day.weekday())
    return day.replace(day=1)


def next_start(day: dt.date, period: str) -> dt.date:
    if period == "day":
        return day + dt.timedelta(days=1)
    if period == "week":
        return day + dt.timedelta(weeks=1)
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def period_starts(date_from: dt.date, date_to: dt.date, period: str) -> list[dt.date]:
    out, cur, last = [], floor_local(date_from, period), floor_local(date_to, period)
    while cur <= last:
        out.append(cur)
        cur = next_start(cur, period)
    return out


def matches(e: dict, entity: dict, global_filters: list[dict]) -> bool:
    return e["event"] == entity["event"] and all(
        ref.matches(e["props"], f) for f in list(entity.get("properties", [])) + list(global_filters)
    )


def retention(
    events,
    persons,
    *,
    tz,
    date_from: dt.date,
    date_to: dt.date,
    period: str,
    total_intervals: int,
    retention_type: str,
    target: dict,
    returning: dict,
    global_filters=(),
) -> list[tuple[dt.date, list[int]]]:
    """[(cohort start (local date), values)] with values[0] the cohort size."""
    starts = period_starts(date_from, date_to, period)
    index = {s: i for i, s in enumerate(starts)}
    end_day = next_start(starts[-1], period)

    def pidx(e):
        day = e["ts"].astimezone(tz).date()
        return index.get(floor_local(day, period))

    def before_end(e):
        return e["ts"].astimezone(tz).date() < end_day

    cohorts: dict[object, set[int]] = {}
    returns: dict[object, set[int]] = {}
    first: dict[object, dt.datetime] = {}
    for e in events:
        if not before_end(e):
            continue
        person = persons[e["did"]]
        i = pidx(e)
        if matches(e, target, global_filters):
            if retention_type == "recurring":
                if i is not None:
                    cohorts.setdefault(person, set()).add(i)
            elif person not in first or e["ts"] < first[person]:
                first[person] = e["ts"]
        if matches(e, returning, global_filters) and i is not None:
            returns.setdefault(person, set()).add(i)
    if retention_type == "first_time":
        for person, ts in first.items():
            i = pidx({"ts": ts})
            if i is not None:
                cohorts[person] = {i}
    rows = []
    n = len(starts)
    for i, start in enumerate(starts):
        members = {p for p, cs in cohorts.items() if i in cs}
        width = min(total_intervals, n - i)
        values = [len(members)] + [
            sum(1 for p in members if i + k in returns.get(p, set())) for k in range(1, width)
        ]
        rows.append((start, values))
    return rows
