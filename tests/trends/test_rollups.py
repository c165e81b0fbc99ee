"""Trends through trends_rollup vs the raw events path: identical answers.

A differential test on generated events (hypothesis): the same TrendsQuery runs with
SEXTANT_TRENDS_ROLLUPS on (rollup, when the query allows it) and off (raw events), over
time zones with whole, half and quarter-hour offsets and a DST change, merged identities,
late events (a second insert into buckets already rolled up), total / DAU / weekly
active, with and without a $browser breakdown; plus person deletion, event retention,
the fallback of unaligned ranges, and the migration's backfill of existing events.
"""

from __future__ import annotations

import datetime as dt
import importlib

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from analytics_app.clickhouse.migrate import DDL
from tests.conftest import EventBuilder, examples
from trends import rollups
from trends.queries import TrendsQueryRunner
from trends.spec import TrendsSpec

# Around the 2026 US spring DST change (March 8, Los Angeles).
START = dt.datetime(2026, 3, 5, tzinfo=dt.UTC)
DAYS = 6
ZONES = ["UTC", "America/Los_Angeles", "Asia/Kolkata", "Asia/Kathmandu"]
BROWSERS = ["Chrome", "Safari", "", None]


def answer(result):
    return [(s.series_index, s.breakdown_value, s.compare_label, s.data, s.total) for s in result.series]


def run_both(project, body, now=None):
    """(rollup answer, raw answer, whether every series could read the rollup)."""
    spec = TrendsSpec.from_json(body)
    with override_settings(SEXTANT_TRENDS_ROLLUPS=True):
        runner = TrendsQueryRunner(project, spec, now=now)
        periods = runner.periods()
        used = all(rollups.usable(spec, s, [p.start, p.end, *p.starts]) for s in spec.series for p in periods)
        fast = answer(runner.run())
    with override_settings(SEXTANT_TRENDS_ROLLUPS=False):
        raw = answer(TrendsQueryRunner(project, spec, now=now).run())
    return fast, raw, used


def add_rows(builder, rows):
    for r in rows:
        ts = START + dt.timedelta(seconds=r["second"])
        props = {} if r["browser"] is None else {"$browser": r["browser"]}
        builder.add(r["event"], r["did"], ts, props)


row = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["view", "buy"]),
        "did": st.sampled_from([f"d{i}" for i in range(6)]),
        "second": st.integers(min_value=-2 * 86_400, max_value=(DAYS + 1) * 86_400),
        "browser": st.sampled_from(BROWSERS),
    }
)


@settings(max_examples=examples(40), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(row, max_size=40),
    late=st.lists(row, max_size=10),
    merges=st.lists(
        st.tuples(st.sampled_from(["d0", "d1", "d2"]), st.sampled_from(["d3", "d4"])), max_size=2
    ),
    zone=st.sampled_from(ZONES),
    interval=st.sampled_from(["hour", "day", "week"]),
    breakdown=st.booleans(),
    compare=st.booleans(),
)
def test_rollup_equals_raw(ch_project, rows, late, merges, zone, interval, breakdown, compare):
    project = ch_project(zone)
    builder = EventBuilder(project.id)
    add_rows(builder, rows)
    for did, into in merges:
        builder.merge(did, into)
    builder.flush()
    add_rows(builder, late)  # late events: a second insert into buckets already rolled up
    builder.flush()
    series = [{"event": "view"}, {"event": "view", "math": "dau"}, {"event": "buy", "math": "dau"}]
    if interval == "day":
        series.append({"event": "view", "math": "weekly_active"})
    body = {
        "series": series,
        "interval": interval,
        "date_from": (START + dt.timedelta(days=1)).date().isoformat(),
        "date_to": (START + dt.timedelta(days=DAYS - 1)).date().isoformat(),
        "compare": compare,
    }
    if breakdown:
        body["breakdown"] = {"property": "$browser", "limit": 2}
    fast, raw, used = run_both(project, body)
    assert used  # whole local days in every zone here: the rollup was read
    assert fast == raw


