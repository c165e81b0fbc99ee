"""Hand-written funnels with exact expected numbers."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from funnels.queries import (
    FunnelActorsQueryRunner,
    FunnelQueryRunner,
    FunnelTimeToConvertRunner,
    FunnelTrendsRunner,
)
from funnels.spec import FunnelActorsSpec, FunnelSpec

# Each case twice: over `events` and over `funnel_events` (conftest.funnel_source).
pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("funnel_source")]

T = dt.datetime(2026, 3, 10, 12, 0, tzinfo=dt.UTC)
RANGE = {"date_from": "2026-03-01", "date_to": "2026-03-31"}


def spec(project, steps, **extra):
    body = {
        "kind": "FunnelsQuery",
        **RANGE,
        "steps": [{"event": s} if isinstance(s, str) else s for s in steps],
        **extra,
    }
    return FunnelSpec.from_json(body, project)


def counts(project, steps, engine="arrays", **extra):
    result = FunnelQueryRunner(project, spec(project, steps, **extra), engine=engine).run()
    return [s.count for s in result.results[0].steps]


def at(minutes=0, seconds=0):
    return T + dt.timedelta(minutes=minutes, seconds=seconds)


def test_merged_identity_counts_once_after_identify(project, events):
    """Five persons; E signed up as e_anon and again as e_user before being identified."""
    events.add("signup", "a", at(0)).add("pay", "a", at(5)).add("watch", "a", at(9))
    events.add("signup", "b", at(0)).add("pay", "b", at(7))
    events.add("signup", "e_anon", at(1)).add("signup", "e_user", at(30))
    events.add("pay", "c", at(3))  # pay without signing up
    events.add("watch", "d", at(4))
    events.flush()
    steps = ["signup", "pay", "watch"]
    assert counts(project, steps) == [4, 2, 1]
    assert counts(project, steps, engine="windowfunnel", conversion_times=False) == [4, 2, 1]

    events.merge("e_user", into="e_anon")  # $identify: a newer mapping version
    events.add("$pageview", "d", at(50))
    events.flush()
    assert counts(project, steps) == [3, 2, 1]
    assert counts(project, steps, engine="windowfunnel", conversion_times=False) == [3, 2, 1]
    result = FunnelQueryRunner(project, spec(project, steps)).run().results[0].steps
    assert [s.conversion_rate for s in result] == [1.0, pytest.approx(2 / 3), pytest.approx(1 / 3)]
    assert [s.conversion_rate_from_previous for s in result] == [1.0, pytest.approx(2 / 3), 0.5]
    assert [s.dropped for s in result] == [0, 1, 1]
    assert result[0].average_conversion_time_seconds is None
    assert result[1].average_conversion_time_seconds == 360.0  # 5 and 7 minutes
    assert result[2].median_conversion_time_seconds == 240.0


def test_conversion_exactly_at_the_window_boundary_counts_one_second_later_does_not(project, events):
    events.add("signup", "on_time", at(0)).add("pay", "on_time", at(60))
    events.add("signup", "late", at(0)).add("pay", "late", at(60, 1))
    events.flush()
    window = {"value": 1, "unit": "hour"}
    for engine, extra in (("arrays", {}), ("windowfunnel", {"conversion_times": False})):
        assert counts(project, ["signup", "pay"], engine=engine, window=window, **extra) == [2, 1]
    assert counts(project, ["signup", "pay"], window={"value": 3601, "unit": "second"}) == [2, 2]


def test_later_steps_may_fall_after_date_to_but_the_first_may_not(project, events):
    events.add("signup", "inside", dt.datetime(2026, 3, 31, 23, 0, tzinfo=dt.UTC))
    events.add("pay", "inside", dt.datetime(2026, 4, 2, tzinfo=dt.UTC))
    events.add("signup", "after", dt.datetime(2026, 4, 1, 0, 0, 1, tzinfo=dt.UTC))
    events.add("pay", "after", dt.datetime(2026, 4, 1, 0, 1, tzinfo=dt.UTC))
    # The range ends at 2026-04-01 00:00 (exclusive): a first step exactly then is out.
    events.add("signup", "at_end", dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    events.add("pay", "at_end", dt.datetime(2026, 4, 1, 0, 1, tzinfo=dt.UTC))
    # A first step inside, then one at the end: the chain opened inside converts.
    events.add("signup", "both", dt.datetime(2026, 3, 31, 22, 0, tzinfo=dt.UTC))
    events.add("signup", "both", dt.datetime(2026, 4, 1, tzinfo=dt.UTC))
    events.add("pay", "both", dt.datetime(2026, 4, 1, 0, 1, tzinfo=dt.UTC))
    events.flush()
    assert counts(project, ["signup", "pay"]) == [2, 2]
    assert counts(project, ["signup", "pay"], engine="windowfunnel", conversion_times=False) == [2, 2]


def test_strict_funnel_breaks_on_any_event_between_steps(project, events):
    events.add("signup", "interrupted", at(0)).add("$pageview", "interrupted", at(1)).add(
        "pay", "interrupted", at(2)
    )
    events.add("signup", "direct", at(0)).add("pay", "direct", at(2)).add("$pageview", "direct", at(3))
    events.flush()
    assert counts(project, ["signup", "pay"], order="ordered") == [2, 2]
    assert counts(project, ["signup", "pay"], order="strict") == [2, 1]


def test_strict_funnel_takes_the_best_attempt_not_the_first(project, events):
    events.add("signup", "x", at(0)).add("$pageview", "x", at(1)).add("signup", "x", at(2)).add(
        "pay", "x", at(3)
    )
    events.flush()
    assert counts(project, ["signup", "pay"], order="strict") == [1, 1]


def test_equal_timestamps_convert_but_one_event_cannot_be_two_steps(project, events):
    events.add("signup", "same_time", at(0)).add("pay", "same_time", at(0))
    events.add("view", "one_view", at(0))
    events.add("view", "two_views", at(0)).add("view", "two_views", at(0))
    events.flush()
    assert counts(project, ["signup", "pay"]) == [1, 1]
    assert counts(project, ["view", "view"]) == [2, 1]
    assert counts(project, ["view", "view"], order="strict") == [2, 1]


def reference_rows(events) -> list[dict]:
    """The events added so far, as tests/funnels/reference.py reads them."""
    return [
        {"uuid": e["uuid"], "event": e["event"], "person_id": e["person_id"], "ts": e["timestamp"],
         "props": json.loads(e["properties"]), "session_id": e["session_id"]}
        for e in events.rows
    ]  # fmt: skip


def test_equal_timestamps_order_by_the_steps_matched_before_the_uuid(project, events, monkeypatch):
    """Two events at one time, both first matching step 1: the one matching fewer steps
    (the smaller step mask) comes first whatever the uuids say, so `b` then `b {x: 1}`
    converts to step 3. Every engine path agrees: the compact UInt64 order (no per-event
    values), the UInt128 one with the uuid (an event breakdown, packed or as strings; the
    actors' sessions) and the reference."""
    from funnels.queries import base
    from tests.funnels import reference

    low_uuid, high_uuid = "00000000-0000-4000-8000-000000000001", "ffffffff-ffff-4fff-bfff-fffffffffffe"
    events.add("a", "p", at(0), session_id="s1")
    events.add("b", "p", at(1), {"x": 1}, session_id="s1", uuid=low_uuid)  # steps 1 and 2
    events.add("b", "p", at(1), {"x": 0}, session_id="s2", uuid=high_uuid)  # step 1 only
    rows = reference_rows(events)
    events.flush()
    steps = ["a", "b", {"event": "b", "properties": [{"key": "x", "value": "1"}]}]
    for order in ("ordered", "strict", "unordered"):
        assert counts(project, steps, order=order) == [1, 1, 1], order

    def by_x(**extra):
        body = spec(project, steps, breakdown={"property": "x", "attribution": 1}, **extra)
        return {r.value: [s.count for s in r.steps] for r in FunnelQueryRunner(project, body).run().results}

    assert by_x() == {"0": [1, 1, 1]}  # step 2 is the x = 0 event
    monkeypatch.setattr(base, "CODES", 0)  # the string-array path
    assert by_x() == {"0": [1, 1, 1]}
    assert by_x(order="strict") == {"0": [1, 1, 1]}
    body = {**spec(project, steps).to_json(), "kind": "FunnelsActorsQuery", "step": 2}
    (actor,) = FunnelActorsQueryRunner(project, FunnelActorsSpec.from_json(body, project)).run().actors
    assert actor.session_ids == ["s1", "s2"] and actor.session_id_at_last_step == "s1"

    start, end = dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 31, tzinfo=dt.UTC)
    expected = reference.funnel(rows, {}, spec(project, steps), start, end)
    assert [s["count"] for s in expected[0]["steps"]] == [1, 1, 1]


