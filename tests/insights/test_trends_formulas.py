"""Trends formulas and displays against independent Python references.

- the formula parser: generated expressions rendered as text, evaluated by trends/formula.py
  and by Python itself (the reference; a ZeroDivisionError anywhere means "no value")
- formulas per bucket and per breakdown value on generated events (the runner), against
  brute-force counts
- cumulative, moving average, bold number and pie computed from the runner's result
- the incomplete current bucket and the round trip of the new spec fields
"""

from __future__ import annotations

import datetime as dt
import math

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_app.errors import BadRequest
from governance.presenter import Presenter
from tests.conftest import EventBuilder, examples
from trends import charts
from trends.formula import FormulaError, evaluate, parse
from trends.queries import TrendsQueryRunner
from trends.spec import TrendsSpec

START = dt.date(2026, 5, 1)
DAYS = 6


# ---------------------------------------------------------------- parser
def expressions(n_series: int):
    leaves = st.one_of(
        st.integers(min_value=0, max_value=9).map(str),
        st.sampled_from(["0.5", "2.25", ".5"]),
        st.sampled_from("ABCD"[:n_series]),
    )

    def extend(children):
        return st.one_of(
            st.tuples(children, st.sampled_from(["+", "-", "*", "/"]), children).map(
                lambda t: f"{t[0]} {t[1]} {t[2]}"
            ),
            children.map(lambda c: f"({c})"),
            children.map(lambda c: f"-{c}" if not c.startswith("-") else f"-({c})"),
        )

    return st.recursive(leaves, extend, max_leaves=8)


def python_reference(text: str, values: list[float]) -> float | None:
    names = dict(zip("ABCD", values, strict=False))
    try:
        out = eval(text, {"__builtins__": {}}, names)  # noqa: S307 - the test's reference only
    except ZeroDivisionError:
        return None
    return float(out) if math.isfinite(out) else None


@settings(max_examples=examples(400), deadline=None)
@given(
    text=expressions(4),
    values=st.lists(st.integers(min_value=-3, max_value=5).map(float), min_size=4, max_size=4),
)
def test_formula_matches_python(text, values):
    got = evaluate(parse(text, 4), values)
    want = python_reference(text, values)
    if want is None:
        assert got is None
    else:
        assert got == pytest.approx(want, rel=1e-9, abs=1e-9)


@pytest.mark.parametrize(
    ("text", "values", "want"),
    [
        ("A/B", [6, 3], 2.0),
        ("A/B", [6, 0], None),
        ("(A-B)/A*100", [4, 1], 75.0),
        ("A - B - 1", [10, 3], 6.0),
        ("A/B/2", [8, 2], 2.0),
        ("-A+B*2", [1, 3], 5.0),
        ("a/b", [1, 4], 0.25),
        ("A/(B-B)", [1, 2], None),
        ("A + 0*(B/0)", [1, 2], None),  # a gap anywhere is a gap
    ],
)
def test_formula_examples(text, values, want):
    assert evaluate(parse(text, 2), values) == want


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "empty"),
        ("A/", "ends too early"),
        ("A/C", "C at position 3 is not a series (use A to B)"),
        ("(A+B", "expected ) at the end"),
        ("A B", "unexpected 'B' at position 3"),
        ("A ** B", "unexpected '*' at position 4"),
        ("__import__('os')", "unexpected '_'"),
        ("A" + "+A" * 200, "at most 200 characters"),
    ],
)
def test_invalid_formulas_say_why(text, reason):
    with pytest.raises(FormulaError, match=None) as err:
        parse(text, 2)
    assert reason in str(err.value)
    if not text:
        return  # an empty formula field means no formula
    with pytest.raises(BadRequest) as bad:
        TrendsSpec.from_json({"series": [{"event": "a"}, {"event": "b"}], "formula": text})
    assert reason in bad.value.errors["formula"]


