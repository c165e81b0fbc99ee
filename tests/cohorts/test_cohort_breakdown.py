"""Breakdown by cohorts in trends and funnels, against a deliberately simple Python
reference: persons in two overlapping cohorts (a static list and a behavioral
definition), merged identities (events that carry a stale person), and "all users".
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_app.errors import BadRequest
from analytics_app.models import Project
from cohorts.definitions import parse_csv
from funnels.queries import FunnelActorsQueryRunner, FunnelQueryRunner
from funnels.spec import FunnelActorsSpec, FunnelSpec
from tests.cohorts.test_cohorts import NOW, make_cohort
from tests.conftest import EventBuilder, examples
from trends.queries import TrendsPersonsQueryRunner, TrendsQueryRunner
from trends.spec import TrendsSpec

pytestmark = pytest.mark.django_db

DIDS = [f"d{i}" for i in range(6)]
BUYERS = {
    "match": "all",
    "groups": [
        {
            "match": "all",
            "criteria": [
                {"type": "performed_event", "event": "buy", "operator": "gte", "count": 1, "days": 30}
            ],
        }
    ],
}
DAYS = [dt.date(2026, 6, 24) + dt.timedelta(days=i) for i in range(7)]  # 06-24 .. 06-30


def build(project, rows, merges, listed):
    """Write the events; returns (events as (event, current person, ts), static members,
    buyers) as the reference sees them."""
    builder = EventBuilder(project.id)
    for did in DIDS:
        builder.person_for(did)
    raw = []
    for r in rows:
        ts = dt.datetime.combine(DAYS[r["day"]], dt.time(r["hour"]), tzinfo=dt.UTC)
        builder.add(r["event"], r["did"], ts)
        raw.append((r["event"], r["did"], ts))
    for did, into in merges:  # after the events: those events carry a stale person
        builder.merge(did, into)
    builder.add("seen", "d0", NOW - dt.timedelta(days=40))  # keeps flush() writing the mapping
    builder.flush()
    persons = dict(builder.persons)
    events = [(e, persons[did], ts) for e, did, ts in raw]
    static = make_cohort(
        project,
        parse_csv(("distinct_id\n" + "\n".join(listed) + "\n").encode()),
        kind="static",
        name="Listed",
    )
    buyers = make_cohort(project, BUYERS, name="Buyers")
    ref_static = {persons[d] for d in listed}
    ref_buyers = {p for e, p, ts in events if e == "buy" and NOW - dt.timedelta(days=30) <= ts < NOW}
    return events, static, buyers, ref_static, ref_buyers


def ref_trends(events, members, math):
    """Per day of DAYS: count of views by members (total) or distinct members (dau)."""
    out = []
    for day in DAYS:
        mine = [p for e, p, ts in events if e == "view" and ts.date() == day and p in members]
        out.append(len(mine) if math == "total" else len(set(mine)))
    total_rows = [p for e, p, ts in events if e == "view" and p in members]
    return out, (len(total_rows) if math == "total" else len(set(total_rows)))


def ref_funnel(events, members):
    """Ordered signup -> pay within the 14-day window: persons reaching each step."""
    reached = [0, 0]
    for person in members:
        mine = sorted((ts, e) for e, p, ts in events if p == person)
        signups = [ts for ts, e in mine if e == "signup"]
        if not signups:
            continue
        reached[0] += 1
        first = signups[0]
        if any(e == "pay" and first < ts <= first + dt.timedelta(days=14) for ts, e in mine):
            reached[1] += 1
    return reached


row = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["view", "buy", "signup", "pay"]),
        "did": st.sampled_from(DIDS),
        "day": st.integers(0, 6),
        "hour": st.integers(0, 23),
    }
)


@settings(
    max_examples=examples(15),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(row, max_size=30),
    merges=st.lists(st.tuples(st.sampled_from(["d0", "d1"]), st.sampled_from(["d4", "d5"])), max_size=2),
    listed=st.lists(st.sampled_from(DIDS), min_size=1, max_size=4, unique=True),
)
def test_cohort_breakdown_matches_the_reference(ch_project, rows, merges, listed):
    project = Project.objects.create(pk=ch_project().pk, name="breakdown ref")
    events, static, buyers, ref_static, ref_buyers = build(project, rows, merges, listed)
    everyone = {p for _, p, _ in events}
    groups = [(static, ref_static), (buyers, ref_buyers)]
    breakdown = {"type": "cohort", "cohorts": [static.pk, buyers.pk, "all"]}
    for math in ("total", "dau"):
        spec = TrendsSpec.from_json(
            {
                "series": [{"event": "view", "math": math}],
                "date_from": "2026-06-24",
                "date_to": "2026-06-30",
                "breakdown": breakdown,
            },
            project,
        )
        result = TrendsQueryRunner(project, spec, now=NOW).run()
        got = [(s.breakdown_label, s.data, s.total) for s in result.series]
        want = [(c.name, *ref_trends(events, members, math)) for c, members in groups]
        want.append(("All users", *ref_trends(events, everyone, math)))
        assert got == want, math
    funnel = FunnelSpec.from_json(
        {
            "date_from": "2026-06-24",
            "date_to": "2026-06-30",
            "steps": [{"event": "signup"}, {"event": "pay"}],
            "window": {"value": 14, "unit": "day"},
            "breakdown": breakdown,
        },
        project,
    )
    result = FunnelQueryRunner(project, funnel, engine="arrays").run()
    got = [(r.label, [s.count for s in r.steps]) for r in result.results]
    want = [(c.name, ref_funnel(events, members)) for c, members in groups]
    want.append(("All users", ref_funnel(events, everyone)))
    assert got == want


def test_cohort_breakdown_labels_drill_down_and_json(project, events):
    day = dt.datetime(2026, 6, 29, 10, tzinfo=dt.UTC)
    for did in ("a", "b", "c"):
        events.add("view", did, day).add("signup", did, day)
    events.add("pay", "a", day + dt.timedelta(hours=1))
    events.add("buy", "a", day).add("buy", "b", day)
    events.flush()
    buyers = make_cohort(project, BUYERS, name="Buyers")
    listed = make_cohort(project, parse_csv(b"distinct_id\na\nc\n"), kind="static", name="Listed")
    spec = TrendsSpec.from_json(
        {
            "series": [{"event": "view", "math": "dau"}],
            "date_from": "2026-06-29",
            "date_to": "2026-06-30",
            "breakdown": {"type": "cohort", "cohorts": [buyers.pk, listed.pk]},
        },
        project,
    )
    assert spec.to_json()["breakdown"] == {"type": "cohort", "cohorts": [buyers.pk, listed.pk]}
    assert TrendsSpec.from_json(spec.to_json(), project) == spec
    result = TrendsQueryRunner(project, spec, now=NOW).run()
    items = result.to_json(None)["results"]
    assert [(i["label"], i["breakdown_value"], i["total"]) for i in items] == [
        ("view (dau) · Buyers", "Buyers", 2),
        ("view (dau) · Listed", "Listed", 2),
    ]
    drill = TrendsPersonsQueryRunner(project, spec, 0, result.series[0].dates[0], breakdown_index=1).run()
    assert {p.distinct_id for p in drill.persons} == {"a", "c"}
    with pytest.raises(BadRequest):
        TrendsPersonsQueryRunner(project, spec, 0, result.series[0].dates[0], breakdown_index=-1).run()

    funnel = FunnelSpec.from_json(
        {
            "date_from": "2026-06-29",
            "date_to": "2026-06-30",
            "steps": [{"event": "signup"}, {"event": "pay"}],
            "breakdown": {"type": "cohort", "cohorts": [listed.pk, buyers.pk]},
        },
        project,
    )
    payload = FunnelQueryRunner(project, funnel).run().to_json(None)
    rows = [
        (r["breakdown_value"], r["breakdown_key"], [s["count"] for s in r["steps"]])
        for r in payload["results"]
    ]
    assert rows == [("Listed", str(listed.pk), [2, 1]), ("Buyers", str(buyers.pk), [2, 1])]
    actors = FunnelActorsSpec.from_json(
        {
            **funnel.to_json(),
            "kind": "FunnelsActorsQuery",
            "step": 1,
            "status": "dropped",
            "breakdown_value": str(buyers.pk),
        },
        project,
    )
    assert {a.distinct_ids[0] for a in FunnelActorsQueryRunner(project, actors).run().actors} == {"b"}


def test_a_deleted_cohort_in_a_breakdown_is_a_clear_error(project):
    spec = TrendsSpec.from_json(
        {"series": [{"event": "view"}], "breakdown": {"type": "cohort", "cohorts": [987654]}}, project
    )
    with pytest.raises(BadRequest) as caught:
        TrendsQueryRunner(project, spec).run()
    assert "987654" in str(caught.value.errors)
    for bad in ({"type": "cohort", "cohorts": []}, {"type": "cohort", "cohorts": ["x"]}):
        with pytest.raises(BadRequest):
            TrendsSpec.from_json({"series": [{"event": "view"}], "breakdown": bad}, project)
        with pytest.raises(BadRequest):
            FunnelSpec.from_json({"steps": [{"event": "a"}, {"event": "b"}], "breakdown": bad}, project)
