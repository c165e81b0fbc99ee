"""Retention runners: the cohort x period matrix and the persons behind one cell.

One pass over the events (EventSource: person resolved through person_distinct_ids,
global filters applied), grouped per person:

    SELECT person_id,
           groupUniqArrayIf(pidx, is_target)    -- recurring: every cohort period
           argMinIf(pidx, timestamp, is_target) -- first_time: the period of the first
                                                 -- target event ever (-1 if before the range)
           groupUniqArrayIf(pidx, is_return)    -- periods with a returning event

`pidx` is the index of the event's period among the cohort periods (bucketed by
insights.blocks.dates.bucket_sql in the project's zone, matched by instant against
interval_starts; -1 outside them). Then `ARRAY JOIN` the person's cohort periods
and the offsets `[0] + (return - cohort for returns after the cohort)`, and count
persons per (cohort, offset, breakdown value). Offset 0 is the cohort size.
Measured in bench/bench_retention.py; the approach is the dateDiff / groupUniqArray
one of the engine probe (docs/retention.md).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from cohorts.membership import cohort_condition, cohort_names
from insights.blocks import EventSource, Interval, SQLBuilder
from insights.blocks import filters as filter_blocks
from insights.blocks.breakdown import NONE_LABEL, OTHER_LABEL, OTHER_VALUE
from insights.blocks.dates import bucket_sql, interval_starts, local_date, local_midnight
from insights.blocks.source import DT64

from .spec import CohortBreakdown, Entity, Period, RetentionSpec, RetentionType

ACTORS_LIMIT = 100


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

    def per_person_sql(
        self, b: SQLBuilder, starts: list[dt.datetime], end: dt.datetime, extra_aggregates: str = ""
    ) -> str:
        """One row per person: cohorts (Array of period indexes), returns, bvs (breakdown values)."""
        spec = self.spec
        p0 = starts[0]
        tz = b.bind(self.project.time_zone, "String")
        first_time = spec.retention_type == RetentionType.FIRST_TIME
        target_inner, target_outer = self._entity_flags(b, spec.target_event)
        return_inner, return_outer = self._entity_flags(b, spec.returning_event)
        entity_filters = spec.target_event.properties + spec.returning_event.properties
        event_columns, person_columns = {}, {}
        breakdown = spec.breakdown
        if breakdown is not None and not isinstance(breakdown, CohortBreakdown):
            event_columns, person_columns = breakdown.column(b)
        event_columns = {**event_columns, "is_target_e": target_inner, "is_return_e": return_inner}
        where = []
        if first_time:
            # Target events from all time (the first one ever decides the cohort); others from the range.
            where.append(
                f"(e.event = {b.bind(spec.target_event.event, 'String')} OR e.timestamp >= {b.bind(p0, DT64)})"
            )
        src = EventSource(
            self.project,
            b,
            None if first_time else p0,
            end,
            events=sorted({spec.target_event.event, spec.returning_event.event}),
            filters=tuple(spec.properties),
            event_columns=event_columns,
            person_columns=person_columns,
            need_person=True,
            need_person_properties=filter_blocks.needs_person_properties(entity_filters),
            where=where,
        )
        starts_param = b.bind([int(s.timestamp()) for s in starts], "Array(Int64)")
        bucket = bucket_sql(Interval(spec.period.value), "timestamp", tz)
        bv = "breakdown_value" if "breakdown_value" in {**event_columns, **person_columns} else "''"
        if first_time:
            cohorts = "if(first_pidx >= 0 AND countIf(is_target) > 0, [first_pidx], [])"
            cohort_agg = "argMinIf(pidx, timestamp, is_target) AS first_pidx"
        else:
            cohorts = "groupUniqArrayIf(pidx, is_target AND pidx >= 0)"
            cohort_agg = "0 AS first_pidx"
        if isinstance(breakdown, CohortBreakdown):
            labels = [
                f"if({cohort_condition(b, cid, 'person_id', False)}, {b.bind(str(cid), 'String')}, '')"
                for cid in breakdown.cohorts
            ]
            bvs = f"arrayFilter(x -> x != '', [{', '.join(labels)}])"
        else:
            bvs = "[any(bv0)]"
        return f"""
            SELECT person_id, {bvs} AS bvs, {cohort_agg}, {cohorts} AS cohorts,
                groupUniqArrayIf(pidx, is_return AND pidx >= 0) AS returns{extra_aggregates}
            FROM (
                SELECT person_id, {bv} AS bv0, timestamp, distinct_id, session_id,
                    toInt64(indexOf({starts_param}, toInt64(toUnixTimestamp({bucket})))) - 1 AS pidx,
                    (is_target_e AND {target_outer}) AS is_target,
                    (is_return_e AND {return_outer}) AS is_return
                FROM ({src.sql()})
            )
            GROUP BY person_id
            HAVING notEmpty(cohorts)
        """

    def run(self) -> RetentionResult:
        starts, end = self.periods()
        n = len(starts)
        b = SQLBuilder(self.project.id)
        total = b.bind(self.spec.total_intervals, "Int64")
        count = b.bind(n, "Int64")
        sql = f"""
            SELECT cohort, k, bv, count() AS persons
            FROM ({self.per_person_sql(b, starts, end)})
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
