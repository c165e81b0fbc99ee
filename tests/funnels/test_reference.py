"""ClickHouse funnels == the brute-force Python reference, on generated event sets.

Each hypothesis example draws a data set (1 to 20 persons of 1 to 9 events, merged
identities, ties on a 15-second grid, events before the range and after its end),
writes it into one fresh project and, for each of
SPECS_PER_DATA specs on it, compares every
step count, average and exact median conversion time per breakdown value, and the
actors behind one step, for all three orders (each also with the same event as two
steps, with equal or different filters), windows down to a second, exclusions,
breakdowns with every attribution, and person / session / property aggregation.
"""

from __future__ import annotations

import os
from unittest import mock

import pytest
from hypothesis import HealthCheck, currently_in_test_context, event, given, settings, target
from hypothesis import strategies as st

from funnels.queries import FunnelActorsQueryRunner, FunnelQueryRunner, windowfunnel_eligible
from funnels.spec import FunnelActorsSpec, FunnelSpec
from tests.conftest import examples
from tests.funnels import reference as ref
from tests.funnels.conftest import DATE_FROM, DATE_TO, MISSING, NAMES, datasets, generate

# Each test twice: every funnel over `events`, then over `funnel_events` wherever the spec
# allows (conftest.funnel_source).
pytestmark = pytest.mark.usefixtures("funnel_source")

FILTERS = [
    None,
    {"key": "plan", "operator": "exact", "value": "pro"},
    {"key": "plan", "operator": "is_not", "value": "free"},
    {"key": "tier", "operator": "exact", "value": "gold", "type": "person"},
]


@st.composite
def specs(
    draw, order=None, windowfunnel=False, repeated=False, max_steps=4, distinct=False, exclusions=False
):
    order = order or draw(st.sampled_from(["ordered", "strict", "unordered"]))
    n = draw(st.integers(3 if distinct else 2, max_steps))
    if windowfunnel or distinct or (order == "unordered" and not repeated and draw(st.booleans())):
        names = draw(st.permutations(NAMES))[:n]  # pairwise different step events
    else:
        names = [draw(st.sampled_from(NAMES[:3])) for _ in range(n)]
        if repeated:
            names[draw(st.integers(1, n - 1))] = names[0]
    steps = []
    for name in names:
        f = draw(st.sampled_from(FILTERS))
        steps.append({"event": name, **({"properties": [f]} if f else {})})
    body = {
        "kind": "FunnelsQuery",
        "date_from": DATE_FROM,
        "date_to": DATE_TO,
        "order": order,
        "steps": steps,
        "window": {"value": draw(st.sampled_from([1, 15, 30, 60, 90, 300, 600])), "unit": "second"},
    }
    if draw(st.booleans()):
        body["window"] = draw(
            st.sampled_from(
                [{"value": 1, "unit": "minute"}, {"value": 5, "unit": "minute"}, {"value": 1, "unit": "hour"}]
            )
        )
    if not windowfunnel and (exclusions or draw(st.integers(0, 2)) == 0):
        exclusions = []
        for _ in range(draw(st.integers(1, 2))):
            a = draw(st.integers(0, n - 2))
            b = draw(st.integers(a + 1, n - 1))
            exclusions.append(
                {"event": draw(st.sampled_from(NAMES + ["other"])), "from_step": a, "to_step": b}
            )
        body["exclusions"] = exclusions
    roll = draw(st.integers(0, 3))
    if roll == 1 and not windowfunnel:
        attribution = draw(st.sampled_from([0, n - 1, 1, "first_touch", "last_touch"]))
        body["breakdown"] = {
            "property": "plan",
            "type": "event",
            "attribution": attribution,
            "limit": draw(st.integers(1, 3)),
        }
    elif roll == 2:
        body["breakdown"] = {"property": "tier", "type": "person", "limit": draw(st.integers(1, 3))}
    body["aggregate_by"] = draw(st.sampled_from(["person", "person", "session", {"property": "org"}]))
    if draw(st.integers(0, 4)) == 0:
        body["properties"] = [draw(st.sampled_from(FILTERS[1:]))]
    if windowfunnel:
        body["conversion_times"] = False
    return body


