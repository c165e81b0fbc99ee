"""Date range building blocks: relative ranges, DST, Monday weeks, zero-fill axis."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest

from analytics_app.errors import BadRequest
from insights.blocks.dates import DateRange, Interval, interval_starts

LA = zoneinfo.ZoneInfo("America/Los_Angeles")
NOW = dt.datetime(2026, 5, 13, 18, 0, tzinfo=dt.UTC)  # a Wednesday, 11:00 in LA


def test_relative_days_start_at_local_midnight_and_include_today():
    start, end = DateRange("-7d").resolve(LA, NOW)
    assert start == dt.datetime(2026, 5, 6, tzinfo=LA) and end == NOW
    assert len(interval_starts(start, end, Interval.DAY, LA)) == 8


def test_presets():
    assert DateRange("mStart").resolve(LA, NOW)[0] == dt.datetime(2026, 5, 1, tzinfo=LA)
    assert DateRange("yStart").resolve(LA, NOW)[0] == dt.datetime(2026, 1, 1, tzinfo=LA)
    assert DateRange("-24h").resolve(LA, NOW)[0] == NOW - dt.timedelta(hours=24)
    assert DateRange("all").resolve(LA, NOW)[0] is None


def test_absolute_date_to_includes_the_whole_day():
    start, end = DateRange("2026-03-08", "2026-03-08").resolve(LA)
    assert end.astimezone(dt.UTC) - start.astimezone(dt.UTC) == dt.timedelta(hours=23)  # DST starts
    assert len(interval_starts(start, end, Interval.HOUR, LA)) == 23
    start, end = DateRange("2026-11-01", "2026-11-01").resolve(LA)
    assert len(interval_starts(start, end, Interval.HOUR, LA)) == 25


def test_weeks_start_on_monday():
    starts = interval_starts(
        dt.datetime(2026, 5, 10, 23, 30, tzinfo=LA), dt.datetime(2026, 5, 12, tzinfo=LA), Interval.WEEK, LA
    )
    assert starts == [dt.datetime(2026, 5, 4, tzinfo=LA), dt.datetime(2026, 5, 11, tzinfo=LA)]


def test_months_step_by_calendar_month():
    starts = interval_starts(
        dt.datetime(2026, 1, 31, tzinfo=LA), dt.datetime(2026, 4, 1, tzinfo=LA), Interval.MONTH, LA
    )
    assert [s.date() for s in starts] == [dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)]


@pytest.mark.parametrize(
    ("date_from", "date_to"), [("garbage", None), ("-7d", "nope"), ("2026-05-10", "2026-05-01")]
)
def test_bad_ranges_are_rejected(date_from, date_to):
    with pytest.raises(BadRequest):
        DateRange(date_from, date_to).resolve(LA, NOW)


def test_too_many_buckets_is_a_bad_request():
    with pytest.raises(BadRequest):
        interval_starts(dt.datetime(2000, 1, 1, tzinfo=LA), NOW, Interval.HOUR, LA)
