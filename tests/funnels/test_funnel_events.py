"""funnel_events (migration 0014, the events ordered by distinct_id) against `events`: which
funnels read it, and that every funnel runner gives the same answer from either table on
generated months of data with merged identities (the fast path against the raw path).

The reference tests (test_reference.py, test_funnel_cases.py) run every case over both
tables too; the tests of deletion, retention and the squash check that funnel_events loses
and rewrites the same rows as `events`."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.test import override_settings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from funnels.queries import (
    FunnelActorsQueryRunner,
    FunnelQueryRunner,
    FunnelTimeToConvertRunner,
    FunnelTrendsRunner,
    funnel_sql,
)
from funnels.queries.runners import _resolve
from funnels.spec import FunnelActorsSpec, FunnelSpec
from tests.conftest import EventBuilder, examples

pytestmark = pytest.mark.django_db

START = dt.datetime(2026, 8, 1, tzinfo=dt.UTC)
NAMES = ["visit", "signup", "activate", "pay", "settings"]
STEPS = [{"event": "visit"}, {"event": "signup"}, {"event": "activate"}, {"event": "pay"}]


def body(date_from="2026-08-01", date_to="2026-10-31", **extra) -> dict:
    return {
        "kind": "FunnelsQuery",
        "date_from": date_from,
        "date_to": date_to,
        "steps": STEPS,
        "window": {"value": 14, "unit": "day"},
        **extra,
    }


def table_read(project, raw: dict) -> str:
    spec = FunnelSpec.from_json(raw, project)
    return funnel_sql(project, spec, *_resolve(project, spec)).source_table()


def test_which_funnels_read_funnel_events(project, settings):
    settings.SEXTANT_FUNNEL_EVENTS = True
    assert table_read(project, body()) == "funnel_events"  # three whole months
    assert table_read(project, body(order="strict")) == "funnel_events"
    assert table_read(project, body(breakdown={"property": "tier", "type": "person"})) == "funnel_events"
    person_filter = [{"key": "tier", "value": "gold", "type": "person"}]
    assert table_read(project, body(properties=person_filter)) == "funnel_events"
    # what funnel_events cannot answer: any event property
    event_filter = [{"key": "plan", "value": "pro"}]
    assert table_read(project, body(properties=event_filter)) == "events"
    steps = [STEPS[0], {"event": "signup", "properties": event_filter}]
    assert table_read(project, body(steps=steps)) == "events"
    exclusion = [{"event": "settings", "from_step": 0, "to_step": 1, "properties": event_filter}]
    assert table_read(project, body(exclusions=exclusion)) == "events"
    assert table_read(project, body(breakdown={"property": "$browser"})) == "events"
    assert table_read(project, body(aggregate_by={"property": "org"})) == "events"
    # a week of a month: `events` skips the other days
    assert table_read(project, body(date_from="2026-09-10", date_to="2026-09-16")) == "events"
    settings.SEXTANT_FUNNEL_EVENTS = False
    assert table_read(project, body()) == "events"


person_st = st.fixed_dictionaries(
    {
        "merged": st.booleans(),
        # (event index, day, minute of the day, second distinct_id?); minutes on a coarse
        # grid so that ties and steps exactly a window apart occur
        "events": st.lists(
            st.tuples(st.integers(0, len(NAMES) - 1), st.integers(0, 95), st.integers(0, 3), st.booleans()),
            min_size=1,
            max_size=12,
        ),
        "tier": st.sampled_from(["gold", "silver"]),
    }
)


def write(project, persons) -> EventBuilder:
    events = EventBuilder(project.id)
    for p, drawn in enumerate(persons):
        main, second = f"u{p}", f"anon{p}"
        for name, day, minute, on_second in drawn["events"]:
            did = second if on_second else main
            at = START + dt.timedelta(days=day, minutes=minute * 5)
            events.add(NAMES[name], did, at, session_id=f"s{p}-{day}")
        if drawn["merged"]:
            events.merge(second, into=main)  # after the events: the second id's rows are stale
    events.flush()
    ids = [str(events.person_for(f"u{p}")) for p in range(len(persons))]
    tiers = [d["tier"] for d in persons]
    ch.insert(
        "persons",
        {
            "project_id": [project.id] * len(ids),
            "id": ids,
            "created_at": [START] * len(ids),
            "properties": [f'{{"tier": "{t}"}}' for t in tiers],
            "version": [1] * len(ids),
        },
    )
    return events


def both(run):
    """(run() over funnel_events where the spec allows, run() over `events`)."""
    with override_settings(SEXTANT_FUNNEL_EVENTS=False):
        raw = run()
    with override_settings(SEXTANT_FUNNEL_EVENTS=True):
        return run(), raw


def results(project, raw: dict):
    spec = FunnelSpec.from_json(raw, project)
    return [(r.value, [(s.count, s.average_conversion_time_seconds, s.median_conversion_time_seconds) for s in r.steps])
            for r in FunnelQueryRunner(project, spec).run().results]  # fmt: skip


VARIANTS = [
    {},
    {"conversion_times": False},
    {"order": "strict"},
    {"order": "unordered"},
    {"exclusions": [{"event": "settings", "from_step": 1, "to_step": 2}]},
    {"breakdown": {"property": "tier", "type": "person"}},
    {"aggregate_by": "session"},
    {"window": {"value": 1, "unit": "hour"}},
    {"date_from": "2026-08-20", "date_to": "2026-10-10"},
]


@settings(
    max_examples=examples(20),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(persons=st.lists(person_st, min_size=1, max_size=15), variant=st.sampled_from(VARIANTS))
def test_every_runner_answers_the_same_from_either_table(ch_project, persons, variant):
    project = ch_project()
    write(project, persons)
    raw = body(**variant)
    with override_settings(SEXTANT_FUNNEL_EVENTS=True):
        assert table_read(project, raw) == "funnel_events"
    fast, slow = both(lambda: results(project, raw))
    assert fast == slow
    spec = FunnelSpec.from_json(raw, project)
    fast, slow = both(lambda: FunnelTimeToConvertRunner(project, spec).run())
    assert fast == slow
    fast, slow = both(lambda: FunnelTrendsRunner(project, spec).run())
    assert fast == slow
    for step, status in ((0, "converted"), (1, "dropped"), (3, "converted")):
        actors = {**raw, "kind": "FunnelsActorsQuery", "step": step, "status": status, "limit": 1000}
        if "breakdown" in raw:
            actors["breakdown_value"] = "gold"
        a_spec = FunnelActorsSpec.from_json(actors, project)
        fast, slow = both(lambda s=a_spec: FunnelActorsQueryRunner(project, s, with_persons=False).run())
        assert (fast.total, fast.actors) == (slow.total, slow.actors), (step, status)


def test_funnel_events_is_what_the_fast_path_reads(project):
    """Emptying the project's funnel_events rows empties the fast path's funnel (and only it):
    the funnel really reads that table, and the raw path does not."""
    events = EventBuilder(project.id)
    for i in range(3):
        events.add("visit", f"u{i}", START + dt.timedelta(days=10 * i)).add(
            "signup", f"u{i}", START + dt.timedelta(days=10 * i, hours=1)
        )
    events.flush()
    fast, raw = both(lambda: results(project, body(steps=STEPS[:2])))
    assert fast == raw and [c for c, _, _ in fast[0][1]] == [3, 3]
    ch.command(
        "DELETE FROM funnel_events WHERE project_id = {project_id:UInt32} SETTINGS lightweight_deletes_sync = 2",
        {"project_id": project.id},
    )
    fast, raw = both(lambda: results(project, body(steps=STEPS[:2])))
    assert [c for c, _, _ in raw[0][1]] == [3, 3]
    assert [c for c, _, _ in fast[0][1]] == [0, 0]


def test_the_view_copies_every_event_row(project, events):
    """The rows written through the events table's view are the events, column for column."""
    for i in range(50):
        events.add(NAMES[i % len(NAMES)], f"u{i % 7}", START + dt.timedelta(hours=i), session_id=f"s{i % 3}")
    events.add("visit", "u1", START, uuid=str(uuid.uuid4()))  # a tie with u1's first event
    events.flush()
    cols = "uuid, event, distinct_id, person_id, timestamp, session_id"
    q = f"SELECT {cols} FROM {{table:Identifier}} WHERE project_id = {{project_id:UInt32}} ORDER BY uuid"
    source = ch.query(q, {"table": "events", "project_id": project.id}).rows
    copy = ch.query(q, {"table": "funnel_events", "project_id": project.id}).rows
    assert len(source) == 51 and copy == source
