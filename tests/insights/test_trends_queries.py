"""Hand-written trends scenarios with exact numbers: time zones, DST, weeks, months,
zero-fill, breakdown Other/(none), compare, drill-down."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from analytics_app.errors import BadRequest
from governance.presenter import Presenter
from insights.blocks.breakdown import OTHER_VALUE
from tests.conftest import EventBuilder
from trends.queries import TrendsPersonsQueryRunner, TrendsQueryRunner
from trends.spec import TrendsSpec

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
IST = zoneinfo.ZoneInfo("Asia/Kolkata")


def run(project, **body):
    body.setdefault("series", [{"event": "e"}])
    return TrendsQueryRunner(project, TrendsSpec.from_json(body)).run()


def by_date(series):
    return {d.isoformat(): v for d, v in zip(series.dates, series.data, strict=True)}


@pytest.mark.parametrize("zone", ["America/Los_Angeles", "Asia/Kolkata"])
def test_events_around_local_midnight_land_in_their_local_day(ch_project, zone):
    project = ch_project(zone)
    tz = project.tz
    b = EventBuilder(project.id)
    b.add("e", "a", dt.datetime(2026, 5, 1, 23, 59, 59, tzinfo=tz))
    b.add("e", "a", dt.datetime(2026, 5, 2, 0, 0, 0, tzinfo=tz))
    b.add("e", "a", dt.datetime(2026, 5, 2, 0, 0, 1, tzinfo=tz))
    b.flush()
    s = run(project, date_from="2026-05-01", date_to="2026-05-02").series[0]
    assert [d.isoformat() for d in s.dates] == [
        f"2026-05-0{d}T00:00:00{dt.datetime(2026, 5, 1, tzinfo=tz).strftime('%z')[:3]}:{dt.datetime(2026, 5, 1, tzinfo=tz).strftime('%z')[3:]}"
        for d in (1, 2)
    ]
    assert s.data == [1, 2]
    hourly = run(
        project, date_from="2026-05-01T23:00:00", date_to="2026-05-02T01:00:00", interval="hour"
    ).series[0]
    assert hourly.data == [1, 2]
    assert hourly.dates[1] == dt.datetime(2026, 5, 2, tzinfo=tz)


@pytest.mark.parametrize(("day", "hours"), [(dt.date(2026, 3, 8), 23), (dt.date(2026, 11, 1), 25)])
def test_dst_days_have_23_or_25_hourly_buckets_and_one_daily_bucket(ch_project, day, hours):
    project = ch_project("America/Los_Angeles")
    b = EventBuilder(project.id)
    start = dt.datetime.combine(day, dt.time(), tzinfo=LA).astimezone(dt.UTC)
    for h in range(hours):  # one event 30 minutes into every real hour of the local day
        b.add("e", f"p{h}", start + dt.timedelta(hours=h, minutes=30))
    b.flush()
    hourly = run(project, date_from=day.isoformat(), date_to=day.isoformat(), interval="hour").series[0]
    assert len(hourly.dates) == hours
    assert hourly.data == [1] * hours
    assert len({d.astimezone(dt.UTC) for d in hourly.dates}) == hours
    daily = run(
        project, date_from=day.isoformat(), date_to=(day + dt.timedelta(days=1)).isoformat(), interval="day"
    ).series[0]
    assert daily.data == [hours, 0]


def test_weeks_start_monday_in_the_project_zone(ch_project):
    project = ch_project("America/Los_Angeles")
    b = EventBuilder(project.id)
    b.add("e", "a", dt.datetime(2026, 5, 10, 23, 30, tzinfo=LA))  # Sunday 23:30 local (Monday 06:30 UTC)
    b.add("e", "a", dt.datetime(2026, 5, 11, 0, 0, tzinfo=LA))  # Monday 00:00 local
    b.flush()
    s = run(project, date_from="2026-05-04", date_to="2026-05-17", interval="week").series[0]
    assert s.dates == [dt.datetime(2026, 5, 4, tzinfo=LA), dt.datetime(2026, 5, 11, tzinfo=LA)]
    assert s.data == [1, 1]


def test_months_in_the_project_zone(ch_project):
    project = ch_project("Asia/Kolkata")
    b = EventBuilder(project.id)
    b.add("e", "a", dt.datetime(2026, 1, 31, 23, 0, tzinfo=IST))
    b.add("e", "a", dt.datetime(2026, 2, 1, 0, 10, tzinfo=IST))  # still January in UTC
    b.add("e", "a", dt.datetime(2026, 3, 15, tzinfo=IST))
    b.flush()
    s = run(project, date_from="2026-01-01", date_to="2026-03-31", interval="month").series[0]
    assert [d.date() for d in s.dates] == [dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)]
    assert s.data == [1, 1, 1]


def test_zero_filled_range_has_a_point_for_every_day(ch_project):
    project = ch_project()
    b = EventBuilder(project.id)
    now = dt.datetime.now(dt.UTC)
    b.add("e", "a", now - dt.timedelta(days=3)).add("e", "b", now - dt.timedelta(days=3)).add("e", "a", now)
    b.flush()
    s = run(project, date_from="-7d").series[0]
    assert len(s.dates) == len(s.data) == 8
    assert sorted(s.data) == [0, 0, 0, 0, 0, 0, 1, 2] and s.data[-1] == 1 and s.data[-4] == 2
    assert s.total == 3


def test_breakdown_keeps_the_top_values_and_folds_the_rest_into_other(ch_project):
    project = ch_project()
    b = EventBuilder(project.id)
    t = dt.datetime(2026, 5, 2, 12, tzinfo=dt.UTC)
    for browser, n in [("Chrome", 5), ("Safari", 3), ("Firefox", 2), ("Edge", 1)]:
        for i in range(n):
            b.add("e", f"{browser}{i}", t, {"$browser": browser})
    for i in range(4):
        b.add("e", f"none{i}", t + dt.timedelta(days=1), {} if i % 2 else {"$browser": ""})
    b.flush()
    result = run(
        project, date_from="2026-05-01", date_to="2026-05-03", breakdown={"property": "$browser", "limit": 2}
    )
    got = {s.breakdown_label: (s.data, s.total) for s in result.series}
    assert got == {"Chrome": ([0, 5, 0], 5), "(none)": ([0, 0, 4], 4), "Other": ([0, 6, 0], 6)}
    payload = result.to_json(Presenter.unrestricted())
    assert [r["label"] for r in payload["results"]] == ["e · Chrome", "e · (none)", "e · Other"]
    dau = run(
        project,
        date_from="2026-05-01",
        date_to="2026-05-03",
        series=[{"event": "e", "math": "dau"}],
        breakdown={"property": "$browser", "limit": 3},
    )
    assert {s.breakdown_label: s.total for s in dau.series} == {
        "Chrome": 5,
        "(none)": 4,
        "Safari": 3,
        "Other": 3,
    }


def test_pii_breakdown_values_are_masked(ch_project):
    project = ch_project()
    b = EventBuilder(project.id)
    b.add("e", "a", dt.datetime(2026, 5, 2, tzinfo=dt.UTC), {"email": "ann@example.com"}).flush()
    result = run(project, date_from="2026-05-02", date_to="2026-05-02", breakdown={"property": "email"})
    masked = result.to_json(Presenter(can_view_pii=False, pii=frozenset({"email"})))
    assert "ann@example.com" not in str(masked)
    assert "ann@example.com" in str(result.to_json(Presenter.unrestricted()))


def test_compare_returns_the_previous_period_with_the_same_length(ch_project):
    project = ch_project()
    b = EventBuilder(project.id)
    b.add("e", "a", dt.datetime(2026, 5, 8, 10, tzinfo=dt.UTC))  # current, day 1
    b.add("e", "a", dt.datetime(2026, 5, 14, 10, tzinfo=dt.UTC))  # current, last day
    b.add("e", "a", dt.datetime(2026, 5, 1, 10, tzinfo=dt.UTC))  # previous, day 1
    b.add("e", "b", dt.datetime(2026, 5, 3, 10, tzinfo=dt.UTC))  # previous, day 3
    b.add("e", "b", dt.datetime(2026, 5, 3, 11, tzinfo=dt.UTC))
    b.add("e", "c", dt.datetime(2026, 4, 30, 10, tzinfo=dt.UTC))  # before both
    b.flush()
    current, previous = run(project, date_from="2026-05-08", date_to="2026-05-14", compare=True).series
    assert current.compare_label == "current" and previous.compare_label == "previous"
    assert current.data == [1, 0, 0, 0, 0, 0, 1] and current.total == 2
    assert previous.data == [1, 0, 2, 0, 0, 0, 0] and previous.total == 3
    assert previous.dates[0] == dt.datetime(2026, 5, 1, tzinfo=dt.UTC) and len(previous.dates) == 7


def test_weekly_and_monthly_active_count_persons_in_the_trailing_window(ch_project):
    project = ch_project()
    b = EventBuilder(project.id)
    b.add("e", "a", dt.datetime(2026, 5, 1, 12, tzinfo=dt.UTC))
    b.add("e", "b", dt.datetime(2026, 5, 5, 12, tzinfo=dt.UTC))
    b.flush()
    body = {"date_from": "2026-05-05", "date_to": "2026-05-08"}
    wau = run(project, series=[{"event": "e", "math": "weekly_active"}], **body).series[0]
    assert wau.data == [2, 2, 2, 1]  # 05-07 still covers 05-01..05-07; 05-08 no longer has a
    mau = run(project, series=[{"event": "e", "math": "monthly_active"}], **body).series[0]
    assert mau.data == [2, 2, 2, 2] and mau.total == 1


def test_drill_down_persons_match_the_point(ch_project):
    project = ch_project()
    b = EventBuilder(project.id)
    t = dt.datetime(2026, 5, 2, 12, tzinfo=dt.UTC)
    b.add("e", "a", t, {"$browser": "Chrome"}).add("e", "a", t, {"$browser": "Chrome"}).add(
        "e", "anon", t, {"$browser": "Chrome"}
    )
    b.add("e", "c", t, {"$browser": "Safari"}).add("e", "d", t + dt.timedelta(days=1), {"$browser": "Chrome"})
    b.merge("anon", "a")
    b.flush()
    spec = TrendsSpec.from_json(
        {
            "series": [{"event": "e", "math": "dau"}],
            "date_from": "2026-05-01",
            "date_to": "2026-05-03",
            "breakdown": {"property": "$browser", "limit": 1},
        }
    )
    result = TrendsQueryRunner(project, spec).run()
    chrome = next(s for s in result.series if s.breakdown_value == "Chrome")
    point = dt.datetime(2026, 5, 2, tzinfo=dt.UTC)
    drill = TrendsPersonsQueryRunner(project, spec, 0, point, chrome.breakdown_index).run()
    assert drill.total_persons == chrome.data[1] == 1
    assert drill.persons[0].events == 3
    other = TrendsPersonsQueryRunner(project, spec, 0, point, -1).run()
    assert (
        other.breakdown_value == OTHER_VALUE
        and other.total_persons == 1
        and other.persons[0].distinct_id == "c"
    )
    with pytest.raises(BadRequest):
        TrendsPersonsQueryRunner(project, spec, 0, point + dt.timedelta(hours=1), -1).run()


@pytest.mark.parametrize(
    "body",
    [
        {"series": []},
        {"series": [{"event": "e"}] * 11},
        {"series": [{"event": "e", "math": "sum"}]},
        {"series": [{"event": "e", "math": "weekly_active"}], "interval": "hour"},
        {"series": [{"event": "e"}], "interval": "fortnight"},
        {"series": [{"event": "e"}], "date_from": "garbage"},
        {"series": [{"event": "e"}], "display": "donut"},
        {"series": [{"event": "e"}], "compare": "yes"},
        {"series": [{"event": "e"}], "date_from": "all", "compare": True},
        {"series": [{"event": "e"}], "surprise": 1},
    ],
)
def test_invalid_specs_are_rejected_with_reasons(body):
    with pytest.raises(BadRequest) as err:
        TrendsSpec.from_json(body)
    assert err.value.errors


def test_spec_json_round_trips():
    body = {
        "kind": "TrendsQuery",
        "series": [
            {
                "event": "e",
                "math": "p90",
                "math_property": "ms",
                "name": "Latency",
                "properties": [{"key": "plan", "operator": "exact", "value": "pro", "type": "event"}],
            }
        ],
        "date_from": "2026-05-01",
        "date_to": "2026-05-07",
        "interval": "week",
        "display": "bar",
        "compare": True,
        "breakdown": {"property": "plan", "type": "person", "limit": 5},
    }
    spec = TrendsSpec.from_json(body)
    assert TrendsSpec.from_json(spec.to_json()) == spec


def test_materialized_browser_column_keeps_the_property_text_semantics(ch_project):
    project = ch_project()
    b = EventBuilder(project.id)
    t = dt.datetime(2026, 5, 2, 12, tzinfo=dt.UTC)
    for value in ["Chrome", 42, None, "missing", True]:
        b.add("e", "a", t, {} if value == "missing" else {"$browser": value})
    b.flush()
    result = run(
        project, date_from="2026-05-02", date_to="2026-05-02", breakdown={"property": "$browser", "limit": 10}
    )
    assert {s.breakdown_label: s.total for s in result.series} == {
        "Chrome": 1,
        "42": 1,
        "true": 1,
        "(none)": 2,
    }
    filtered = run(
        project,
        date_from="2026-05-02",
        date_to="2026-05-02",
        properties=[{"key": "$browser", "operator": "exact", "value": 42}],
    )
    assert filtered.series[0].total == 1
    unset = run(
        project,
        date_from="2026-05-02",
        date_to="2026-05-02",
        properties=[{"key": "$browser", "operator": "is_not_set"}],
    )
    assert unset.series[0].total == 2
