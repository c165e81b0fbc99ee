"""TrendsQueryRunner against a brute-force Python reference on generated events.

Every example inserts a fresh project (events, merged identities) and runs one
spec with a series per math, a global filter and per-series filters, then checks
each series' daily values and total. Quantiles follow ClickHouse's quantileExact:
the element at index floor(level * n) of the sorted values (median: level 0.5, so
the upper middle of an even count).
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import EventBuilder, examples
from tests.insights import reference as ref
from trends.queries import TrendsQueryRunner
from trends.spec import TrendsSpec

START = dt.date(2026, 5, 1)
DAYS = 10
NUMBERS = [1, 2.5, -3, 10, "7", "x", True, None, 0.25, 1000]


def quantile_exact(values: list[float], level: float) -> float:
    ordered = sorted(values)
    n = len(ordered)
    index = int(level * n) if level < 1 else n - 1
    return ordered[min(index, n - 1)]


def reference_series(rows, persons, series, global_filters, days):
    """(values per day, total) for one series, by brute force."""
    math, prop = series["math"], series.get("math_property")
    filters = global_filters + series.get("properties", [])

    def keep(r):
        return r["event"] == series["event"] and all(ref.matches(r["props"], f) for f in filters)

    matching = [r for r in rows if keep(r)]
    in_range = [r for r in matching if 0 <= (r["ts"].date() - START).days < days]
    if math == "weekly_active":
        data = []
        for d in range(days):
            day = START + dt.timedelta(days=d)
            window = {persons[r["did"]] for r in matching if 0 <= (day - r["ts"].date()).days < 7}
            data.append(len(window))
        return data, len({persons[r["did"]] for r in in_range})

    def measure(group):
        if math == "total":
            return len(group)
        if math == "dau":
            return len({persons[r["did"]] for r in group})
        if math == "unique_session":
            return len({r["props"]["$session_id"] for r in group if r["props"].get("$session_id")})
        values = [v for v in (ref.as_number(ref.prop_text(r["props"], prop)) for r in group) if v is not None]
        if not values:
            return 0
        return {
            "sum": lambda: sum(values),
            "avg": lambda: sum(values) / len(values),
            "min": lambda: min(values),
            "max": lambda: max(values),
            "median": lambda: quantile_exact(values, 0.5),
            "p90": lambda: quantile_exact(values, 0.9),
        }[math]()

    data = [measure([r for r in in_range if (r["ts"].date() - START).days == d]) for d in range(days)]
    return data, measure(in_range)


row = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["view", "buy"]),
        "did": st.sampled_from([f"d{i}" for i in range(6)]),
        "day": st.integers(min_value=-8, max_value=DAYS),  # some before the range (weekly active), some after
        "second": st.integers(min_value=0, max_value=86_399),
        "plan": st.sampled_from(["free", "pro", None]),
        "n": st.sampled_from(NUMBERS + ["missing"]),
        "session": st.sampled_from(["", "s1", "s2", "s3"]),
    }
)
simple_filter = st.sampled_from(
    [
        [],
        [{"key": "plan", "operator": "exact", "value": "pro"}],
        [{"key": "plan", "operator": "is_not", "value": "free"}],
        [{"key": "n", "operator": "gt", "value": 0}],
        [{"key": "plan", "operator": "is_set"}],
    ]
)
MATHS = [
    ("total", None),
    ("dau", None),
    ("unique_session", None),
    ("weekly_active", None),
    ("sum", "n"),
    ("avg", "n"),
    ("min", "n"),
    ("max", "n"),
    ("median", "n"),
    ("p90", "n"),
]


@settings(max_examples=examples(45), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    rows=st.lists(row, min_size=0, max_size=40),
    merges=st.lists(
        st.tuples(st.sampled_from(["d0", "d1", "d2", "d3"]), st.sampled_from(["d4", "d5"])), max_size=2
    ),
    global_filters=simple_filter,
    series_filters=st.lists(simple_filter, min_size=len(MATHS), max_size=len(MATHS)),
    event=st.sampled_from(["view", "buy"]),
)
def test_trends_match_the_reference(ch_project, rows, merges, global_filters, series_filters, event):
    project = ch_project()
    builder = EventBuilder(project.id)
    prepared = []
    for r in rows:
        props = {"$session_id": r["session"]}
        if r["plan"] is not None:
            props["plan"] = r["plan"]
        if r["n"] != "missing":
            props["n"] = r["n"]
        ts = dt.datetime.combine(
            START + dt.timedelta(days=r["day"]), dt.time(), tzinfo=dt.UTC
        ) + dt.timedelta(seconds=r["second"])
        builder.add(r["event"], r["did"], ts, props, session_id=r["session"])
        prepared.append({"event": r["event"], "did": r["did"], "ts": ts, "props": props})
    for did, into in merges:
        builder.merge(did, into)
    for r in prepared:
        builder.person_for(r["did"])
    builder.flush()
    persons = dict(builder.persons)

    series = []
    for (math, prop), filters in zip(MATHS, series_filters, strict=True):
        s = {"event": event, "math": math, "properties": filters}
        if prop:
            s["math_property"] = prop
        series.append(s)
    body = {
        "kind": "TrendsQuery",
        "series": series,
        "properties": global_filters,
        "interval": "day",
        "date_from": START.isoformat(),
        "date_to": (START + dt.timedelta(days=DAYS - 1)).isoformat(),
    }
    result = TrendsQueryRunner(project, TrendsSpec.from_json(body)).run()
    assert len(result.series) == len(series)
    for got, s in zip(result.series, series, strict=True):
        data, total = reference_series(prepared, persons, s, global_filters, DAYS)
        assert got.dates[0].date() == START and len(got.dates) == DAYS
        assert got.data == pytest.approx(data), s
        assert got.total == pytest.approx(total), s


def test_merged_identities_count_once(ch_project):
    project = ch_project()
    builder = EventBuilder(project.id)
    t = dt.datetime(2026, 5, 2, 12, tzinfo=dt.UTC)
    builder.add("view", "anon-1", t).add("view", "user@x", t + dt.timedelta(hours=1)).add("view", "other", t)
    builder.merge("anon-1", "user@x")
    builder.flush()
    body = {
        "series": [{"event": "view", "math": "dau"}, {"event": "view"}],
        "date_from": "2026-05-02",
        "date_to": "2026-05-02",
    }
    result = TrendsQueryRunner(project, TrendsSpec.from_json(body)).run()
    assert [s.total for s in result.series] == [2, 3]
