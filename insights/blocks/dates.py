"""Date ranges and intervals, evaluated in the project's time zone.

Relative ranges: `-24h`, `-Nh`, `-Nd`, `-Nw`, `-Nm` (calendar days/weeks/months back
from the start of today, so `-7d` spans today and the 7 days before it, as PostHog
shows it), `mStart` (start of this month), `yStart` (start of this year), `all`.
Absolute: `YYYY-MM-DD` (a whole local day: `date_to` includes that day) or an ISO
datetime (with offset, else local time).

Intervals: hour, day, week (starting Monday), month. Buckets are computed by
ClickHouse in the project's zone and the zero-filled list of interval starts by
Python, both as instants, so DST days (23 or 25 hours) come out right.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from analytics_app.errors import BadRequest

_REL = re.compile(r"^-(\d{1,4})([hdwmy])$")
# Earliest instant an "all time" range starts from when the project has no data.
EPOCH = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


class Interval(StrEnum):
    HOUR = "hour"
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


INTERVALS = [i.value for i in Interval]

# interval -> ClickHouse function over a DateTime in the project's zone (allow-list).
_BUCKET_SQL = {
    Interval.HOUR: "toStartOfHour({ts})",
    Interval.DAY: "toStartOfDay({ts})",
    Interval.WEEK: "toDateTime(toStartOfWeek({ts}, 1), {tz})",
    Interval.MONTH: "toDateTime(toStartOfMonth({ts}), {tz})",
}
# Most buckets a zero-filled series may have (keeps a bad request from building a huge list).
MAX_BUCKETS = 5000


def local_midnight(day: dt.date, tz: ZoneInfo) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(), tzinfo=tz)


def local_date(moment: dt.datetime, tz: ZoneInfo) -> dt.date:
    """The calendar date of an instant in the project's zone: the name of the period
    starting at that instant (a matrix row, a drill-down title, a day bucket).

    A local midnight east of UTC is the previous day in UTC, so a period start is
    never named by its UTC date (a week starting Monday 00:00 in Berlin is Sunday
    22:00 UTC); nor by the date of whatever zone a template happens to render in.
    """
    return moment.astimezone(tz).date()


def _months_back(day: dt.date, n: int) -> dt.date:
    month = day.month - 1 - n
    year = day.year + month // 12
    return dt.date(year, month % 12 + 1, 1)


def parse_point(value: str, tz: ZoneInfo, now: dt.datetime, *, is_end: bool) -> dt.datetime | None:
    """One end of a range as an aware datetime (None for `all`)."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be a non-empty string")
    value = value.strip()
    today = now.astimezone(tz).date()
    if value == "all":
        return None
    if value == "now":
        return now
    if value == "mStart":
        return local_midnight(today.replace(day=1), tz)
    if value == "yStart":
        return local_midnight(dt.date(today.year, 1, 1), tz)
    if value == "today":
        return local_midnight(today + dt.timedelta(days=1 if is_end else 0), tz)
    m = _REL.match(value)
    if m:
        n, unit = int(m.group(1)), m.group(2)
        if unit == "h":
            return now - dt.timedelta(hours=n)
        if unit == "d":
            return local_midnight(today - dt.timedelta(days=n), tz)
        if unit == "w":
            return local_midnight(today - dt.timedelta(weeks=n), tz)
        if unit == "m":
            return local_midnight(_months_back(today, n), tz)
        return local_midnight(dt.date(today.year - n, 1, 1), tz)
    try:
        if len(value) == 10:
            day = dt.date.fromisoformat(value)
            return local_midnight(day + dt.timedelta(days=1) if is_end else day, tz)
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{value!r} is not a date: use YYYY-MM-DD, an ISO datetime, -24h, -7d, -30d, -90d, mStart, yStart or all"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=tz)


@dataclass(frozen=True)
class DateRange:
    date_from: str = "-7d"
    date_to: str | None = None

    def resolve(self, tz: ZoneInfo, now: dt.datetime | None = None) -> tuple[dt.datetime | None, dt.datetime]:
        """(start or None for all time, end exclusive), both aware."""
        now = now or dt.datetime.now(dt.UTC)
        errors = {}
        try:
            start = parse_point(self.date_from, tz, now, is_end=False)
        except ValueError as exc:
            errors["date_from"] = str(exc)
            start = None
        end = now
        if self.date_to not in (None, ""):
            try:
                end = parse_point(self.date_to, tz, now, is_end=True) or now
            except ValueError as exc:
                errors["date_to"] = str(exc)
        if errors:
            raise BadRequest("Invalid date range.", errors)
        if start is not None and start >= end:
            raise BadRequest("Invalid date range.", {"date_from": "must be before date_to"})
        return start, end

    @classmethod
    def from_json(cls, body: dict, default_from: str = "-7d") -> DateRange:
        date_from = body.get("date_from") or default_from
        date_to = body.get("date_to")
        if not isinstance(date_from, str) or (date_to is not None and not isinstance(date_to, str)):
            raise BadRequest("Invalid date range.", {"date_from": "date_from and date_to must be strings"})
        return cls(date_from, date_to)


def bucket_sql(interval: Interval, ts_sql: str, tz_placeholder: str) -> str:
    """SQL for the start of the interval containing `ts_sql`, as a DateTime in the project's zone."""
    local = f"toTimeZone({ts_sql}, {tz_placeholder})"
    return _BUCKET_SQL[Interval(interval)].format(ts=local, tz=tz_placeholder)


def floor_to_interval(moment: dt.datetime, interval: Interval, tz: ZoneInfo) -> dt.datetime:
    local = moment.astimezone(tz)
    if interval == Interval.HOUR:
        # Floor in UTC then convert: local hour starts are whole UTC hours in every
        # zone we floor to except fractional-offset zones, handled by flooring locally.
        floored = local.replace(minute=0, second=0, microsecond=0)
        return floored.astimezone(tz)
    if interval == Interval.DAY:
        return local_midnight(local.date(), tz)
    if interval == Interval.WEEK:
        return local_midnight(local.date() - dt.timedelta(days=local.weekday()), tz)
    return local_midnight(local.date().replace(day=1), tz)


def interval_starts(
    start: dt.datetime, end: dt.datetime, interval: Interval, tz: ZoneInfo
) -> list[dt.datetime]:
    """Every interval start from the one containing `start` to the one containing the
    last instant before `end`, as aware datetimes in `tz` (zero-fill axis)."""
    interval = Interval(interval)
    last = end - dt.timedelta(microseconds=1)
    out: list[dt.datetime] = []
    if interval == Interval.HOUR:
        cur = floor_to_interval(start, interval, tz).astimezone(dt.UTC)
        stop = floor_to_interval(last, interval, tz).astimezone(dt.UTC)
        while cur <= stop:
            out.append(cur.astimezone(tz))
            cur += dt.timedelta(hours=1)
            if len(out) > MAX_BUCKETS:
                break
    else:
        day = floor_to_interval(start, interval, tz).date()
        stop = floor_to_interval(last, interval, tz).date()
        while day <= stop:
            out.append(local_midnight(day, tz))
            if interval == Interval.DAY:
                day += dt.timedelta(days=1)
            elif interval == Interval.WEEK:
                day += dt.timedelta(weeks=1)
            else:
                day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            if len(out) > MAX_BUCKETS:
                break
    if len(out) > MAX_BUCKETS:
        raise BadRequest(
            f"That range has more than {MAX_BUCKETS} {interval.value}s; pick a larger interval or a shorter range.",
            {"interval": "too fine for this range"},
        )
    return out
