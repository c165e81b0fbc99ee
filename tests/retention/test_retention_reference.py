"""RetentionQueryRunner against the brute-force reference (tests/retention/reference.py)
on generated events: day / week / month periods, first_time and recurring, project
time zones with DST changes inside the range, merged identities, property filters.

Each example is a fresh project with all its events inserted at once.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from retention.queries import RetentionQueryRunner
from retention.spec import RetentionSpec
from tests.conftest import EventBuilder, examples
from tests.retention import reference as ref

# Ranges that contain a DST change in both zones (US: Mar 8 / Nov 1; EU: Mar 29 / Oct 25, 2026).
RANGES = {
    "day": [
        (dt.date(2026, 3, 6), dt.date(2026, 3, 12)),
        (dt.date(2026, 3, 27), dt.date(2026, 4, 1)),
        (dt.date(2026, 10, 24), dt.date(2026, 11, 2)),
    ],
    "week": [(dt.date(2026, 3, 4), dt.date(2026, 4, 2)), (dt.date(2026, 10, 20), dt.date(2026, 11, 12))],
    "month": [(dt.date(2026, 2, 10), dt.date(2026, 5, 3)), (dt.date(2026, 9, 1), dt.date(2026, 11, 30))],
}
ZONES = ["UTC", "America/Los_Angeles", "Europe/Berlin"]
FILTERS = [
    [],
    [{"key": "plan", "operator": "exact", "value": "pro"}],
    [{"key": "plan", "operator": "is_not", "value": "free"}],
    [{"key": "n", "operator": "gt", "value": 1}],
]


row = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["open", "buy"]),
        "did": st.sampled_from([f"d{i}" for i in range(7)]),
        "offset_hours": st.integers(
            min_value=-24 * 40, max_value=24 * 100
        ),  # from range start; some before/after
        "minute": st.integers(min_value=0, max_value=59),
        "plan": st.sampled_from(["free", "pro", None]),
        "n": st.sampled_from([0, 1, 2, 5, None]),
    }
)


@settings(max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(row, min_size=0, max_size=45),
    merges=st.lists(
        st.tuples(st.sampled_from(["d0", "d1", "d2"]), st.sampled_from(["d5", "d6"])), max_size=2
    ),
    period=st.sampled_from(["day", "week", "month"]),
    range_index=st.integers(min_value=0, max_value=2),
    zone=st.sampled_from(ZONES),
    retention_type=st.sampled_from(["first_time", "recurring"]),
    total_intervals=st.integers(min_value=1, max_value=12),
    returning=st.sampled_from(["open", "buy"]),
    target_filters=st.sampled_from(FILTERS),
    returning_filters=st.sampled_from(FILTERS),
    global_filters=st.sampled_from(FILTERS[:2] + [[{"key": "plan", "operator": "is_set"}]]),
    unfiltered=st.booleans(),
)
def test_retention_matches_the_reference(
    ch_project,
    rows,
    merges,
    period,
    range_index,
    zone,
    retention_type,
    total_intervals,
    returning,
    target_filters,
    returning_filters,
    global_filters,
    unfiltered,
):
    if unfiltered:  # no filter at all: the matrix reads trends_rollup (test_retention_rollup.py)
        target_filters = returning_filters = global_filters = []
    project = ch_project(zone)
    date_from, date_to = RANGES[period][range_index % len(RANGES[period])]
    # Spread events over the range scaled by period (months span ~100 days already).
    scale = {"day": 0.15, "week": 0.6, "month": 1.5}[period]
    base = dt.datetime.combine(date_from, dt.time(), tzinfo=project.tz).astimezone(dt.UTC)
    builder = EventBuilder(project.id)
    prepared = []
    for r in rows:
        props = {}
        if r["plan"] is not None:
            props["plan"] = r["plan"]
        if r["n"] is not None:
            props["n"] = r["n"]
        ts = base + dt.timedelta(hours=int(r["offset_hours"] * scale), minutes=r["minute"])
        builder.add(r["event"], r["did"], ts, props)
        prepared.append({"event": r["event"], "did": r["did"], "ts": ts, "props": props})
    for did, into in merges:
        builder.merge(did, into)
    for r in prepared:
        builder.person_for(r["did"])
    builder.flush()

    target = {"event": "open", "properties": target_filters}
    returning_entity = {"event": returning, "properties": returning_filters}
    body = {
        "kind": "RetentionQuery",
        "period": period,
        "date_from": date_from.isoformat(),
        "date_to": date_to.isoformat(),
        "total_intervals": total_intervals,
        "retention_type": retention_type,
        "target_event": target,
        "returning_event": returning_entity,
        "properties": global_filters,
    }
    result = RetentionQueryRunner(project, RetentionSpec.from_json(body, project)).run()
    got = [(r.cohort_start.astimezone(project.tz).date(), r.values) for r in result.rows]
    expected = ref.retention(
        prepared,
        dict(builder.persons),
        tz=project.tz,
        date_from=date_from,
        date_to=date_to,
        period=period,
        total_intervals=total_intervals,
        retention_type=retention_type,
        target=target,
        returning=returning_entity,
        global_filters=global_filters,
    )
    assert got == expected


@pytest.mark.parametrize("retention_type", ["recurring", "first_time"])
@pytest.mark.parametrize("returning", ["open", "buy"])
def test_more_than_64_periods_match_the_reference(ch_project, retention_type, returning):
    """The runner keeps each person's periods as bits, 64 periods to a block: 272 daily
    cohorts (five blocks, both DST changes of 2026 in Berlin inside) with events on each
    side of the block edges (63/64, 127/128, ...), before the range and on its last day
    (00:01 and 23:30 local), against the reference."""
    project = ch_project("Europe/Berlin")
    date_from, date_to = dt.date(2026, 3, 1), dt.date(2026, 11, 27)  # 272 days: 5 blocks
    start = dt.datetime.combine(date_from, dt.time(), tzinfo=project.tz)
    builder = EventBuilder(project.id)
    prepared = []
    days = {
        "d0": [0, 63, 64, 127, 128, 191, 192, 271],
        "d1": [62, 63, 65, 120, 126, 127, 128, 129, 130],
        "d2": [-3, 5, 64, 66, 200, 255, 256, 257],
        "d3": [100, 101, 102, 150, 151, 160],
        "d4": [270, 271, 272],
    }
    for did, offsets in days.items():
        for i, day in enumerate(offsets):
            for event in ("open", "buy") if i % 2 else ("open",):
                local = dt.datetime.combine(date_from + dt.timedelta(days=day), dt.time(23, 30), project.tz)
                ts = local.astimezone(dt.UTC) if i % 3 else start + dt.timedelta(days=day, minutes=1)
                builder.add(event, did, ts)
                prepared.append({"event": event, "did": did, "ts": ts, "props": {}})
    builder.merge("d4", "d3")
    for r in prepared:
        builder.person_for(r["did"])
    builder.flush()

    target, returning_entity = {"event": "open"}, {"event": returning}
    body = {
        "kind": "RetentionQuery",
        "period": "day",
        "date_from": date_from.isoformat(),
        "date_to": date_to.isoformat(),
        "total_intervals": 60,
        "retention_type": retention_type,
        "target_event": target,
        "returning_event": returning_entity,
    }
    result = RetentionQueryRunner(project, RetentionSpec.from_json(body, project)).run()
    got = [(r.cohort_start.astimezone(project.tz).date(), r.values) for r in result.rows]
    expected = ref.retention(
        prepared,
        dict(builder.persons),
        tz=project.tz,
        date_from=date_from,
        date_to=date_to,
        period="day",
        total_intervals=60,
        retention_type=retention_type,
        target=target,
        returning=returning_entity,
    )
    assert len(got) == 272
    assert sum(sum(values) for _, values in got) > 0
    assert got == expected
