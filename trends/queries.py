"""TrendsQueryRunner: counts and aggregates per interval, per series, per breakdown value.

SQL per series and period (all values bound, identifiers from allow-lists):

1. breakdown only: the top `limit` values by the series' own measure over the whole
   (current) range: `SELECT breakdown_value, <agg> ... GROUP BY ... ORDER BY value DESC LIMIT n`.
   The previous period of a comparison reuses the current period's top values.
2. the series: `SELECT bucket, bv, <agg> ... GROUP BY GROUPING SETS ((bucket, bv), (bv))`
   where bv is the breakdown value or "Other" (`$$_sextant_other_$$`). The second
   grouping set is the total over the whole range, computed by the same aggregate
   (so a unique count's total is the unique count over the range, not a sum of days).
   weekly_active / monthly_active expand each (person, local day) to the 7 / 30
   points whose window it falls in, then count unique persons per point; their
   total is one more query (unique persons over the range).

Zero-filling, labels and the previous period's dates happen in Python from
`interval_starts`, so every series has one value per interval start.

A series reads the pre-aggregated `trends_rollup` instead of `events` when its answer is
the same (trends/rollups.py: total and unique-person maths, no filters, no breakdown or
$browser, 15-minute-aligned boundaries); `read_from` picks the source.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from insights.blocks import EventSource, Interval, SQLBuilder
from insights.blocks.breakdown import OTHER_VALUE, Breakdown, cohort_labels
from insights.blocks.breakdown import label as breakdown_label
from insights.blocks.dates import bucket_sql, floor_to_interval, interval_starts, local_midnight
from insights.blocks.filters import event_text_sql

from . import rollups
from .formula import evaluate, letter
from .spec import ACTIVE_MATHS, MATHS, PERSON_MATHS, PROPERTY_MATHS, Series, TrendsSpec

# math -> aggregate over the source columns (allow-list; never built from input).
AGGREGATES = {
    "total": "count()",
    "dau": "uniqExact(person_id)",
    "weekly_active": "uniqExact(person_id)",
    "monthly_active": "uniqExact(person_id)",
    "unique_session": "uniqExactIf(session_id, session_id != '')",
    "sum": "sum(math_value)",
    "avg": "avg(math_value)",
    "min": "min(math_value)",
    "max": "max(math_value)",
    "median": "medianExact(math_value)",
    "p90": "quantileExact(0.9)(math_value)",
    "p99": "quantileExact(0.99)(math_value)",
}
INTEGER_MATHS = {"total", "dau", "weekly_active", "monthly_active", "unique_session"}
ADDITIVE_MATHS = {"total", "sum"}
PERSONS_LIMIT = 100


@dataclass(frozen=True)
class TrendsSeriesResult:
    series_index: int
    series_label: str
    math: str
    breakdown_value: str | None  # raw value; OTHER_VALUE for "Other"; None without a breakdown
    dates: list[dt.datetime]
    data: list
    total: float | int
    compare_label: str | None = None
    breakdown_index: int | None = None  # position in the top values; -1 for "Other" (drill-down key)
    breakdown_name: str | None = None  # a cohort breakdown's label (the cohort's name)

    @property
    def breakdown_label(self) -> str | None:
        if self.breakdown_name is not None:
            return self.breakdown_name
        return None if self.breakdown_value is None else breakdown_label(self.breakdown_value)


@dataclass(frozen=True)
class TrendsResult:
    spec: TrendsSpec
    time_zone: str
    start: dt.datetime
    end: dt.datetime
    series: list[TrendsSeriesResult] = field(default_factory=list)
    incomplete_from: dt.datetime | None = None  # start of the bucket containing "now", if charted

    def formula_series(self) -> list[TrendsSeriesResult]:
        """The spec's formula evaluated per bucket (and over the totals), once per breakdown
        value and period. Series are matched by raw breakdown value; a series without that
        value (it is not in that series' top values) counts as 0 for it."""
        tree = self.spec.formula_tree
        if tree is None:
            return []
        n = len(self.spec.series)
        groups: dict[tuple, dict[int, TrendsSeriesResult]] = {}
        for s in self.series:
            groups.setdefault((s.compare_label, s.breakdown_value), {})[s.series_index] = s
        out = []
        for (compare_label, value), by_index in groups.items():
            first = next(iter(by_index.values()))
            size = len(first.dates)

            def column(i, at, by_index=by_index, size=size):
                s = by_index.get(i)
                if s is None:
                    return 0
                return s.data[at] if at < len(s.data) else None

            data = [evaluate(tree, [column(i, at) for i in range(n)]) for at in range(size)]
            total = evaluate(tree, [by_index[i].total if i in by_index else 0 for i in range(n)])
            out.append(
                TrendsSeriesResult(
                    series_index=-1,
                    series_label=self.spec.formula,
                    math="formula",
                    breakdown_value=value,
                    dates=first.dates,
                    data=data,
                    total=total,
                    compare_label=compare_label,
                    breakdown_index=first.breakdown_index,
                    breakdown_name=first.breakdown_name,
                )
            )
        return out

    def label(self, s: TrendsSeriesResult, presenter=None) -> tuple[str, str | None]:
        """(display label, display breakdown value) with PII breakdown values masked."""
        if s.breakdown_value is None:
            return s.series_label, None
        shown = s.breakdown_label
        if s.breakdown_name is not None:  # a cohort's name: not a property value
            return f"{s.series_label} · {shown}", shown
        if presenter is not None and s.breakdown_value != OTHER_VALUE and s.breakdown_value:
            shown = presenter.label(self.spec.breakdown.property, shown)
        return f"{s.series_label} · {shown}", shown

    def to_json(self, presenter) -> dict:
        payload = {
            "results": self._items(self.series, presenter),
            "interval": self.spec.interval.value,
            "time_zone": self.time_zone,
            "date_from": self.start.isoformat(),
            "date_to": self.end.isoformat(),
        }
        # Added keys only (readers of "results" see the series as before).
        if self.spec.formula:
            payload["formula"] = self.spec.formula
            payload["formula_results"] = self._items(self.formula_series(), presenter)
        if self.incomplete_from is not None:
            payload["incomplete_from"] = self.incomplete_from.isoformat()
        return payload

    def _items(self, series, presenter) -> list[dict]:
        out = []
        for s in series:
            label, shown = self.label(s, presenter)
            item = {
                "label": label,
                "series_index": s.series_index,
                "series_label": s.series_label,
                "math": s.math,
                "breakdown_value": shown,
                "breakdown_index": s.breakdown_index,
                "dates": [d.isoformat() for d in s.dates],
                "data": s.data,
                "total": s.total,
            }
            if s.compare_label is not None:
                item["compare_label"] = s.compare_label
            if s.series_index >= 0:
                item["letter"] = letter(s.series_index)
            out.append(item)
        return out


@dataclass(frozen=True)
class Period:
    label: str | None  # None without compare, else "current" / "previous"
    start: dt.datetime
    end: dt.datetime
    starts: list[dt.datetime]


def shift(moment: dt.datetime, interval: Interval, n: int, tz) -> dt.datetime:
    """`moment` moved back by n intervals (calendar steps in the project's zone)."""
    if interval == Interval.HOUR:
        return (moment.astimezone(dt.UTC) - dt.timedelta(hours=n)).astimezone(tz)
    local = moment.astimezone(tz)
    if interval == Interval.DAY:
        day = local.date() - dt.timedelta(days=n)
    elif interval == Interval.WEEK:
        day = local.date() - dt.timedelta(weeks=n)
    else:
        month = local.month - 1 - n
        year = local.year + month // 12
        month = month % 12 + 1
        last = (dt.date(year + month // 12, month % 12 + 1, 1) - dt.timedelta(days=1)).day
        day = dt.date(year, month, min(local.day, last))
    return dt.datetime.combine(day, local.time(), tzinfo=tz)


def series_label(series: Series) -> str:
    if series.name:
        return series.name
    if series.math == "total":
        return series.event
    what = f" of {series.math_property}" if series.math in PROPERTY_MATHS else ""
    return f"{series.event} ({series.math.replace('_', ' ')}{what})"


class TrendsQueryRunner:
    """TrendsQueryRunner(project, spec).run() -> TrendsResult. No request needed (Celery-safe)."""

    def __init__(self, project, spec: TrendsSpec, now: dt.datetime | None = None):
        self.project = project
        self.spec = spec
        self.tz = project.tz
        self.now = now
        breakdown = spec.breakdown
        self.cohort_breakdown = breakdown is not None and breakdown.type == "cohort"
        self.labels = cohort_labels(project.id, breakdown.cohorts) if self.cohort_breakdown else {}

    # ------------------------------------------------------------ periods
    def periods(self) -> list[Period]:
        start, end = self.spec.date_range.resolve(self.tz, self.now)
        interval = self.spec.interval
        if start is None:
            first = ch.query(
                "SELECT min(timestamp), count() FROM events WHERE project_id = {project_id:UInt32}",
                {"project_id": self.project.id},
            ).rows[0]
            start = first[0] if first[1] else end - dt.timedelta(microseconds=1)
            start = floor_to_interval(min(start, end - dt.timedelta(microseconds=1)), interval, self.tz)
        starts = interval_starts(start, end, interval, self.tz)
        current = Period("current" if self.spec.compare else None, start, end, starts)
        if not self.spec.compare:
            return [current]
        n = len(starts)
        previous = Period(
            "previous",
            shift(start, interval, n, self.tz),
            shift(end, interval, n, self.tz),
            [shift(s, interval, n, self.tz) for s in starts],
        )
        return [current, previous]

    def run(self) -> TrendsResult:
        periods = self.periods()
        results: list[TrendsSeriesResult] = []
        for i, series in enumerate(self.spec.series):
            top = self.top_values(series, periods[0]) if self.spec.breakdown else None
            for period in periods:
                results.extend(self.run_series(i, series, period, top))
        return TrendsResult(
            self.spec,
            self.project.time_zone,
            periods[0].start,
            periods[0].end,
            results,
            incomplete_from=self.incomplete_bucket(periods[0]),
        )

    def incomplete_bucket(self, period: Period) -> dt.datetime | None:
        """The charted interval start whose interval contains now (project time zone), if any."""
        now = self.now or dt.datetime.now(dt.UTC)
        if not period.starts or not period.start <= now < period.end + dt.timedelta(seconds=1):
            return None
        current = floor_to_interval(now, self.spec.interval, self.tz)
        keys = {int(s.timestamp()): s for s in period.starts}
        return keys.get(int(current.timestamp()))

    # ------------------------------------------------------------ SQL pieces
    def source(self, b: SQLBuilder, series: Series, start, end, *, person=False, where=()) -> EventSource:
        event_columns, person_columns = ({}, {})
        if self.spec.breakdown:
            event_columns, person_columns = self.spec.breakdown.column(b)
        conditions = list(where)
        if series.math in PROPERTY_MATHS:
            number = f"toFloat64OrNull({event_text_sql(b, series.math_property)[0]})"
            event_columns = {**event_columns, "math_value": f"assumeNotNull({number})"}
            conditions.append(f"ifNull(isFinite({number}), 0)")
        return EventSource(
            self.project,
            b,
            start,
            end,
            events=[series.event],
            filters=tuple(self.spec.properties) + tuple(series.properties),
            event_columns=event_columns,
            person_columns=person_columns,
            need_person=person or series.math in PERSON_MATHS,
            where=conditions,
        )

    def read_from(self, b: SQLBuilder, series: Series, start, end, boundaries) -> tuple[str, str]:
        """(FROM subquery, aggregate) of a series: trends_rollup when the query allows it
        (trends/rollups.py; `boundaries` are the instants the query cuts time at), else the events."""
        if rollups.usable(self.spec, series, [start, end, *boundaries]):
            person = series.math != "total"
            return rollups.source_sql(b, self.spec, series, start, end, person=person), rollups.aggregate(
                series.math
            )
        return self.source(b, series, start, end).sql(), AGGREGATES[series.math]

    def breakdown_expr(self, b: SQLBuilder, top: list[str] | None) -> str:
        if top is None:
            return "''"
        if self.cohort_breakdown:  # one row per listed cohort the person is in
            return "arrayJoin(breakdown_value)"
        return f"if(breakdown_value IN {b.bind(list(top), 'Array(String)')}, breakdown_value, {b.bind(OTHER_VALUE, 'String')})"

    def top_values(self, series: Series, period: Period) -> list[str]:
        breakdown: Breakdown = self.spec.breakdown
        if self.cohort_breakdown:  # every listed cohort is a group, in the order given
            return [str(c) for c in breakdown.cohorts]
        b = SQLBuilder(self.project.id)
        src, agg = self.read_from(b, series, period.start, period.end, period.starts)
        sql = f"""
            SELECT breakdown_value AS bv, {agg} AS value
            FROM ({src})
            GROUP BY bv
            ORDER BY value DESC, bv
            LIMIT {b.bind(breakdown.limit, "UInt32")}
        """
        return [row[0] for row in ch.query(sql, b.params).rows]

    def run_series(
        self, index: int, series: Series, period: Period, top: list[str] | None
    ) -> list[TrendsSeriesResult]:
        if series.math in ACTIVE_MATHS:
            per_bucket, totals = self._active(series, period, top)
        else:
            per_bucket, totals = self._aggregate(series, period, top)
        keys = [int(s.timestamp()) for s in period.starts]
        values = list(totals) if top is None else [v for v in [*top, OTHER_VALUE] if v in totals]
        if self.cohort_breakdown:
            values = list(top)  # an empty cohort shows as zeros
        if top is None and not values:
            values = [""]
        zero = 0 if series.math in INTEGER_MATHS else 0.0
        out = []
        for bv in values:
            buckets = per_bucket.get(bv, {})
            out.append(
                TrendsSeriesResult(
                    series_index=index,
                    series_label=series_label(series),
                    math=series.math,
                    breakdown_value=None if top is None else bv,
                    dates=list(period.starts),
                    data=[self._number(buckets.get(k, zero), series.math) for k in keys],
                    total=self._number(totals.get(bv, zero), series.math),
                    compare_label=period.label,
                    breakdown_index=None if top is None else (top.index(bv) if bv in top else -1),
                    breakdown_name=self.labels.get(bv) if self.cohort_breakdown else None,
                )
            )
        return out

    @staticmethod
    def _number(value, math: str):
        if value is None or value != value:  # NULL / NaN (an aggregate over no rows)
            return 0 if math in INTEGER_MATHS else 0.0
        return int(value) if math in INTEGER_MATHS else float(value)

    def _aggregate(self, series: Series, period: Period, top) -> tuple[dict, dict]:
        b = SQLBuilder(self.project.id)
        tz = b.bind(self.project.time_zone, "String")
        bv = self.breakdown_expr(b, top)
        src, agg = self.read_from(b, series, period.start, period.end, period.starts)
        sql = f"""
            SELECT toUnixTimestamp({bucket_sql(self.spec.interval, "timestamp", tz)}) AS bucket,
                {bv} AS bv, {agg} AS value
            FROM ({src})
            GROUP BY GROUPING SETS ((bucket, bv), (bv))
        """
        per_bucket: dict[str, dict[int, object]] = {}
        totals: dict[str, object] = {}
        for bucket, value_bv, value in ch.query(sql, b.params).rows:
            if bucket == 0:
                totals[value_bv] = value
            else:
                per_bucket.setdefault(value_bv, {})[bucket] = value
        return per_bucket, totals

    def points(self, period: Period) -> list[dt.date]:
        """The local day each interval is measured at for weekly/monthly active: the
        interval's last day, or the range's last day for an interval still running."""
        last_day = (period.end - dt.timedelta(microseconds=1)).astimezone(self.tz).date()
        ends = [s.astimezone(self.tz).date() for s in period.starts[1:]]
        if period.starts:
            nxt = period.starts[-1].astimezone(self.tz).date()
            if self.spec.interval == Interval.DAY:
                nxt += dt.timedelta(days=1)
            elif self.spec.interval == Interval.WEEK:
                nxt += dt.timedelta(weeks=1)
            else:
                nxt = (nxt.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
            ends.append(nxt)
        return [min(e - dt.timedelta(days=1), last_day) for e in ends]

    def _active(self, series: Series, period: Period, top) -> tuple[dict, dict]:
        days = ACTIVE_MATHS[series.math]
        points = self.points(period)
        keys = [int(s.timestamp()) for s in period.starts]
        b = SQLBuilder(self.project.id)
        tz = b.bind(self.project.time_zone, "String")
        bv = self.breakdown_expr(b, top)
        read_from = (
            local_midnight(points[0] - dt.timedelta(days=days - 1), self.tz) if points else period.start
        )
        src, _ = self.read_from(b, series, read_from, period.end, period.starts)
        sql = f"""
            SELECT idx, bv, uniqExact(person_id) AS value
            FROM (
                SELECT person_id, bv, indexOf({b.bind(points, "Array(Date)")}, addDays(day, k)) AS idx
                FROM (SELECT DISTINCT person_id, {bv} AS bv, toDate(timestamp, {tz}) AS day FROM ({src}))
                ARRAY JOIN range({b.bind(days, "UInt8")}) AS k
            )
            WHERE idx > 0
            GROUP BY idx, bv
        """
        per_bucket: dict[str, dict[int, object]] = {}
        for idx, value_bv, value in ch.query(sql, b.params).rows:
            per_bucket.setdefault(value_bv, {})[keys[idx - 1]] = value
        tb = SQLBuilder(self.project.id)
        tbv = self.breakdown_expr(tb, top)
        tsrc, _ = self.read_from(tb, series, period.start, period.end, period.starts)
        totals_sql = f"SELECT {tbv} AS bv, uniqExact(person_id) FROM ({tsrc}) GROUP BY bv"
        totals = dict(ch.query(totals_sql, tb.params).rows)
        for value_bv in per_bucket:
            totals.setdefault(value_bv, 0)
        return per_bucket, totals


# ---------------------------------------------------------------- drill-down
@dataclass(frozen=True)
class PersonAtPoint:
    person_id: str
    distinct_id: str
    events: int
    sessions: int
    value: float | None
    last_seen: dt.datetime


@dataclass(frozen=True)
class TrendsPersonsResult:
    series_label: str
    math: str
    breakdown_value: str | None
    start: dt.datetime
    end: dt.datetime
    total_persons: int
    persons: list[PersonAtPoint]


class TrendsPersonsQueryRunner:
    """The persons behind one point: series `series_index`, the interval starting at
    `point`, one breakdown value (or "Other"), in the current or previous period.

    count / dau / unique_session / property maths: persons with a matching event in
    that interval (property maths: only events with a numeric value), with their event
    counts. weekly/monthly active: persons active in the 7/30 days ending at the point.
    """

    def __init__(
        self,
        project,
        spec: TrendsSpec,
        series_index: int,
        point: dt.datetime,
        breakdown_index: int | None = None,
        period: str = "current",
        now: dt.datetime | None = None,
        limit: int = PERSONS_LIMIT,
    ):
        self.project = project
        self.spec = spec
        self.series_index = series_index
        self.point = point
        self.breakdown_index = breakdown_index
        self.period = period
        self.limit = limit
        self.trends = TrendsQueryRunner(project, spec, now)

    def run(self) -> TrendsPersonsResult:
        if not 0 <= self.series_index < len(self.spec.series):
            raise BadRequest("Invalid drill-down.", {"series": "no such series"})
        periods = self.trends.periods()
        chosen = [p for p in periods if (p.label or "current") == self.period]
        if not chosen:
            raise BadRequest("Invalid drill-down.", {"period": "must be current or previous (with compare)"})
        period = chosen[0]
        key = int(self.point.timestamp())
        keys = [int(s.timestamp()) for s in period.starts]
        if key not in keys:
            raise BadRequest("Invalid drill-down.", {"date": "not an interval start of this chart"})
        i = keys.index(key)
        series = self.spec.series[self.series_index]
        if series.math in ACTIVE_MATHS:
            day = self.trends.points(period)[i]
            start = local_midnight(day - dt.timedelta(days=ACTIVE_MATHS[series.math] - 1), self.trends.tz)
            end = local_midnight(day + dt.timedelta(days=1), self.trends.tz)
        else:
            start = max(period.starts[i], period.start)
            end = period.starts[i + 1] if i + 1 < len(period.starts) else period.end
            end = min(end, period.end)
        b = SQLBuilder(self.project.id)
        conditions = []
        value = None
        if self.spec.breakdown is not None:
            top = self.trends.top_values(series, periods[0])
            index = -1 if self.breakdown_index is None else self.breakdown_index
            if self.trends.cohort_breakdown and 0 <= index < len(top):
                value = top[index]
                conditions.append(f"has(breakdown_value, {b.bind(value, 'String')})")
            elif self.trends.cohort_breakdown:
                raise BadRequest(
                    "Invalid drill-down.", {"breakdown_index": "no such cohort in the breakdown"}
                )
            elif index == -1:
                value = OTHER_VALUE
                conditions.append(f"breakdown_value NOT IN {b.bind(top, 'Array(String)')}")
            elif 0 <= index < len(top):
                value = top[index]
                conditions.append(f"breakdown_value = {b.bind(value, 'String')}")
            else:
                raise BadRequest("Invalid drill-down.", {"breakdown_index": "no such breakdown value"})
        if series.math == "unique_session":
            conditions.append("session_id != ''")
        src = self.trends.source(b, series, start, end, person=True)
        value_sql = "sum(math_value)" if series.math in PROPERTY_MATHS else "CAST(NULL AS Nullable(Float64))"
        sql = f"""
            SELECT toString(person_id) AS person, argMax(distinct_id, timestamp) AS distinct_id, count() AS events,
                uniqExactIf(session_id, session_id != '') AS sessions, {value_sql} AS value,
                max(timestamp) AS last_seen, count() OVER () AS total_persons
            FROM ({src.sql()})
            WHERE {" AND ".join(conditions) or "1"}
            GROUP BY person_id
            ORDER BY events DESC, person
            LIMIT {b.bind(self.limit, "UInt32")}
        """
        rows = ch.query(sql, b.params).rows
        persons = [
            PersonAtPoint(r[0], r[1], int(r[2]), int(r[3]), r[4], r[5].astimezone(self.trends.tz))
            for r in rows
        ]
        return TrendsPersonsResult(
            series_label=series_label(series),
            math=series.math,
            breakdown_value=value,
            start=start.astimezone(self.trends.tz),
            end=end.astimezone(self.trends.tz),
            total_persons=int(rows[0][6]) if rows else 0,
            persons=persons,
        )


__all__ = [
    "MATHS",
    "Period",
    "TrendsPersonsQueryRunner",
    "TrendsQueryRunner",
    "TrendsResult",
    "TrendsSeriesResult",
]
