"""Funnel correlation analysis (funnels/correlation.py) == a naive Python reference.

The reference takes the funnel's partition from tests/funnels/reference.py (the
counted attempt of every person who entered), then with plain loops: each person's
window [entry, conversion time of the target step] (converted) or [entry, entry +
window] (dropped), both ends inclusive, the set of candidates in it, and the counts
per candidate. Generated data has merged identities, ties on a 15-second grid,
repeated events, steps exactly a window apart, $-events and internal noise. The statistics are checked against
hand-computed values, and a planted cause must come out first.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import math
import random
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from funnels.correlation import (
    NOISE_EVENTS,
    FunnelCorrelationSpec,
    chi_squared,
    fisher_exact,
    odds_ratio,
    rank,
)
from funnels.queries.correlation import FunnelCorrelationRunner
from tests.conftest import examples
from tests.funnels import reference as ref
from tests.funnels.conftest import DATE_FROM, DATE_TO, NAMES, datasets, generate
from tests.insights.reference import prop_text


# ------------------------------------------------------------------ reference
def reference_counts(events, persons, corr: FunnelCorrelationSpec, start, end):
    """(converted total, dropped total, {candidate: (converted with, dropped with)})."""
    spec = corr.funnel
    k = corr.target
    w = spec.window.micros
    step_names = {s.event for s in spec.steps}
    by_person: dict = {}
    for e in events:
        by_person.setdefault(e["person_id"], []).append(e)
    s_total = f_total = 0
    counts: dict[str, list[int]] = {}
    for actor in ref.actors(events, persons, spec, start, end):
        entry = actor.chain[0].ts
        success = actor.level > k
        until = actor.chain[k].ts if success else entry + w
        if success:
            s_total += 1
        else:
            f_total += 1
        found = set()
        if corr.correlation_type == "properties" and corr.property_type == "person":
            value = prop_text(persons.get(actor.person_id, {}), corr.property_key)
            if value != "":
                found.add(value)
        else:
            for e in by_person.get(actor.person_id, []):
                if not entry <= ref.micros(e["ts"]) <= until or e["event"] in NOISE_EVENTS:
                    continue
                if corr.correlation_type == "events":
                    if e["event"] in step_names or (e["event"].startswith("$") and not corr.include_internal):
                        continue
                    found.add(e["event"])
                else:
                    value = prop_text(e["props"], corr.property_key)
                    if value != "":
                        found.add(value)
        for cand in found:
            counts.setdefault(cand, [0, 0])[0 if success else 1] += 1
    return s_total, f_total, {c: tuple(v) for c, v in counts.items()}


def engine_counts(project, corr):
    sql, params = FunnelCorrelationRunner(project, corr).sql()
    s_total = f_total = 0
    counts = {}
    for cand, s, f in ch.query(sql, params).rows:
        if cand is None:
            s_total, f_total = s, f
        else:
            counts[cand] = (s, f)
    return s_total, f_total, counts


@st.composite
def correlation_bodies(draw):
    n = draw(st.integers(2, 3))
    names = [draw(st.sampled_from(NAMES[:3])) for _ in range(n)]
    body = {
        "kind": "FunnelCorrelationQuery",
        "date_from": DATE_FROM,
        "date_to": DATE_TO,
        "order": draw(st.sampled_from(["ordered", "strict", "unordered"])),
        "steps": [{"event": name} for name in names],
        "window": {"value": draw(st.sampled_from([15, 30, 60, 90, 300])), "unit": "second"},
        "target_step": draw(st.integers(1, n - 1)),
    }
    if draw(st.integers(0, 3)) == 0:
        body["steps"][0]["properties"] = [{"key": "plan", "operator": "exact", "value": "pro"}]
    if draw(st.integers(0, 3)) == 0:
        body["exclusions"] = [{"event": "other", "from_step": 0, "to_step": 1}]
    kind = draw(st.sampled_from(["events", "event", "person"]))
    if kind != "events":
        body["correlation_type"] = "properties"
        body["property_type"] = kind
        body["property"] = "plan" if kind == "event" else "tier"
    return body


@settings(
    max_examples=examples(25),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    dataset=datasets(12),
    body=correlation_bodies(),
    other=st.sampled_from(["other", "$pageview", "$identify"]),
    include_internal=st.booleans(),
)
def test_correlation_counts_match_reference(ch_project, dataset, body, other, include_internal):
    # "other" events become a $-event (kept only with include_internal) or noise (never).
    dataset = copy.deepcopy(dataset)
    for person in dataset:
        for e in person["events"]:
            if e["event"] == "other":
                e["event"] = other
    if include_internal:
        body = {**body, "include_internal": True}
    project, events, persons = generate(ch_project(), dataset)
    corr = FunnelCorrelationSpec.from_json(body, project)
    start, end = corr.funnel.date_range.resolve(project.tz)
    expected = reference_counts(events, persons, corr, start, end)
    got = engine_counts(project, corr)
    assert got == expected, (body, got, expected)
    # The people behind a count are the reference's persons.
    runner = FunnelCorrelationRunner(project, corr)
    for cand, (s, f) in list(expected[2].items())[:2]:
        assert len(runner.people("converted", cand, 1000)) == s
        assert len(runner.people("dropped", cand, 1000)) == f


# ------------------------------------------------------------------ hand-made edge cases
def _write(project, rows, persons=None, merges=()):
    """rows: (distinct_id, event, timestamp, props). Each distinct_id is its own person,
    except merges (distinct_id, into) pointing it at `into`'s person (version 2)."""
    pid = project.id

    def person(did):
        return uuid.uuid5(uuid.NAMESPACE_URL, f"{pid}/{did}")

    ch.insert(
        "events",
        {
            "uuid": [str(uuid.uuid4()) for _ in rows],
            "project_id": [pid] * len(rows),
            "event": [r[1] for r in rows],
            "distinct_id": [r[0] for r in rows],
            "person_id": [str(person(r[0])) for r in rows],
            "timestamp": [r[2] for r in rows],
            "properties": [json.dumps(r[3] if len(r) > 3 else {}) for r in rows],
            "session_id": [""] * len(rows),
        },
    )
    dids = sorted({r[0] for r in rows})
    mapping = [(d, person(d), 1) for d in dids] + [(d, person(into), 2) for d, into in merges]
    ch.insert(
        "person_distinct_ids",
        {
            "project_id": [pid] * len(mapping),
            "distinct_id": [m[0] for m in mapping],
            "person_id": [str(m[1]) for m in mapping],
            "version": [m[2] for m in mapping],
        },
    )
    persons = persons or {}
    if persons:
        ch.insert(
            "persons",
            {
                "project_id": [pid] * len(persons),
                "id": [str(person(d)) for d in persons],
                "created_at": [T0] * len(persons),
                "properties": [json.dumps(v) for v in persons.values()],
                "version": [1] * len(persons),
            },
        )