def compare(project, events, persons, body, engine="arrays"):
    spec = FunnelSpec.from_json(body, project)
    start, end = spec.date_range.resolve(project.tz)
    expected = ref.funnel(events, persons, spec, start, end)
    result = FunnelQueryRunner(project, spec, engine=engine).run()
    assert result.engine == engine
    got = [
        {
            "breakdown_value": r.value,
            "steps": [
                {
                    "count": s.count,
                    "average": s.average_conversion_time_seconds,
                    "median": s.median_conversion_time_seconds,
                }
                for s in r.steps
            ],
        }
        for r in result.results
    ]
    if not expected and spec.breakdown is None:
        expected = [
            {
                "breakdown_value": None,
                "steps": [{"count": 0, "average": None, "median": None}] * len(spec.steps),
            }
        ]
    if not spec.conversion_times:
        for row in expected:
            for s in row["steps"]:
                s["average"] = s["median"] = None
    assert _same(got, expected), (body, got, expected)
    if currently_in_test_context():  # not in the hand-written cases
        event(f"someone converted: {converted(expected) > 0}")
        event(f"breakdown values: {min(len(expected), 3) if spec.breakdown is not None else None}")
    return spec, start, end, expected


def converted(expected) -> int:
    return sum(row["steps"][-1]["count"] for row in expected)


def _same(got, expected) -> bool:
    if len(got) != len(expected):
        return False
    for g, e in zip(got, expected, strict=True):
        if g["breakdown_value"] != e["breakdown_value"]:
            return False
        for gs, es in zip(g["steps"], e["steps"], strict=True):
            if gs["count"] != es["count"]:
                return False
            for key in ("average", "median"):
                if (gs[key] is None) != (es[key] is None):
                    return False
                if gs[key] is not None and abs(gs[key] - es[key]) > 1e-6:
                    return False
    return True