# ---------------------------------------------------------------- spec round trip
def test_new_fields_round_trip_and_old_specs_load_unchanged():
    old = {
        "kind": "TrendsQuery",
        "date_from": "-7d",
        "interval": "day",
        "series": [{"event": "a", "math": "total"}],
        "display": "line",
    }
    assert TrendsSpec.from_json(old).to_json() == old  # nothing new is written for an old spec
    new = {
        **old,
        "series": [{"event": "a", "math": "total"}, {"event": "b", "math": "dau"}],
        "display": "moving_average",
        "formula": "(A-B)/A*100",
        "show_series": True,
        "window": 3,
        "number": "last",
    }
    spec = TrendsSpec.from_json(new)
    assert spec.to_json() == new and TrendsSpec.from_json(spec.to_json()) == spec
    for bad in ({"window": 0}, {"window": "3"}, {"number": "first"}, {"show_series": "yes"}, {"formula": 3}):
        with pytest.raises(BadRequest):
            TrendsSpec.from_json({**new, **bad})


# ---------------------------------------------------------------- runner + formula + displays
row = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["view", "buy"]),
        "did": st.sampled_from([f"d{i}" for i in range(4)]),
        "day": st.integers(min_value=0, max_value=DAYS - 1),
        "browser": st.sampled_from(["Chrome", "Safari", "Firefox"]),
    }
)


def reference_counts(rows, event, browser=None):
    """(per day, total) count of `event` (of one breakdown value)."""
    keep = [r for r in rows if r["event"] == event and (browser is None or r["browser"] == browser)]
    data = [sum(1 for r in keep if r["day"] == d) for d in range(DAYS)]
    return data, len(keep)


def reference_formula(text, columns):
    return [python_reference(text, list(map(float, values))) for values in zip(*columns, strict=True)]


@settings(max_examples=examples(25), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(row, min_size=0, max_size=30),
    formula=st.sampled_from(["A/B", "(A-B)/A*100", "A-B", "A*2 + B/4"]),
    breakdown=st.booleans(),
    window=st.integers(min_value=1, max_value=4),
)
def test_formula_and_displays_match_the_reference(ch_project, rows, formula, breakdown, window):
    project = ch_project()
    builder = EventBuilder(project.id)
    for i, r in enumerate(rows):
        ts = dt.datetime.combine(START + dt.timedelta(days=r["day"]), dt.time(), tzinfo=dt.UTC)
        builder.add(r["event"], r["did"], ts + dt.timedelta(seconds=i), {"$browser": r["browser"]})
    builder.flush()
    body = {
        "series": [{"event": "view"}, {"event": "buy"}],
        "date_from": START.isoformat(),
        "date_to": (START + dt.timedelta(days=DAYS - 1)).isoformat(),
        "formula": formula,
        "window": window,
    }
    if breakdown:
        body["breakdown"] = {"property": "$browser", "limit": 10}
    spec = TrendsSpec.from_json(body)
    result = TrendsQueryRunner(project, spec).run()
    payload = result.to_json(Presenter.unrestricted())

    # The series are unchanged by the formula (alerts and other readers use "results").
    assert all(r["series_index"] in (0, 1) for r in payload["results"])
    got = {r["breakdown_value"]: r for r in payload["formula_results"]}
    if breakdown:
        values = sorted({r["browser"] for r in rows if r["event"] in ("view", "buy")})
        assert sorted(got) == values
    else:
        values = [None]
        assert list(got) == [None]
    for value in values:
        (a, a_total), (b, b_total) = (reference_counts(rows, e, value) for e in ("view", "buy"))
        want = reference_formula(formula, [a, b])
        item = got[value]
        assert item["data"] == pytest.approx(want), (value, a, b)
        assert item["total"] == pytest.approx(python_reference(formula, [a_total, b_total]))
        assert item["series_index"] == -1 and item["math"] == "formula"
        # cumulative: running sum, a gap adds nothing
        running, cum = 0.0, []
        for v in want:
            running += v or 0
            cum.append(running)
        assert charts.cumulative(item["data"]) == pytest.approx(cum)
        # moving average over the last `window` buckets that have a value
        ma = []
        for i in range(DAYS):
            seen = [v for v in want[max(0, i - window + 1) : i + 1] if v is not None]
            ma.append(sum(seen) / len(seen) if seen else None)
        assert charts.moving_average(item["data"], window) == pytest.approx(ma)

    # bold number (total / last) and pie shares over the shown rows
    shown = payload["formula_results"]
    totals = [r["total"] for r in shown]
    numbers = charts.big_numbers(payload, "total")
    assert [n["value"] for n in numbers] == pytest.approx(totals)
    assert [n["value"] for n in charts.big_numbers(payload, "last")] == pytest.approx(
        [r["data"][-1] for r in shown]
    )
    positive = [t for t in totals if t is not None and t > 0]
    shares = charts.pie_shares(payload)
    assert [s["value"] for s in shares] == pytest.approx(positive)
    if positive:
        assert sum(s["share"] for s in shares) == pytest.approx(1.0)
        assert [s["share"] for s in shares] == pytest.approx([t / sum(positive) for t in positive])
    # the series themselves, shown with the formula on request
    with_series = charts.pie_shares(payload, show_series=True)
    assert len(with_series) == len(shares) + sum(1 for r in payload["results"] if r["total"] > 0)
    # every display renders
    for display in ("line", "bar", "area", "cumulative", "moving_average"):
        charts.trends_figure(payload, display, window=window)
    charts.pie_figure(shares)
    charts.table(payload)