T0 = dt.datetime(2026, 3, 1, 12, tzinfo=dt.UTC)


def _corr(project, **extra):
    body = {
        "kind": "FunnelCorrelationQuery",
        "date_from": "2026-03-01",
        "date_to": "2026-03-02",
        "steps": [{"event": "signup"}, {"event": "paid"}],
        "window": {"value": 1, "unit": "hour"},
        **extra,
    }
    return FunnelCorrelationSpec.from_json(body, project)


def test_window_bounds_ties_and_merged_identities(ch_project):
    project = ch_project()
    h = dt.timedelta(hours=1)
    s = dt.timedelta(seconds=1)
    _write(
        project,
        [
            # converted: x at entry (counts), y at conversion time (counts), z after it (not)
            ("p1", "signup", T0),
            ("p1", "x", T0),
            ("p1", "paid", T0 + 10 * s),
            ("p1", "y", T0 + 10 * s),
            ("p1", "z", T0 + 11 * s),
            ("p1", "x", T0 + 5 * s),  # repeated: one person once
            # dropped: y exactly at entry + window (counts), z a second later (not)
            ("p2", "signup", T0),
            ("p2", "y", T0 + h),
            ("p2", "z", T0 + h + s),
            # dropped, merged: "x" done under a second distinct_id later merged into p3
            ("p3", "signup", T0),
            ("p3anon", "x", T0 + 2 * s),
            ("p3", "$identify", T0 + 3 * s),
            # before the entry: not counted
            ("p4", "x", T0 - s),
            ("p4", "signup", T0),
        ],
        merges=[("p3anon", "p3")],
    )
    corr = _corr(project)
    s_total, f_total, counts = engine_counts(project, corr)
    assert (s_total, f_total) == (1, 3)
    assert counts == {"x": (1, 1), "y": (1, 1)}  # $identify is noise, z outside every window


