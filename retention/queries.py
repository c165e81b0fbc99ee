"""Retention runners: the cohort x period matrix and the persons behind one cell.

One pass over the events (EventSource: person resolved through person_distinct_ids,
global filters applied), grouped per person:

    SELECT person_id,
           groupBitOrResample(0, n, 64)(bit, if(is_target, pidx, -1))  -- target periods
           groupBitOrResample(0, n, 64)(bit, if(is_return, pidx, -1))  -- return periods
           minIf(timestamp, is_target)     -- first_time: the first target event ever

`pidx` is the index of the event's period among the n cohort periods: the difference of
toRelativeDayNum / toRelativeWeekNum / toRelativeMonthNum of the event and of the first
period, in the project's zone (local calendar dates, so DST days are whole days). A
person's set of periods is kept as bits, one UInt64 per block of 64 periods (cheaper
than groupUniqArray's hash set per person), and read back as Array(Int64) with
bitPositionsToArray. A first_time cohort is the lowest target period when the first
target event ever is in the range. Then `ARRAY JOIN` the person's cohort periods and the
offsets `[0] + (return - cohort for returns after the cohort)`, and count persons per
(cohort, offset, breakdown value). Offset 0 is the cohort size. Breakdown values (a person
property, cohorts) are computed once per counted person after the grouping. Measured in
bench/bench_retention.py (docs/retention.md).

Without property filters, and with every period starting on a 15-minute boundary (local
midnights in any zone with a whole, half or quarter-hour offset), the matrix reads
`trends_rollup`'s buckets instead of the events (rollup_usable; docs/retention.md, "The
matrix from the rollup"): the same persons in the same periods, 2-3x fewer rows.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from cohorts.membership import cohort_condition, cohort_names
from insights.blocks import EventSource, Interval, SQLBuilder, rollup
from insights.blocks import filters as filter_blocks
from insights.blocks.breakdown import NONE_LABEL, OTHER_LABEL, OTHER_VALUE
from insights.blocks.dates import interval_starts, local_date, local_midnight
from insights.blocks.source import DT64, PERSON_PROPS_SQL

from .spec import CohortBreakdown, Entity, Period, RetentionSpec, RetentionType

ACTORS_LIMIT = 100
# period -> ClickHouse function numbering the periods of a local date (allow-list): day,
# Monday-based week and month numbers, so a difference of two is a count of periods.
_RELATIVE_PERIOD_SQL = {
    Period.DAY: "toRelativeDayNum",
    Period.WEEK: "toRelativeWeekNum",
    Period.MONTH: "toRelativeMonthNum",
}


def _bit_positions(blocks: str) -> str:
    """Array(Int64) of the periods set in `blocks` (Array(UInt64), block j holding periods
    64j..64j+63 as bits), ascending."""
    return (
        f"arrayFlatten(arrayMap((bits, j) -> arrayMap(p -> toInt64(p) + 64 * (j - 1), "
        f"bitPositionsToArray(bits)), {blocks}, arrayEnumerate({blocks})))"
    )


def next_period_start(start: dt.datetime, period: Period, tz) -> dt.datetime:
    day = local_date(start, tz)
    if period == Period.DAY:
        day += dt.timedelta(days=1)
    elif period == Period.WEEK:
        day += dt.timedelta(weeks=1)
    else:
        day = (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return local_midnight(day, tz)


@dataclass(frozen=True)
class RetentionRow:
    cohort_index: int
    cohort_start: dt.datetime
    breakdown_value: str | None  # raw value (OTHER_VALUE for "Other"; cohort id as text for cohorts)
    values: list[int]

    @property
    def cohort_size(self) -> int:
        return self.values[0] if self.values else 0


@dataclass(frozen=True)
class RetentionResult:
    spec: RetentionSpec
    time_zone: str
    starts: list[dt.datetime]
    end: dt.datetime
    rows: list[RetentionRow] = field(default_factory=list)
    breakdown_labels: dict[str, str] = field(default_factory=dict)  # cohort id -> name

    def breakdown_values(self) -> list[str | None]:
        seen: list[str | None] = []
        for row in self.rows:
            if row.breakdown_value not in seen:
                seen.append(row.breakdown_value)
        return seen

    def label(self, value: str | None, presenter=None) -> str | None:
        if value is None:
            return None
        if isinstance(self.spec.breakdown, CohortBreakdown):
            return self.breakdown_labels.get(value, f"Cohort {value}")
        if value == OTHER_VALUE:
            return OTHER_LABEL
        if value == "":
            return NONE_LABEL
        return presenter.label(self.spec.breakdown.property, value) if presenter is not None else value

    def to_json(self, presenter) -> dict:
        """`breakdown_value` is the display label (PII masked, so two values may look
        alike); `breakdown_index` is the value's position, the key for grouping and drill-down."""
        positions = {bv: i for i, bv in enumerate(self.breakdown_values())}
        return {
            "results": [
                {
                    "cohort_start": local_date(row.cohort_start, self.starts[0].tzinfo).isoformat(),
                    "cohort_size": row.cohort_size,
                    "values": row.values,
                    "breakdown_value": self.label(row.breakdown_value, presenter),
                    "breakdown_index": None
                    if row.breakdown_value is None
                    else positions[row.breakdown_value],
                }
                for row in self.rows
            ],
            "period": self.spec.period.value,
            "retention_type": self.spec.retention_type.value,
            "time_zone": self.time_zone,
            "date_from": self.starts[0].isoformat(),
            "date_to": self.end.isoformat(),
        }


