"""Retention matrices through trends_rollup vs the raw events path: identical answers.

A differential test on generated events (hypothesis): the same RetentionQuery runs with
SEXTANT_TRENDS_ROLLUPS on (the matrix reads the rollup's 15-minute buckets when it may)
and off (raw events), over zones with whole, half and quarter-hour offsets and DST
changes inside the range, day / week / month periods, first_time (target events from
before the range) and recurring, target and returning events the same or different,
equal timestamps and events minutes around local midnights, merged identities, late
events (a second insert into buckets already rolled up), a breakdown by a person
property; plus person deletion, the retention purge, and the fallback of a query
with property filters. tests/retention/test_retention_reference.py checks both paths
against the brute-force reference.
"""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from retention.queries import RetentionActorsRunner, RetentionQueryRunner
from retention.spec import RetentionSpec
from tests.conftest import EventBuilder, examples

# Around the 2026 US fall DST change (November 1, Los Angeles) and the EU one (October 25).
RANGES = {
    "day": (dt.date(2026, 10, 23), dt.date(2026, 11, 3)),
    "week": (dt.date(2026, 10, 12), dt.date(2026, 11, 20)),
    "month": (dt.date(2026, 8, 20), dt.date(2026, 11, 30)),
}
ZONES = ["UTC", "America/Los_Angeles", "Europe/Berlin", "Asia/Kolkata", "Asia/Kathmandu"]
PLANS = ["free", "pro", None]


def answer(result):
    return [(r.cohort_index, r.breakdown_value, r.values) for r in result.rows]


def run_both(project, body):
    """(rollup answer, raw answer, whether the rollup was read)."""
    spec = RetentionSpec.from_json(body, project)
    with override_settings(SEXTANT_TRENDS_ROLLUPS=True):
        runner = RetentionQueryRunner(project, spec)
        used = runner.rollup_usable(*runner.periods())
        fast = answer(runner.run())
    with override_settings(SEXTANT_TRENDS_ROLLUPS=False):
        runner = RetentionQueryRunner(project, spec)
        assert not runner.rollup_usable(*runner.periods())
        raw = answer(runner.run())
    return fast, raw, used


def insert_persons(project, builder, plans: dict[str, str | None]):
    people = {str(builder.person_for(did)): plan for did, plan in plans.items()}
    ch.insert(
        "persons",
        {
            "project_id": [project.id] * len(people),
            "id": list(people),
            "created_at": [dt.datetime(2026, 1, 1, tzinfo=dt.UTC)] * len(people),
            "properties": [json.dumps({"plan": plan} if plan else {}) for plan in people.values()],
            "version": [1] * len(people),
        },
    )


row = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["open", "buy"]),
        "did": st.sampled_from([f"d{i}" for i in range(7)]),
        # whole local days from the range start (some before it, some after), then minutes
        # around local midnight, so events fall on both sides of period boundaries
        "day": st.integers(min_value=-40, max_value=105),
        "minute": st.sampled_from([-61, -15, -1, 0, 1, 14, 15, 59, 600]),
    }
)


def place(project, date_from, period, r):
    scale = {"day": 0.12, "week": 0.4, "month": 1.0}[period]
    day = date_from + dt.timedelta(days=int(r["day"] * scale))
    midnight = dt.datetime.combine(day, dt.time(), tzinfo=project.tz).astimezone(dt.UTC)
    return midnight + dt.timedelta(minutes=r["minute"])


@settings(max_examples=examples(60), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(row, max_size=40),
    late=st.lists(row, max_size=8),
    merges=st.lists(
        st.tuples(st.sampled_from(["d0", "d1", "d2"]), st.sampled_from(["d5", "d6"])), max_size=2
    ),
    zone=st.sampled_from(ZONES),
    period=st.sampled_from(["day", "week", "month"]),
    retention_type=st.sampled_from(["first_time", "recurring"]),
    returning=st.sampled_from(["open", "buy"]),
    total_intervals=st.integers(min_value=1, max_value=10),
    breakdown=st.sampled_from([None, "person"]),
    plans=st.lists(st.sampled_from(PLANS), min_size=7, max_size=7),
)
def test_rollup_equals_raw(
    ch_project, rows, late, merges, zone, period, retention_type, returning, total_intervals, breakdown, plans
):
    project = ch_project(zone)
    date_from, date_to = RANGES[period]
    builder = EventBuilder(project.id)
    for r in rows:
        builder.add(r["event"], r["did"], place(project, date_from, period, r))
    # Two events of one person at the same microsecond, one of each kind.
    if rows:
        ts = place(project, date_from, period, rows[0])
        builder.add("open", rows[0]["did"], ts).add("buy", rows[0]["did"], ts)
    for did, into in merges:
        builder.merge(did, into)
    builder.flush()
    for r in late:  # late events: a second insert into buckets already rolled up
        builder.add(r["event"], r["did"], place(project, date_from, period, r))
    builder.flush()
    insert_persons(project, builder, {f"d{i}": plan for i, plan in enumerate(plans)})
    body = {
        "kind": "RetentionQuery",
        "period": period,
        "date_from": date_from.isoformat(),
        "date_to": date_to.isoformat(),
        "total_intervals": total_intervals,
        "retention_type": retention_type,
        "target_event": {"event": "open"},
        "returning_event": {"event": returning},
    }
    if breakdown:
        body["breakdown"] = {"property": "plan", "type": "person", "limit": 1}
    fast, raw, used = run_both(project, body)
    assert used  # local midnights of every zone here are 15-minute boundaries
    assert fast == raw