def test_statistics_by_hand():
    # [[3, 1], [1, 3]]: p = (C(4,3)C(4,1)*2 + 2) / C(8,4) = 34/70
    assert fisher_exact(3, 1, 1, 3) == pytest.approx(34 / 70)
    assert fisher_exact(0, 0, 5, 5) == 1.0
    assert fisher_exact(10, 0, 0, 10) == pytest.approx(2 / math.comb(20, 10))
    # chi2 = 100 * (40*40 - 10*10)^2 / (50^4) = 36 -> p = erfc(sqrt(18))
    assert chi_squared(40, 10, 10, 40) == pytest.approx(math.erfc(math.sqrt(18)))
    # ((s_with+1)/(f_with+1)) / ((s_without+1)/(f_without+1)) with 9 of 10 converted
    # persons and 1 of 10 dropped ones having it.
    assert odds_ratio(9, 1, 10, 10) == pytest.approx((10 / 2) / (2 / 10))
    positive, negative = rank({"a": (9, 1), "b": (1, 9), "c": (5, 5)}, 10, 10, 10)
    assert [c.candidate for c in positive] == ["a"]
    assert [c.candidate for c in negative] == ["b"]
    assert positive[0].significant and negative[0].significant


def test_bad_input_is_refused(ch_project):
    project = ch_project()
    with pytest.raises(BadRequest) as exc:
        _corr(project, correlation_type="properties", target_step=5, top=0)
    assert set(exc.value.errors) >= {"property", "target_step", "top"}
    with pytest.raises(BadRequest) as exc:
        _corr(project, aggregate_by="session")
    assert "aggregate_by" in exc.value.errors


# ------------------------------------------------------------------ planted causes
def planted_dataset(project, persons=400, seed=7):
    """Persons who sign up; `viewed_pricing_faq` (and plan=pro) raise the chance to pay,
    `error_shown` lowers it; a dozen noise events and a noise property do not."""
    rng = random.Random(seed)
    rows, props = [], {}
    noise = [f"noise_{i}" for i in range(12)]
    for p in range(persons):
        did = f"u{p}"
        t = T0 + dt.timedelta(minutes=p % 300)
        faq = rng.random() < 0.3
        err = rng.random() < 0.3
        pro = rng.random() < 0.3
        props[did] = {"plan": "pro" if pro else "free", "color": rng.choice(["red", "green", "blue"])}
        rows.append((did, "signup", t))
        if faq:
            rows.append((did, "viewed_pricing_faq", t + dt.timedelta(seconds=5)))
        if err:
            rows.append((did, "error_shown", t + dt.timedelta(seconds=6)))
        for name in rng.sample(noise, 4):
            rows.append((did, name, t + dt.timedelta(seconds=7), {"color": rng.choice(["a", "b"])}))
        chance = 0.25 + (0.5 if faq else 0) - (0.2 if err else 0) + (0.15 if pro else 0)
        if rng.random() < chance:
            rows.append((did, "paid", t + dt.timedelta(seconds=30)))
    _write(project, rows, persons=props)


def test_planted_event_causes_rank_first(ch_project):
    project = ch_project()
    planted_dataset(project)
    result = FunnelCorrelationRunner(project, _corr(project)).run()
    assert result.positive[0].candidate == "viewed_pricing_faq"
    assert result.positive[0].significant
    assert result.negative[0].candidate == "error_shown"
    assert result.negative[0].significant
    noise_significant = [
        c for c in result.positive + result.negative if c.candidate.startswith("noise_") and c.p_value < 0.001
    ]
    assert noise_significant == []


def test_planted_person_property_ranks_first(ch_project):
    project = ch_project()
    planted_dataset(project)
    corr = _corr(project, correlation_type="properties", property="plan", property_type="person")
    result = FunnelCorrelationRunner(project, corr).run()
    assert result.positive[0].candidate == "pro"
    assert result.negative[0].candidate == "free"
    assert result.success_total + result.failure_total == 400