# Each example checks SPECS_PER_DATA specs against one generated data set (writing the
# data set costs about as much as one query), so the default 30 examples compare 60
# (spec, data set) pairs per test, as many as the earlier one-spec-per-example runs.
SPECS_PER_DATA = 2
SETTINGS = settings(
    max_examples=int(os.environ.get("FUNNEL_EXAMPLES", 0)) or examples(30),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def check_actors(project, events, persons, body, spec, start, end, expected, pick, step, dropped):
    n = len(spec.steps)
    status = "dropped" if dropped and step % n >= 1 else "converted"
    k = step % n
    actors_body = {**body, "kind": "FunnelsActorsQuery", "step": k, "status": status, "limit": 1000}
    value = None
    if spec.breakdown is not None and expected:
        value = expected[pick % len(expected)]["breakdown_value"]
        actors_body["breakdown_value"] = value
    actors_spec = FunnelActorsSpec.from_json(actors_body, project)
    got = FunnelActorsQueryRunner(project, actors_spec, with_persons=False).run()
    keys = {
        (a.person_id,) if spec.aggregate_by.kind == "person" else (a.person_id, a.aggregation_value)
        for a in got.actors
    }
    want = {
        tuple(str(x) for x in key)
        for key in ref.actors_at(events, persons, spec, start, end, k, status, value)
    }
    assert keys == want, (actors_body, keys ^ want)
    assert got.total == len(want)
    # Each actor's counted attempt: its last step's time and its sessions.
    by_key = {tuple(str(x) for x in a.key): a for a in ref.actors(events, persons, spec, start, end)}
    for a in got.actors:
        r = by_key[
            (a.person_id,) if spec.aggregate_by.kind == "person" else (a.person_id, a.aggregation_value)
        ]
        sessions = list(dict.fromkeys(e.session_id for e in r.chain if e.session_id))
        assert (a.reached_step, ref.micros(a.reached_at), a.session_ids, a.session_id_at_last_step) == (
            r.level - 1,
            r.chain[-1].ts,
            sessions,
            r.chain[-1].session_id or None,
        ), (actors_body, a)


def drill_cases(spec_strategy, max_step: int = 4):
    """SPECS_PER_DATA cases of (funnel body, drill-down step, dropped?, breakdown value
    pick) for compare_with_actors."""
    return st.lists(
        st.tuples(spec_strategy, st.integers(0, max_step), st.booleans(), st.integers(0, 7)),
        min_size=SPECS_PER_DATA,
        max_size=SPECS_PER_DATA,
    )


def compare_with_actors(project, events, persons, case):
    """compare() one drawn case, then check_actors() its drill-down; the expected result."""
    body, step, dropped, pick = case
    spec, start, end, expected = compare(project, events, persons, body)
    check_actors(project, events, persons, body, spec, start, end, expected, pick, step, dropped)
    return expected


@SETTINGS
@given(
    cases=drill_cases(specs(), 3),
    dataset=datasets(),
)
def test_funnels_match_the_reference(ch_project, cases, dataset):
    project, events, persons = generate(ch_project(), dataset)
    reached_the_end = 0
    for case in cases:
        expected = compare_with_actors(project, events, persons, case)
        reached_the_end += converted(expected)
    target(reached_the_end, label="actors reaching the last step")  # steer toward conversions


@settings(SETTINGS, max_examples=int(os.environ.get("FUNNEL_EXAMPLES", 0)) or examples(15))
@given(
    cases=drill_cases(specs(order="unordered", repeated=True, max_steps=6), 5),
    dataset=datasets(),
)
def test_both_forms_of_the_unordered_matching_match_the_reference(ch_project, cases, dataset):
    """Steps sharing an event name: the per-event closed form (unordered._hall_layers)
    and the arrayFold's per-attempt chains it replaces where its arrays stay few
    (HALL_MAX_FILLS) each give the reference's counts, conversion times, breakdown values
    and actors, up to 6 steps of one event name with different filters (one event may
    match several steps: each step still needs an event of its own)."""
    project, events, persons = generate(ch_project(), dataset)
    reached_the_end = 0
    for case in cases:
        for limit in (0, 10**6):  # 0: the arrayFold for every group; 10**6: the closed form
            with mock.patch("funnels.queries.unordered.HALL_MAX_FILLS", limit):
                expected = compare_with_actors(project, events, persons, case)
        reached_the_end += converted(expected)
    target(reached_the_end, label="actors reaching the last step")  # steer toward conversions


@SETTINGS
@given(
    cases=drill_cases(specs(order="ordered", max_steps=5), 4),
    dataset=datasets(),
)
def test_both_forms_of_the_ordered_walk_match_the_reference(ch_project, cases, dataset):
    """Ordered funnels: the chains filled back from the last step (ordered.chain_fill_layers)
    and the counts of attempts used above CHAIN_FILL_MAX_STEPS each give the reference's
    counts, conversion times, breakdown values and actors (exclusions from any step)."""
    project, events, persons = generate(ch_project(), dataset)
    for case in cases:
        for limit in (0, 20):  # 0: counts of attempts for every funnel; 20: the fills
            with mock.patch("funnels.queries.ordered.CHAIN_FILL_MAX_STEPS", limit):
                compare_with_actors(project, events, persons, case)


@SETTINGS
@given(
    cases=drill_cases(specs(order="unordered", distinct=True, exclusions=True), 4),
    dataset=datasets(),
)
def test_unordered_funnels_with_exclusions_match_the_reference(ch_project, cases, dataset):
    """A different event name per step, with exclusions: the attempt's kept events sorted
    per attempt by the sorting network (unordered.sorting_network) decide the void check,
    the counted attempt's own sort (step_at) its times, actors and breakdown values."""
    project, events, persons = generate(ch_project(), dataset)
    for case in cases:
        compare_with_actors(project, events, persons, case)


@SETTINGS
@given(
    cases=drill_cases(specs(order="unordered", repeated=True, exclusions=True, max_steps=5), 4),
    dataset=datasets(),
)
def test_unordered_funnels_sharing_an_event_name_with_exclusions_match_the_reference(
    ch_project, cases, dataset
):
    """Steps sharing an event name, with exclusions (the per-event closed form): the
    candidates sorted per attempt by the sorting network and the exclusion value carried
    with each decide the void check; the counted attempt's positions its actors."""
    project, events, persons = generate(ch_project(), dataset)
    for case in cases:
        compare_with_actors(project, events, persons, case)


def test_the_void_check_reads_an_attempts_steps_in_time_order(ch_project):
    """Unordered, steps a, a, b (a shared name) and an exclusion c between steps 2 and 3:
    the attempt starting at a@0 keeps a@0, b@15s, a@45s, so its steps 2 and 3 are b and
    the second a, with c@30s between them: void. Its candidates in step order (the
    group's two a's, then b) are not in time order: a void check reading them unsorted
    (not through the sorting network) would count it as converted. The property tests
    rarely draw this shape."""
    events = [("a", 0), ("b", 1), ("c", 2), ("a", 3)]
    dataset = [
        {
            "second_id": False,
            "tier": None,
            "events": [
                {
                    "second_id": False,
                    "event": name,
                    "tick": tick,
                    "half_second": False,
                    "plan": MISSING,
                    "org": MISSING,
                    "session": "s1",
                    "tiebreak": 0,
                }
                for name, tick in events
            ],
        }
    ]
    project, ref_events, persons = generate(ch_project(), dataset)
    body = {
        "kind": "FunnelsQuery",
        "date_from": DATE_FROM,
        "date_to": DATE_TO,
        "order": "unordered",
        "steps": [{"event": "a"}, {"event": "a"}, {"event": "b"}],
        "window": {"value": 10, "unit": "minute"},
        "exclusions": [{"event": "c", "from_step": 1, "to_step": 2}],
    }
    *_, expected = compare(project, ref_events, persons, body)
    assert [s["count"] for s in expected[0]["steps"]] == [1, 1, 0]


@SETTINGS
@given(
    bodies=st.lists(
        specs(order="ordered", windowfunnel=True), min_size=SPECS_PER_DATA, max_size=SPECS_PER_DATA
    ),
    dataset=datasets(),
)
def test_windowfunnel_engine_matches_the_reference_where_auto_uses_it(ch_project, bodies, dataset):
    project, events, persons = generate(ch_project(), dataset)
    reached_the_end = 0
    for body in bodies:
        spec = FunnelSpec.from_json(body, project)
        assert windowfunnel_eligible(spec)
        assert FunnelQueryRunner(project, spec).engine == "windowfunnel"
        compare(project, events, persons, body, engine="windowfunnel")
        *_, expected = compare(project, events, persons, body, engine="arrays")
        reached_the_end += converted(expected)
    target(reached_the_end, label="actors reaching the last step")


@SETTINGS
@given(
    cases=drill_cases(specs(), 3),
    dataset=datasets(),
)
def test_event_breakdowns_as_string_arrays_match_the_reference(ch_project, cases, dataset):
    """The same as test_funnels_match_the_reference with the breakdown never packed into
    the sort key (CODES = 0: the path of a breakdown with more than 127 values)."""
    from funnels.queries import base

    project, events, persons = generate(ch_project(), dataset)
    with mock.patch.object(base, "CODES", 0):
        for body, step, dropped, pick in cases:
            body = {**body, "breakdown": {**body.get("breakdown", {}), "property": "plan", "type": "event"}}
            body["breakdown"].setdefault("attribution", "first_touch")
            compare_with_actors(project, events, persons, (body, step, dropped, pick))