def test_filters_read_the_events(ch_project):
    """A property filter (global or on an entity) reads the events; the same query without
    it reads the rollup; each answers the same both ways."""
    project = ch_project("Asia/Kolkata")
    builder = EventBuilder(project.id)
    start = dt.datetime(2026, 10, 1, tzinfo=project.tz)
    for i in range(80):
        builder.add(
            ["open", "buy"][i % 4 == 0],
            f"d{i % 9}",
            start + dt.timedelta(hours=7 * i, minutes=i),
            {"plan": ["pro", "free"][i % 2]},
        )
    builder.merge("d1", "d2")
    builder.flush()
    base = {"kind": "RetentionQuery", "period": "day", "date_from": "2026-10-01", "date_to": "2026-10-20",
            "total_intervals": 8, "target_event": {"event": "open"}, "returning_event": {"event": "buy"}}  # fmt: skip
    pro = [{"key": "plan", "operator": "exact", "value": "pro"}]
    filtered = [
        {**base, "properties": pro},
        {**base, "target_event": {"event": "open", "properties": pro}},
        {**base, "returning_event": {"event": "buy", "properties": pro}},
    ]
    for body in filtered:
        fast, raw, used = run_both(project, body)
        assert not used, body
        assert fast == raw
    fast, raw, used = run_both(project, base)
    assert used and fast == raw and any(sum(v) for _, _, v in fast)


@pytest.mark.django_db
def test_person_deletion_and_purge_apply(ch_project):
    from governance import deletion  # noqa: PLC0415

    project = ch_project("America/Los_Angeles")
    builder = EventBuilder(project.id)
    start = dt.datetime(2026, 10, 26, tzinfo=project.tz)
    for i in range(70):
        builder.add(
            ["open", "buy"][i % 3 == 0], f"d{i % 6}", start + dt.timedelta(hours=5 * i, minutes=3 * i)
        )
    builder.merge("d0", "d1")
    builder.flush()
    body = {"kind": "RetentionQuery", "period": "day", "date_from": "2026-10-26", "date_to": "2026-11-09",
            "total_intervals": 10, "target_event": {"event": "open"}, "retention_type": "first_time"}  # fmt: skip
    before, raw_before, used = run_both(project, body)
    assert used and before == raw_before

    target = deletion.target_for(project, deletion.Kind.PERSON, [builder.person_for("d1")])
    deletion._delete_events(project, target, {})
    after, raw_after, _ = run_both(project, body)
    assert after == raw_after != before

    project.event_retention_days = 30
    now = start + dt.timedelta(days=34, hours=3, minutes=40)  # the cutoff inside a 15-minute bucket
    assert deletion.purge_expired_events(project, now=now) > 0
    purged, raw_purged, _ = run_both(project, body)
    assert purged == raw_purged != after


@pytest.mark.django_db
def test_actors_of_a_cell_read_the_events(ch_project):
    """The drill-down keeps reading the events (it needs distinct_ids and sessions); its
    persons are the matrix cell's count."""
    project = ch_project("UTC")
    builder = EventBuilder(project.id)
    start = dt.datetime(2026, 10, 1, 23, 50, tzinfo=dt.UTC)
    for i in range(30):
        builder.add("open", f"d{i % 5}", start + dt.timedelta(hours=11 * i))
    builder.flush()
    body = {"kind": "RetentionQuery", "period": "day", "date_from": "2026-10-01", "date_to": "2026-10-12",
            "total_intervals": 6, "target_event": {"event": "open"}}  # fmt: skip
    spec = RetentionSpec.from_json(body, project)
    matrix = RetentionQueryRunner(project, spec).run()
    for row in matrix.rows[:4]:
        for k, count in enumerate(row.values):
            actors = RetentionActorsRunner(project, spec, row.cohort_index, k).run()
            assert actors.total_persons == count