class RetentionQueryRunner:
    """RetentionQueryRunner(project, spec).run() -> RetentionResult. No request needed."""

    def __init__(self, project, spec: RetentionSpec, now: dt.datetime | None = None):
        self.project = project
        self.spec = spec
        self.tz = project.tz
        self.now = now

    # ------------------------------------------------------------ periods
    def periods(self) -> tuple[list[dt.datetime], dt.datetime]:
        """(cohort period starts, end of the last period), whole periods in the project's zone."""
        start, end = self.spec.date_range.resolve(self.tz, self.now)
        if start is None:
            raise BadRequest(
                "Invalid RetentionQuery.", {"date_from": "retention needs a start date (not all time)"}
            )
        starts = interval_starts(start, end, Interval(self.spec.period.value), self.tz)
        return starts, next_period_start(starts[-1], self.spec.period, self.tz)

    # ------------------------------------------------------------ SQL
    def _entity_flags(self, b: SQLBuilder, entity: Entity) -> tuple[str, str]:
        """(event-level condition, person-level condition) of a target/returning entity."""
        event_filters = [f for f in entity.properties if f.type == "event"]
        other = [f for f in entity.properties if f.type != "event"]
        inner = f"e.event = {b.bind(entity.event, 'String')}"
        if event_filters:
            inner += f" AND {filter_blocks.filters_sql(b, event_filters)}"
        return inner, filter_blocks.filters_sql(b, other) if other else "1"

    def rollup_usable(self, starts: list[dt.datetime], end: dt.datetime) -> bool:
        """True when the matrix may read `trends_rollup` (insights/blocks/rollup.py) instead
        of the events: the matrix depends only on which persons did the target and returning
        events in which period (and, for first_time, whether a person's first target event
        ever is in the range), which the rollup's 15-minute buckets keep exactly when every
        period starts on a bucket boundary and no event or person property filters the
        events. Breakdowns are computed per person after the grouping, so any may."""
        spec = self.spec
        if not rollup.enabled():
            return False
        if spec.properties or spec.target_event.properties or spec.returning_event.properties:
            return False
        return rollup.aligned(*starts, end)

    def per_person_sql(
        self,
        b: SQLBuilder,
        starts: list[dt.datetime],
        end: dt.datetime,
        extra_aggregates: str = "",
        from_rollup: bool = False,
    ) -> str:
        """One row per person with a cohort: cohorts and returns (Array(Int64) of period
        indexes), bvs (breakdown values), plus `extra_aggregates` (per person, over the rows
        of the events subquery: person_id, timestamp, distinct_id, session_id, pidx,
        is_target, is_return). `from_rollup` (only when `rollup_usable`, and without
        `extra_aggregates`) reads trends_rollup's buckets instead of the events."""
        spec = self.spec
        p0 = b.bind(starts[0], DT64)
        tz = b.bind(self.project.time_zone, "String")
        first_time = spec.retention_type == RetentionType.FIRST_TIME
        events = sorted({spec.target_event.event, spec.returning_event.event})
        if from_rollup:
            # Target buckets from all time for first_time (the first one ever decides the
            # cohort; p0 is a bucket boundary, so "bucket >= p0" is "event >= p0").
            target = b.bind(spec.target_event.event, "String")
            where = [f"(r.event = {target} OR r.bucket >= {p0})"] if first_time else []
            source = rollup.source_sql(
                b,
                events,
                None if first_time else starts[0],
                end,
                person=True,
                columns={
                    "is_target_e": f"r.event = {target}",
                    "is_return_e": f"r.event = {b.bind(spec.returning_event.event, 'String')}",
                },
                where=where,
            )
            target_outer = return_outer = "1"
            row_columns = ""
        else:
            target_inner, target_outer = self._entity_flags(b, spec.target_event)
            return_inner, return_outer = self._entity_flags(b, spec.returning_event)
            entity_filters = spec.target_event.properties + spec.returning_event.properties
            where = []
            if first_time:
                # Target events from all time (the first one ever decides the cohort); others from the range.
                where.append(
                    f"(e.event = {b.bind(spec.target_event.event, 'String')} OR e.timestamp >= {p0})"
                )
            source = EventSource(
                self.project,
                b,
                None if first_time else starts[0],
                end,
                events=events,
                filters=tuple(spec.properties),
                event_columns={"is_target_e": target_inner, "is_return_e": return_inner},
                need_person=True,
                need_person_properties=filter_blocks.needs_person_properties(entity_filters),
                where=where,
            ).sql()
            row_columns = "distinct_id, session_id, "
        # The period index: whole periods between the first cohort period and the event's,
        # counted on local calendar dates in the project's zone (DST-exact, as bucket_sql).
        relative = _RELATIVE_PERIOD_SQL[spec.period]
        pidx = f"toInt64({relative}(timestamp, {tz})) - toInt64({relative}({p0}, {tz}))"
        if first_time:
            pidx = f"if(timestamp < {p0}, -1, {pidx})"  # target events before the range
        n = b.bind(len(starts), "UInt64")

        def periods(condition: str) -> str:
            # The set of periods of the rows matching `condition`, as bits: one UInt64 per
            # block of 64 periods (-Resample drops the indexes outside 0..n-1).
            return (
                f"groupBitOrResample(0, {n}, 64)(bitShiftLeft(toUInt64(1), bitAnd(pidx, 63)), "
                f"if({condition}, pidx, -1))"
            )

        same_entity = spec.target_event == spec.returning_event
        aggregates = [f"{periods('is_target')} AS target_bits"]
        aggregates.append(
            "target_bits AS return_bits" if same_entity else f"{periods('is_return')} AS return_bits"
        )
        if first_time:
            aggregates.append("minIf(timestamp, is_target) AS first_target")
            # When the first target event ever is in the range, its period is the lowest
            # of the person's target periods (the range ends at `end`, so none is later).
            cohorts = f"if(first_target >= {p0} AND notEmpty(target_periods), [target_periods[1]], [])"
        else:
            cohorts = "target_periods"
        return f"""
            SELECT persons.*, {self._breakdown_values_sql(b)} AS bvs
            FROM (
                SELECT *, {_bit_positions("target_bits")} AS target_periods, {cohorts} AS cohorts,
                    {_bit_positions("return_bits")} AS returns
                FROM (
                    SELECT person_id, {", ".join(aggregates)}{extra_aggregates}
                    FROM (
                        SELECT person_id, timestamp, {row_columns}{pidx} AS pidx,
                            (is_target_e AND {target_outer}) AS is_target,
                            (is_return_e AND {return_outer}) AS is_return
                        FROM ({source})
                    )
                    GROUP BY person_id
                )
                WHERE notEmpty(cohorts)
            ) AS persons{self._breakdown_join_sql(b)}
        """

    def _breakdown_values_sql(self, b: SQLBuilder) -> str:
        """Array(String) of the person's breakdown values (one person property value, or
        the ids of the cohorts the person is in), computed per person, not per event."""
        breakdown = self.spec.breakdown
        if breakdown is None:
            return "['']"
        if isinstance(breakdown, CohortBreakdown):
            labels = [
                f"if({cohort_condition(b, cid, 'person_id', False)}, {b.bind(str(cid), 'String')}, '')"
                for cid in breakdown.cohorts
            ]
            return f"arrayFilter(x -> x != '', [{', '.join(labels)}])"
        return "[pp.breakdown_value]"

    def _breakdown_join_sql(self, b: SQLBuilder) -> str:
        """The person property of a property breakdown, joined once per counted person
        (a person without a persons row gets '', as EventSource's person join gives)."""
        breakdown = self.spec.breakdown
        if breakdown is None or isinstance(breakdown, CohortBreakdown):
            return ""
        _, person_columns = breakdown.column(b)
        return f"""
            LEFT JOIN (
                SELECT id, {person_columns["breakdown_value"]} AS breakdown_value
                FROM (SELECT id, properties AS person_properties FROM ({PERSON_PROPS_SQL}))
            ) AS pp ON pp.id = persons.person_id"""

    def run(self) -> RetentionResult:
        starts, end = self.periods()
        n = len(starts)
        b = SQLBuilder(self.project.id)
        total = b.bind(self.spec.total_intervals, "Int64")
        count = b.bind(n, "Int64")
        from_rollup = self.rollup_usable(starts, end)
        sql = f"""
            SELECT cohort, k, bv, count() AS persons
            FROM ({self.per_person_sql(b, starts, end, from_rollup=from_rollup)})
            ARRAY JOIN cohorts AS cohort
            ARRAY JOIN bvs AS bv
            ARRAY JOIN arrayConcat([toInt64(0)], arrayFilter(x -> x >= 1 AND x < {total} AND cohort + x < {count},
                arrayMap(r -> toInt64(r) - cohort, returns))) AS k
            GROUP BY cohort, k, bv
        """
        counts: dict[str, dict[tuple[int, int], int]] = {}
        for cohort, k, bv, persons in ch.query(sql, b.params).rows:
            counts.setdefault(bv, {})[(int(cohort), int(k))] = int(persons)
        values = self._breakdown_values(counts)
        rows = []
        for bv in values:
            cells = counts.get(bv if bv is not None else "", {})
            for i, start in enumerate(starts):
                width = min(self.spec.total_intervals, n - i)
                rows.append(RetentionRow(i, start, bv, [cells.get((i, k), 0) for k in range(width)]))
        labels = {}
        if isinstance(self.spec.breakdown, CohortBreakdown):
            labels = cohort_names(self.project.pk, self.spec.breakdown.cohorts)
        return RetentionResult(self.spec, self.project.time_zone, starts, end, rows, labels)

    def _breakdown_values(self, counts: dict) -> list[str | None]:
        """Breakdown values in display order; property values beyond `limit` fold into Other
        (each person has one value of a person property, so adding counts is exact)."""
        breakdown = self.spec.breakdown
        if breakdown is None:
            return [None]
        if isinstance(breakdown, CohortBreakdown):
            return [str(c) for c in breakdown.cohorts]

        def size(bv):
            return sum(v for (_, k), v in counts[bv].items() if k == 0)

        ordered = sorted(counts, key=lambda bv: (-size(bv), bv))
        keep, rest = ordered[: breakdown.limit], ordered[breakdown.limit :]
        if rest:
            other: dict[tuple[int, int], int] = {}
            for bv in rest:
                for key, v in counts.pop(bv).items():
                    other[key] = other.get(key, 0) + v
            counts[OTHER_VALUE] = other
            keep.append(OTHER_VALUE)
        return keep