def test_pie_of_series_without_formula(ch_project):
    project = ch_project()
    builder = EventBuilder(project.id)
    t = dt.datetime(2026, 5, 2, 12, tzinfo=dt.UTC)
    for i, browser in enumerate(["Chrome"] * 3 + ["Safari"]):
        builder.add("view", f"d{i}", t, {"$browser": browser})
    builder.flush()
    spec = TrendsSpec.from_json(
        {
            "series": [{"event": "view"}],
            "date_from": "2026-05-01",
            "date_to": "2026-05-03",
            "breakdown": {"property": "$browser"},
            "display": "pie",
        }
    )
    payload = TrendsQueryRunner(project, spec).run().to_json(Presenter.unrestricted())
    shares = {s["label"]: s["share"] for s in charts.pie_shares(payload)}
    assert shares == {"view · Chrome": 0.75, "view · Safari": 0.25}


def test_the_current_bucket_is_incomplete_and_drawn_dashed(ch_project):
    project = ch_project()
    now = dt.datetime(2026, 5, 5, 15, 30, tzinfo=dt.UTC)
    builder = EventBuilder(project.id)
    for d in range(5):
        builder.add("view", "d0", dt.datetime(2026, 5, 1 + d, 9, tzinfo=dt.UTC))
    builder.flush()
    spec = TrendsSpec.from_json({"series": [{"event": "view"}], "date_from": "-4d"})
    result = TrendsQueryRunner(project, spec, now=now).run()
    assert result.incomplete_from == dt.datetime(2026, 5, 5, tzinfo=dt.UTC)
    payload = result.to_json(Presenter.unrestricted())
    fig = charts.trends_figure(payload, "line")
    points, solid, tail = fig.data
    assert (
        list(points.y) == [1] * 5 and points.mode == "markers" and points.marker.symbol[-1] == "circle-open"
    )
    assert solid.line.dash == "solid" and solid.y[-1] is None and solid.y[-2] == 1 and solid.mode == "lines"
    assert tail.line.dash == "dash" and list(tail.y) == [1, 1] and tail.showlegend is False
    # A closed range has no incomplete bucket.
    closed = TrendsSpec.from_json(
        {"series": [{"event": "view"}], "date_from": "2026-05-01", "date_to": "2026-05-03"}
    )
    assert TrendsQueryRunner(project, closed, now=now).run().incomplete_from is None
    # Weeks in a non-UTC zone: the week containing now, in local time.
    project_ny = ch_project("America/New_York")
    week = TrendsSpec.from_json({"series": [{"event": "view"}], "date_from": "-30d", "interval": "week"})
    got = TrendsQueryRunner(project_ny, week, now=now).run().incomplete_from
    assert got.astimezone(project_ny.tz).date() == dt.date(2026, 5, 4)  # Monday