def test_equal_timestamps_order_an_event_breakdown_by_its_value_before_the_uuid(project, events, monkeypatch):
    """Two `a` events at one time matching the same steps, with different breakdown values:
    the stream orders them by the value before the uuid, so the counted attempt starts at
    the `alpha` one whatever the uuids say. Every path agrees: packed codes in the compact
    UInt64 key (counts) and in the UInt128 one (the actors' sessions), the string path (too
    many values to pack) and the reference."""
    from funnels.queries import base
    from tests.funnels import reference

    low_uuid, high_uuid = "00000000-0000-4000-8000-000000000001", "ffffffff-ffff-4fff-bfff-fffffffffffe"
    events.add("a", "p", at(0), {"plan": "zeta"}, session_id="s1", uuid=low_uuid)
    events.add("a", "p", at(0), {"plan": "alpha"}, session_id="s2", uuid=high_uuid)
    events.add("b", "p", at(1), session_id="s2")
    rows = reference_rows(events)
    events.flush()
    steps = ["a", "b"]

    def by_plan(**extra):
        body = spec(project, steps, breakdown={"property": "plan", "attribution": "first_touch"}, **extra)
        return {r.value: [s.count for s in r.steps] for r in FunnelQueryRunner(project, body).run().results}

    def actor_sessions(value):
        body = {
            **spec(project, steps, breakdown={"property": "plan", "attribution": "first_touch"}).to_json(),
            "kind": "FunnelsActorsQuery",
            "step": 1,
            "breakdown_value": value,
        }
        actors = FunnelActorsQueryRunner(project, FunnelActorsSpec.from_json(body, project)).run().actors
        return [a.session_ids for a in actors]

    # strict: `alpha` is followed by `zeta`, not by `b`, so only the attempt at `zeta` converts
    expected = {"ordered": "alpha", "strict": "zeta", "unordered": "alpha"}
    for order, value in expected.items():
        assert by_plan(order=order) == {value: [1, 1]}, order
    assert actor_sessions("alpha") == [["s2"]] and actor_sessions("zeta") == []
    monkeypatch.setattr(base, "CODES", 0)  # the string-array path
    for order, value in expected.items():
        assert by_plan(order=order) == {value: [1, 1]}, order
    assert actor_sessions("alpha") == [["s2"]]

    start, end = dt.datetime(2026, 3, 1, tzinfo=dt.UTC), dt.datetime(2026, 3, 31, tzinfo=dt.UTC)
    for order, value in expected.items():
        body = spec(project, steps, breakdown={"property": "plan", "attribution": "first_touch"}, order=order)
        result = reference.funnel(rows, {}, body, start, end)
        assert [(r["breakdown_value"], [s["count"] for s in r["steps"]]) for r in result] == [
            (value, [1, 1])
        ], order