def test_fallbacks_still_answer_the_same(ch_project):
    """Filters, other breakdowns, other maths and unaligned ranges read the events."""
    project = ch_project("Asia/Kolkata")
    builder = EventBuilder(project.id)
    for i in range(30):
        builder.add(
            "view",
            f"d{i % 4}",
            START + dt.timedelta(hours=5 * i, minutes=7),
            {"$browser": "Chrome", "plan": "pro"},
        )
    builder.flush()
    base = {"series": [{"event": "view"}], "date_from": "2026-03-05", "date_to": "2026-03-10"}
    cases = [
        {**base, "properties": [{"key": "plan", "operator": "exact", "value": "pro"}]},
        {**base, "breakdown": {"property": "plan"}},
        {**base, "series": [{"event": "view", "math": "unique_session"}]},
        {"series": base["series"], "date_from": "-36h", "interval": "hour"},
    ]
    now = START + dt.timedelta(days=3, minutes=7)
    for body in cases:
        fast, raw, used = run_both(project, body, now=now)
        assert not used, body
        assert fast == raw


@pytest.mark.django_db
def test_person_deletion_and_retention_apply_to_the_rollup(ch_project):
    from governance import deletion  # noqa: PLC0415

    project = ch_project("America/Los_Angeles")
    builder = EventBuilder(project.id)
    for i in range(60):
        builder.add(
            "view",
            f"d{i % 5}",
            START + dt.timedelta(hours=2 * i, minutes=i),
            {"$browser": ["Chrome", "Safari"][i % 2]},
        )
    builder.merge("d0", "d1")
    builder.flush()
    body = {"series": [{"event": "view"}, {"event": "view", "math": "dau"}], "date_from": "2026-03-04",
            "date_to": "2026-03-10", "breakdown": {"property": "$browser"}}  # fmt: skip
    before, raw_before, used = run_both(project, body)
    assert used and before == raw_before

    target = deletion.target_for(project, deletion.Kind.PERSON, [builder.person_for("d1")])
    assert set(target.distinct_ids) == {"d0", "d1"}
    deletion._delete_events(project, target, {})
    after, raw_after, _ = run_both(project, body)
    assert after == raw_after and after != before

    project.event_retention_days = 30
    cutoff_now = START + dt.timedelta(days=32, hours=3, minutes=40)  # cutoff inside a 15-minute bucket
    assert deletion.purge_expired_events(project, now=cutoff_now) > 0
    purged, raw_purged, _ = run_both(project, body)
    assert purged == raw_purged and purged != after


def test_migration_backfills_existing_events(ch_project):
    """Dropping the rollup and applying the migration again rebuilds it from the stored
    events (what an upgrade of a database with events does)."""
    project = ch_project("Asia/Kathmandu")
    builder = EventBuilder(project.id)
    for i in range(40):
        builder.add(
            ["view", "buy"][i % 3 == 0],
            f"d{i % 6}",
            START + dt.timedelta(minutes=97 * i),
            {"$browser": "Edge"},
        )
    builder.merge("d2", "d3")
    builder.flush()
    body = {"series": [{"event": "view"}, {"event": "buy", "math": "dau"}], "date_from": "2026-03-05",
            "date_to": "2026-03-08", "interval": "hour"}  # fmt: skip
    before, raw, used = run_both(project, body)
    assert used and before == raw

    ch.command("DROP VIEW IF EXISTS trends_rollup_mv", global_=True)
    ch.command("DROP TABLE IF EXISTS trends_rollup", global_=True)
    migration = importlib.import_module("analytics_app.clickhouse.migrations.0012_squashable_person_tables")
    for statement in migration.operations(DDL()):
        ch.command(statement, global_=True)
    again, raw_again, _ = run_both(project, body)
    assert again == raw_again == raw
    # and the view fills it again for new events
    builder.add("view", "d9", START + dt.timedelta(hours=30), {"$browser": "Edge"}).flush()
    newer, raw_newer, _ = run_both(project, body)
    assert newer == raw_newer != raw