# ---------------------------------------------------------------- actors
@dataclass(frozen=True)
class RetentionActor:
    person_id: str
    distinct_id: str
    session_id: str
    last_seen: dt.datetime | None


@dataclass(frozen=True)
class RetentionActorsResult:
    cohort_start: dt.datetime
    period_start: dt.datetime
    offset: int
    breakdown_value: str | None
    total_persons: int
    persons: list[RetentionActor]
    # The periods' names in the project's zone, as the matrix names its rows (RetentionResult.to_json).
    cohort_date: dt.date | None = None
    period_date: dt.date | None = None


class RetentionActorsRunner:
    """The persons of one matrix cell: cohort `cohort_index`, offset `offset` (0 = the
    cohort itself), one breakdown value; with their latest distinct_id and the latest
    session of the counted event in that period (for a recording link)."""

    def __init__(
        self,
        project,
        spec: RetentionSpec,
        cohort_index: int,
        offset: int,
        breakdown_value: str | None = None,
        now: dt.datetime | None = None,
        limit: int = ACTORS_LIMIT,
    ):
        self.project = project
        self.spec = spec
        self.cohort_index = cohort_index
        self.offset = offset
        self.breakdown_value = breakdown_value
        self.limit = limit
        self.matrix = RetentionQueryRunner(project, spec, now)

    def run(self) -> RetentionActorsResult:
        starts, end = self.matrix.periods()
        i, k = self.cohort_index, self.offset
        if not 0 <= i < len(starts):
            raise BadRequest("Invalid cell.", {"cohort": "no such cohort period"})
        if not 0 <= k < min(self.spec.total_intervals, len(starts) - i):
            raise BadRequest("Invalid cell.", {"offset": "no such period for this cohort"})
        b = SQLBuilder(self.project.id)
        period = b.bind(i + k, "Int64")
        which = "is_target" if k == 0 else "is_return"
        extra = f""",
                argMax(distinct_id, timestamp) AS last_distinct_id, max(timestamp) AS last_seen,
                argMaxIf(session_id, timestamp, session_id != '' AND pidx = {period} AND {which}) AS cell_session"""
        conditions = [f"has(cohorts, {b.bind(i, 'Int64')})"]
        if k > 0:
            conditions.append(f"has(returns, {period})")
        breakdown = self.spec.breakdown
        if breakdown is not None:
            if self.breakdown_value is None:
                raise BadRequest("Invalid cell.", {"breakdown_value": "pick a breakdown value"})
            if self.breakdown_value == OTHER_VALUE and not isinstance(breakdown, CohortBreakdown):
                top = [v for v in self.matrix.run().breakdown_values() if v != OTHER_VALUE]
                conditions.append(f"NOT hasAny(bvs, {b.bind(top, 'Array(String)')})")
            else:
                conditions.append(f"has(bvs, {b.bind(self.breakdown_value, 'String')})")
        sql = f"""
            SELECT toString(person_id) AS person, last_distinct_id, cell_session, last_seen, count() OVER () AS total
            FROM ({self.matrix.per_person_sql(b, starts, end, extra)})
            WHERE {" AND ".join(conditions)}
            ORDER BY last_seen DESC, person
            LIMIT {b.bind(self.limit, "UInt32")}
        """
        rows = ch.query(sql, b.params).rows
        persons = [RetentionActor(r[0], r[1], r[2], r[3]) for r in rows]
        return RetentionActorsResult(
            cohort_start=starts[i],
            period_start=starts[i + k],
            cohort_date=local_date(starts[i], self.matrix.tz),
            period_date=local_date(starts[i + k], self.matrix.tz),
            offset=k,
            breakdown_value=self.breakdown_value,
            total_persons=int(rows[0][4]) if rows else 0,
            persons=persons,
        )