def test_exclusion_voids_a_person_entirely(project, events):
    events.add("signup", "cancelled", at(0)).add("cancel", "cancelled", at(1)).add("pay", "cancelled", at(2))
    events.add("signup", "kept", at(0)).add("pay", "kept", at(2)).add("cancel", "kept", at(3))
    events.flush()
    exclusions = [{"event": "cancel", "from_step": 0, "to_step": 1}]
    assert counts(project, ["signup", "pay"]) == [2, 2]
    assert counts(project, ["signup", "pay"], exclusions=exclusions) == [1, 1]


def test_exclusion_after_the_window_closes_does_not_void(project, events):
    events.add("signup", "slow", at(0)).add("cancel", "slow", at(90))
    events.flush()
    exclusions = [{"event": "cancel", "from_step": 0, "to_step": 1}]
    assert counts(project, ["signup", "pay"], exclusions=exclusions, window={"value": 1, "unit": "hour"}) == [
        1,
        0,
    ]
    assert counts(project, ["signup", "pay"], exclusions=exclusions, window={"value": 2, "unit": "hour"}) == [
        0,
        0,
    ]


def test_unordered_counts_steps_in_any_order(project, events):
    events.add("pay", "backwards", at(0)).add("signup", "backwards", at(1))
    events.add("signup", "forwards", at(0)).add("pay", "forwards", at(1))
    events.flush()
    assert counts(project, ["signup", "pay"]) == [2, 1]
    assert counts(project, ["signup", "pay"], order="unordered") == [2, 2]


def test_unordered_with_the_same_event_as_two_steps_needs_distinct_events(project, events):
    """Steps: any view, a pro view, pay. One pro view matches two steps but counts once."""
    pro, free = {"plan": "pro"}, {"plan": "free"}
    events.add("view", "a", at(0), pro)  # one event: 1 step
    events.add("view", "b", at(0), pro).add("view", "b", at(1), free)  # free -> step 1, pro -> step 2
    events.add("view", "c", at(0), free).add("view", "c", at(1), free).add(
        "pay", "c", at(2)
    )  # 2 free views: 1 step
    events.add("pay", "d", at(0)).add("view", "d", at(1), pro).add("view", "d", at(2), pro)
    events.add("view", "e", at(0), pro).add("view", "e", at(1), free).add(
        "pay", "e", at(3)
    )  # the pro view moves over
    events.flush()
    steps = ["view", {"event": "view", "properties": [{"key": "plan", "value": "pro"}]}, "pay"]
    result = FunnelQueryRunner(project, spec(project, steps, order="unordered")).run().results[0].steps
    assert [s.count for s in result] == [5, 4, 2]
    assert [s.average_conversion_time_seconds for s in result] == [None, 75.0, 90.0]  # c: 120 s to pay
    assert [s.median_conversion_time_seconds for s in result] == [None, 60.0, 90.0]
    assert counts(project, ["view", "view"], order="unordered") == [5, 4]
    assert counts(project, ["view", "view", "view"], order="unordered") == [5, 4, 0]
    # A filter with a list of values (not hashable): the two identical steps are one class.
    # c's free views match only "view"; d's two pro views take both paid steps.
    paid = {"event": "view", "properties": [{"key": "plan", "value": ["pro", "team"]}]}
    assert counts(project, [paid, paid, "view"], order="unordered") == [5, 3, 0]
    assert counts(project, ["view", paid], order="unordered") == [5, 3]
    dropped = FunnelActorsQueryRunner(
        project,
        FunnelActorsSpec.from_json(
            {
                "kind": "FunnelsActorsQuery",
                **RANGE,
                "steps": [{"event": "view"}] * 3,
                "order": "unordered",
                "step": 2,
                "status": "dropped",
            },
            project,
        ),
    ).run()
    assert sorted(a.distinct_ids[0] for a in dropped.actors) == ["b", "c", "d", "e"]


def test_conversion_times_average_and_exact_median(project, events):
    for i, seconds in enumerate([10, 20, 40, 60]):
        events.add("signup", f"p{i}", at(0)).add("pay", f"p{i}", at(0, seconds))
    events.flush()
    step = FunnelQueryRunner(project, spec(project, ["signup", "pay"])).run().results[0].steps[1]
    assert step.average_conversion_time_seconds == 32.5
    assert step.median_conversion_time_seconds == 30.0
    ttc = FunnelTimeToConvertRunner(project, spec(project, ["signup", "pay"])).run()
    assert ttc.total == 4 and ttc.average_seconds == 32.5 and ttc.median_seconds == 30.0
    assert sum(n for _, _, n in ttc.bins) == 4
    assert [(lo, hi) for lo, hi, _ in ttc.bins] == [(8.0, 16.0), (16.0, 32.0), (32.0, 64.0)]


def test_time_to_convert_bins_end_at_the_window(project, events):
    """A conversion exactly at a 100-second window falls in the [64, 128) bin, shown as
    64 s to 100 s: nothing can take longer."""
    events.add("signup", "edge", at(0)).add("pay", "edge", at(0, 100))
    events.add("signup", "late", at(0)).add("pay", "late", at(0, 101))
    events.flush()
    body = spec(project, ["signup", "pay"], window={"value": 100, "unit": "second"})
    ttc = FunnelTimeToConvertRunner(project, body).run()
    assert ttc.total == 1
    assert ttc.bins == [(64.0, 100.0, 1)]


def test_breakdown_by_event_property_with_attribution(project, events):
    events.add("signup", "a", at(0), {"plan": "free"}).add("pay", "a", at(1), {"plan": "pro"})
    events.add("signup", "b", at(0), {"plan": "free"})
    events.add("signup", "c", at(0)).add("pay", "c", at(1), {"plan": "pro"})
    events.flush()

    def by(attribution):
        result = FunnelQueryRunner(
            project,
            spec(project, ["signup", "pay"], breakdown={"property": "plan", "attribution": attribution}),
        ).run()
        return {r.value: [s.count for s in r.steps] for r in result.results}

    assert by(0) == {"free": [2, 1], "": [1, 1]}
    assert by(1) == {"pro": [2, 2], "": [1, 0]}
    assert by("first_touch") == {"free": [2, 1], "pro": [1, 1]}
    assert by("last_touch") == {"pro": [2, 2], "free": [1, 0]}


def test_breakdown_values_seen_before_are_checked_not_trusted(project, events, monkeypatch):
    """FunnelQueryRunner packs an event breakdown with the values the last exact lookup
    found instead of looking them up again; an event whose value is not among them makes it
    forget them and run exactly; a superset of the values packs right as it is."""
    from analytics_app import clickhouse as ch
    from funnels.queries import base

    lookups = []
    real = ch.query

    def query(sql, *args, **kwargs):
        lookups.extend(["values"] if "GROUP BY v LIMIT" in sql else [])
        return real(sql, *args, **kwargs)

    monkeypatch.setattr(ch, "query", query)

    def by():
        body = spec(project, ["signup", "pay"], breakdown={"property": "plan"})
        return {r.value: [s.count for s in r.steps] for r in FunnelQueryRunner(project, body).run().results}

    base.forget_codes(project.id, "plan")
    events.add("signup", "a", at(0), {"plan": "free"}).add("pay", "a", at(1), {"plan": "free"}).flush()
    assert by() == {"free": [1, 1]} and lookups == ["values"]  # looked up, remembered
    assert by() == {"free": [1, 1]} and lookups == ["values"]  # packed with ("free",)
    events.add("signup", "b", at(0), {"plan": "pro"}).add("signup", "c", at(0)).flush()
    assert by() == {"free": [1, 1], "pro": [1, 0], "": [1, 0]}  # "pro" and "" were unknown
    assert lookups == ["values", "values"]
    base._SEEN_CODES[(project.id, "plan")] = ("", "enterprise", "free", "pro")
    assert by() == {"free": [1, 1], "pro": [1, 0], "": [1, 0]}
    assert lookups == ["values", "values"]


def test_session_aggregation_ignores_events_without_a_session(project, events):
    events.add("signup", "a", at(0), session_id="s1").add("pay", "a", at(1), session_id="s1")
    events.add("signup", "a", at(2), session_id="s2").add("pay", "a", at(3), session_id="s3")
    events.add("signup", "b", at(0)).add("pay", "b", at(1))
    events.flush()
    assert counts(project, ["signup", "pay"], aggregate_by="session") == [2, 1]
    assert counts(project, ["signup", "pay"]) == [2, 2]


def test_actors_converted_and_dropped(project, events):
    events.add("signup", "a", at(0), session_id="sa").add("pay", "a", at(5), session_id="sa2")
    events.add("signup", "b", at(0))
    events.flush()
    s = spec(project, ["signup", "pay"])
    body = {**s.to_json(), "kind": "FunnelsActorsQuery"}
    converted = FunnelActorsQueryRunner(
        project, FunnelActorsSpec.from_json({**body, "step": 1}, project)
    ).run()
    dropped = FunnelActorsQueryRunner(
        project, FunnelActorsSpec.from_json({**body, "step": 1, "status": "dropped"}, project)
    ).run()
    assert converted.total == 1 and converted.actors[0].distinct_ids == ["a"]
    assert converted.actors[0].reached_at == at(5)
    assert converted.actors[0].session_ids == ["sa", "sa2"]
    assert converted.actors[0].session_id_at_last_step == "sa2"
    assert (
        dropped.total == 1 and dropped.actors[0].distinct_ids == ["b"] and dropped.actors[0].reached_step == 0
    )


def test_conversion_by_entry_day(project, events):
    events.add("signup", "a", T).add("pay", "a", T + dt.timedelta(minutes=1))
    events.add("signup", "b", T + dt.timedelta(days=1))
    events.flush()
    points = FunnelTrendsRunner(project, spec(project, ["signup", "pay"])).run()
    by_day = {p.day.date(): (p.entered, p.converted) for p in points if p.entered}
    assert by_day == {T.date(): (1, 1), (T + dt.timedelta(days=1)).date(): (1, 0)}
    assert len(points) == 31
