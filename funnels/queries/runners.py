"""Funnel runners: counts per step (FunnelQueryRunner), the actors behind a step
(FunnelActorsQueryRunner), time to convert (FunnelTimeToConvertRunner) and conversion
by entry day (FunnelTrendsRunner). Each one aggregates the per-actor query of the
funnel's order (`funnel_sql`)."""

from __future__ import annotations

import datetime as dt
import json

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from governance import presenter
from insights.blocks.breakdown import ALL_USERS, OTHER_VALUE, cohort_labels, cohort_values_sql
from insights.blocks.dates import interval_starts

from ..spec import FunnelActorsSpec, FunnelSpec
from .base import QUERY_SETTINGS, FunnelSQL, forget_codes
from .ordered import OrderedFunnelSQL
from .results import (
    BreakdownResult,
    FunnelActor,
    FunnelActorsResult,
    FunnelResult,
    TimeToConvertResult,
    TrendPoint,
    build_steps,
    from_micros,
)
from .strict import StrictFunnelSQL
from .unordered import UnorderedFunnelSQL
from .windowfunnel import WindowFunnelSQL, fits, windowfunnel_eligible

ENGINES = ("auto", "arrays", "windowfunnel")
SQL_BY_ORDER: dict[str, type[FunnelSQL]] = {
    "ordered": OrderedFunnelSQL,
    "strict": StrictFunnelSQL,
    "unordered": UnorderedFunnelSQL,
}


def funnel_sql(
    project, spec: FunnelSpec, start: dt.datetime, end: dt.datetime, *, person_ids=None
) -> FunnelSQL:
    """The per-actor query (arrays engine) of the spec's order."""
    return SQL_BY_ORDER[spec.order](project, spec, start, end, person_ids=person_ids)


def with_cohorts(q: FunnelSQL, actors: str, cohorts) -> str:
    """A cohort breakdown: each actor row once per listed cohort its person is in, the
    cohort's id (as text) as breakdown_value (a person in two cohorts counts in both)."""
    values = cohort_values_sql(q.b, cohorts, "person_id")
    return f"SELECT * EXCEPT (breakdown_value), arrayJoin({values}) AS breakdown_value FROM ({actors})"


def _is_cohort(spec: FunnelSpec) -> bool:
    return spec.breakdown is not None and spec.breakdown.type == "cohort"


def _resolve(project, spec: FunnelSpec) -> tuple[dt.datetime, dt.datetime]:
    start, end = spec.date_range.resolve(project.tz)
    if start is None:
        first = ch.query(
            "SELECT min(timestamp) FROM events WHERE project_id = {project_id:UInt32}",
            {"project_id": project.id},
        ).scalar()
        start = first.replace(tzinfo=dt.UTC) if first else end - dt.timedelta(days=1)
        if start.year < 2000:
            start = end - dt.timedelta(days=1)
    return start, end


# ------------------------------------------------------------------ counts per step
class FunnelQueryRunner:
    """Counts, rates and conversion times per step (and per breakdown value)."""

    def __init__(self, project, spec: FunnelSpec, *, engine: str = "auto"):
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}")
        if engine == "windowfunnel" and not windowfunnel_eligible(spec):
            raise ValueError(
                "windowFunnel cannot compute this funnel exactly (see funnels/queries/windowfunnel.py)"
            )
        self.project = project
        self.spec = spec
        self.engine = (
            "windowfunnel"
            if engine == "auto" and windowfunnel_eligible(spec)
            else ("arrays" if engine == "auto" else engine)
        )

    def sql(self) -> tuple[str, dict, dt.datetime, dt.datetime]:
        start, end = _resolve(self.project, self.spec)
        if self.engine == "windowfunnel" and not fits(self.spec, start, end):
            self.engine = "arrays"  # a range of millennia: the packed keys would not hold it
        if self.engine == "windowfunnel":
            q: FunnelSQL = WindowFunnelSQL(self.project, self.spec, start, end)
        else:
            q = funnel_sql(self.project, self.spec, start, end)
            q.guess_codes = True  # checked below (unknown_code) and in run()
        actors = q.actors_sql(sessions=False)
        self._guessed = q.codes_guessed
        if _is_cohort(self.spec):
            actors = with_cohorts(q, actors, self.spec.breakdown.cohorts)
        n = q.n
        times = self.spec.conversion_times and self.engine == "arrays"
        # Per step k: actors reached, and for k >= 1 the sum / count / median states of
        # the conversion times (zeros when not asked for: ClickHouse then drops the
        # per-step time columns upstream).
        per_value = [f"countIf(level > {k}) AS reached{k}" for k in range(n)]
        for k in range(1, n):
            if times:
                per_value += [
                    f"sumIf(conv_time{k}, conv_time{k} >= 0) AS time_sum{k}",
                    f"countIf(conv_time{k} >= 0) AS time_count{k}",
                    f"quantileExactLowIfState(0.5)(conv_time{k}, conv_time{k} >= 0) AS median_low{k}",
                    f"quantileExactHighIfState(0.5)(conv_time{k}, conv_time{k} >= 0) AS median_high{k}",
                ]
            else:
                per_value += [
                    f"0 AS time_sum{k}",
                    f"0 AS time_count{k}",
                    f"0 AS median_low{k}",
                    f"0 AS median_high{k}",
                ]
        if self._guessed:
            per_value.append("max(unknown_code) AS unknown_code")
        merged = [f"sum(reached{k}) AS reached{k}" for k in range(n)]
        for k in range(1, n):
            if times:
                merged += [
                    f"sum(time_sum{k})",
                    f"sum(time_count{k})",
                    f"quantileExactLowIfMerge(0.5)(median_low{k})",
                    f"quantileExactHighIfMerge(0.5)(median_high{k})",
                ]
            else:
                merged += ["0", "0", "0", "0"]
        if self._guessed:
            merged.append("max(unknown_code)")
        if self.spec.breakdown is None:  # one group: no ranking, no merge of states
            single = [f"countIf(level > {k})" for k in range(n)]
            for k in range(1, n):
                single += (
                    [
                        f"sumIf(conv_time{k}, conv_time{k} >= 0)",
                        f"countIf(conv_time{k} >= 0)",
                        f"quantileExactLowIf(0.5)(conv_time{k}, conv_time{k} >= 0)",
                        f"quantileExactHighIf(0.5)(conv_time{k}, conv_time{k} >= 0)",
                    ]
                    if times
                    else ["0", "0", "0", "0"]
                )
            sql = f"""
            SELECT '' AS shown_value, 1 AS rank, {", ".join(single)}
            FROM ({actors})
            WHERE level > 0
            HAVING count() > 0
            """
            return sql, q.b.params, start, end
        # Values ranked by their first-step count (ties by value); the top `limit` kept,
        # the rest merged into Other from the same states.
        limit = q.b.bind(self.spec.breakdown.limit, "UInt32")
        other = q.b.bind(OTHER_VALUE, "String")
        sql = f"""
        SELECT if(size_rank <= {limit}, breakdown_value, {other}) AS shown_value, min(size_rank) AS rank,
            {", ".join(merged)}
        FROM (
            SELECT breakdown_value, {", ".join(per_value)},
                row_number() OVER (ORDER BY count() DESC, breakdown_value) AS size_rank
            FROM ({actors})
            WHERE level > 0
            GROUP BY breakdown_value
        )
        GROUP BY shown_value
        ORDER BY rank
        """
        return sql, q.b.params, start, end

    def run(self) -> FunnelResult:
        sql, params, start, end = self.sql()
        rows = ch.query(sql, params, settings=QUERY_SETTINGS).rows
        if self._guessed:  # packed with the values seen before: was every value among them?
            if any(row[-1] for row in rows):
                forget_codes(self.project.id, self.spec.breakdown.property)
                return self.run()  # exactly this time: the codes query runs
            rows = [row[:-1] for row in rows]
        n = len(self.spec.steps)
        results = []
        for row in rows:
            value, rank = row[0], row[1]
            counts = list(row[2 : 2 + n])
            avgs, medians = [None], [None]
            rest = row[2 + n :]
            for k in range(1, n):
                s, c, low, high = rest[4 * (k - 1) : 4 * k]
                if c and self.spec.conversion_times and self.engine == "arrays":
                    avgs.append(s / c / 1e6)
                    medians.append((low + high) / 2 / 1e6)
                else:
                    avgs.append(None)
                    medians.append(None)
            results.append(
                BreakdownResult(
                    value if self.spec.breakdown else None,
                    build_steps(self.spec, counts, avgs, medians),
                    rank,
                )
            )
        if not results and self.spec.breakdown is None:
            results.append(BreakdownResult(None, build_steps(self.spec, [0] * n, [None] * n, [None] * n)))
        if self.spec.breakdown is not None:
            # "Other" last, whatever its size.
            results.sort(key=lambda r: (r.value == OTHER_VALUE, r.rank))
        if _is_cohort(self.spec):
            results = self._cohort_rows(results)
        return FunnelResult(self.spec, start, end, results, self.engine)

    def _cohort_rows(self, results: list[BreakdownResult]) -> list[BreakdownResult]:
        """One row per listed cohort, in the order picked (an empty one as zeros), labelled
        with the cohort's name."""
        n = len(self.spec.steps)
        cohorts = self.spec.breakdown.cohorts
        names = cohort_labels(self.project.id, cohorts)
        found = {r.value: r for r in results}
        out = []
        for rank, cid in enumerate(cohorts, start=1):
            r = found.get(str(cid))
            steps = r.steps if r else build_steps(self.spec, [0] * n, [None] * n, [None] * n)
            out.append(BreakdownResult(str(cid), steps, rank, name=names[str(cid)]))
        return out


# ------------------------------------------------------------------ actors
PERSONS_SQL = """
    SELECT id, argMax(properties, version) AS properties
    FROM persons
    WHERE project_id = {project_id:UInt32} AND id IN {ids:Array(UUID)}
    GROUP BY id
"""
DISTINCT_IDS_SQL = """
    SELECT person_id, groupArray(distinct_id) AS distinct_ids
    FROM (
        SELECT distinct_id, argMax(person_id, version) AS person_id, argMax(is_deleted, version) AS deleted
        FROM person_distinct_ids
        WHERE project_id = {project_id:UInt32}
        GROUP BY distinct_id
    )
    WHERE deleted = 0 AND person_id IN {ids:Array(UUID)}
    GROUP BY person_id
"""


class FunnelActorsQueryRunner:
    """Actors converted at step k (reached step >= k) or dropped at k (reached k-1 exactly)."""

    def __init__(self, project, spec: FunnelActorsSpec, *, with_persons: bool = True):
        self.project = project
        self.spec = spec
        self.with_persons = with_persons

    def _raw_breakdown_value(self) -> str:
        """The raw value behind `breakdown_value`, which may be the token of a masked label
        (docs/access.md): found among this funnel's top values by its keyed tag."""
        value = self.spec.breakdown_value
        if not value.startswith(presenter.TOKEN_PREFIX):
            return value
        tag = value.removeprefix(presenter.TOKEN_PREFIX)
        for r in FunnelQueryRunner(self.project, self.spec.funnel, engine="arrays").run().results:
            if r.value not in ("", OTHER_VALUE) and presenter.label_tag(self.project.pk, r.label) == tag:
                return r.value
        raise BadRequest("Invalid drill-down.", {"breakdown_value": "not a breakdown value of this funnel"})

    def _where(self):
        """(the funnel's SQL, the conditions picking this step's converted / dropped actors)."""
        funnel = self.spec.funnel
        start, end = _resolve(self.project, funnel)
        q = funnel_sql(self.project, funnel, start, end)
        b = q.b
        step = b.bind(self.spec.step, "UInt32")
        cond = f"level - 1 >= {step}" if self.spec.status == "converted" else f"level = {step}"
        where = ["level > 0", cond]
        if self.spec.breakdown_value is not None and _is_cohort(funnel):
            value = self.spec.breakdown_value
            if value not in [str(c) for c in funnel.breakdown.cohorts]:
                raise BadRequest("Invalid drill-down.", {"breakdown_value": "not a cohort of this breakdown"})
            if value != ALL_USERS:
                where.append(cohort_values_sql(b, [int(value)], "person_id") + " != []")
        elif self.spec.breakdown_value is not None and funnel.breakdown is not None:
            if self.spec.breakdown_value == OTHER_VALUE:
                top = [
                    r.value
                    for r in FunnelQueryRunner(self.project, funnel, engine="arrays").run().results
                    if r.value != OTHER_VALUE
                ]
                where.append(f"breakdown_value NOT IN {b.bind(top, 'Array(String)')}")
            else:
                where.append(f"breakdown_value = {b.bind(self._raw_breakdown_value(), 'String')}")
        return q, where, start, end

    def all_persons_sql(self, limit: int) -> tuple[str, dict]:
        """Every actor's person of this step (not a page): person_id, reached step (0-based),
        reached at (micros), in the drill-down's order, at most `limit` rows."""
        q, where, _, _ = self._where()
        sql = f"""
        SELECT toString(person_id) AS person_id, level - 1 AS reached_step, reached_at
        FROM ({q.actors_sql(sessions=False)})
        WHERE {" AND ".join(where)}
        ORDER BY reached_at DESC, person_id, actor_key
        LIMIT {q.b.bind(limit, "UInt32")}
        """
        return sql, q.b.params

    def run(self) -> FunnelActorsResult:
        funnel = self.spec.funnel
        q, where, start, end = self._where()
        b = q.b
        # Two passes: the page of actors without sessions (collecting and sorting every
        # actor's session ids doubled the cost), then the sessions of that page's
        # persons only (the per-actor result depends on the actor's own events alone).
        sql = f"""
        SELECT toString(person_id) AS person_id, actor_key, level, reached_at, count() OVER () AS total
        FROM ({q.actors_sql(sessions=False)})
        WHERE {" AND ".join(where)}
        ORDER BY reached_at DESC, person_id, actor_key
        LIMIT {b.bind(self.spec.limit, "UInt32")} OFFSET {b.bind(self.spec.offset, "UInt32")}
        """
        page = ch.query(sql, b.params, settings=QUERY_SETTINGS).rows
        total = page[0][4] if page else self._count(q, where)
        sessions = {}
        if page:
            q2 = funnel_sql(self.project, funnel, start, end, person_ids=sorted({r[0] for r in page}))
            q2.b.overrides = q.b.overrides  # as the page was found (and one query fewer)
            found = ch.query(
                f"SELECT toString(person_id), actor_key, sessions, last_session FROM ({q2.actors_sql()}) WHERE level > 0",
                q2.b.params,
                settings=QUERY_SETTINGS,
            ).rows
            sessions = {(pid, key): (list(sids), last) for pid, key, sids, last in found}
        rows = [
            (pid, key, level, at, *sessions.get((pid, key), ([], "")), total)
            for pid, key, level, at, total in page
        ]
        ids = sorted({r[0] for r in rows})
        props, dids = {}, {}
        if ids and self.with_persons:
            params = {"project_id": self.project.id, "ids": ids}
            for pid, raw in ch.query(PERSONS_SQL, params).rows:
                try:
                    props[str(pid)] = json.loads(raw) if raw else {}
                except ValueError:
                    props[str(pid)] = {}
            dids = {str(pid): sorted(d) for pid, d in ch.query(DISTINCT_IDS_SQL, params).rows}
        actors = [
            FunnelActor(
                person_id=pid,
                aggregation_value=key if funnel.aggregate_by.kind != "person" else None,
                reached_step=level - 1,
                reached_at=from_micros(reached_at),
                session_ids=list(sessions),
                session_id_at_last_step=last or None,
                distinct_ids=dids.get(pid, []),
                properties=props.get(pid, {}),
            )
            for pid, key, level, reached_at, sessions, last, _ in rows
        ]
        return FunnelActorsResult(self.spec, actors, total)

    def _count(self, q: FunnelSQL, where: list[str]) -> int:
        if self.spec.offset == 0:
            return 0
        sql = f"SELECT count() FROM ({q.actors_sql(sessions=False)}) WHERE {' AND '.join(where)}"
        return ch.query(sql, q.b.params, settings=QUERY_SETTINGS).scalar() or 0


# ------------------------------------------------------------------ time to convert
class FunnelTimeToConvertRunner:
    """Time from the first to the last step (of the earliest-start attempt that
    completed the funnel), in power-of-two second bins: [0,1), [1,2), [2,4), ..., the last
    one ending at the conversion window."""

    def __init__(self, project, spec: FunnelSpec):
        self.project = project
        self.spec = spec

    def run(self) -> TimeToConvertResult:
        start, end = _resolve(self.project, self.spec)
        q = funnel_sql(self.project, self.spec, start, end)
        done = f"level = {len(self.spec.steps)} AND total_time >= 0"
        sql = f"""
        SELECT groupArray((bin, actors)), sum(actors), sum(time_sum),
            quantileExactLowMerge(0.5)(median_low), quantileExactHighMerge(0.5)(median_high)
        FROM (
            SELECT if(total_time < 1000000, -1, toInt32(floor(log2(total_time / 1e6)))) AS bin,
                count() AS actors, sum(total_time) AS time_sum,
                quantileExactLowState(0.5)(total_time) AS median_low,
                quantileExactHighState(0.5)(total_time) AS median_high
            FROM ({q.actors_sql(sessions=False)})
            WHERE {done}
            GROUP BY bin
        )
        """
        pairs, total, s, low, high = ch.query(sql, q.b.params, settings=QUERY_SETTINGS).rows[0]
        # No conversion takes longer than the window (reached at exactly the window
        # counts): the last bin ends there, not at the next power of two.
        window_s = self.spec.window.micros / 1e6
        bins = []
        for bin_, count in sorted(pairs):
            lo = 0.0 if bin_ < 0 else float(2**bin_)
            hi = 1.0 if bin_ < 0 else float(2 ** (bin_ + 1))
            bins.append((lo, min(hi, window_s), count))
        avg = s / total if total else None
        return TimeToConvertResult(
            bins, total or 0, (avg / 1e6) if total else None, ((low + high) / 2 / 1e6) if total else None
        )


# ------------------------------------------------------------------ conversion over time
class FunnelTrendsRunner:
    """Conversion rate by entry day (project time zone): for each local day, the actors
    with a non-void attempt starting that day, and those of them with such an attempt
    completing the funnel."""

    def __init__(self, project, spec: FunnelSpec):
        self.project = project
        self.spec = spec

    def run(self) -> list[TrendPoint]:
        start, end = _resolve(self.project, self.spec)
        q = funnel_sql(self.project, self.spec, start, end)
        tz = q.b.bind(self.project.time_zone, "String")
        n = len(self.spec.steps)
        sql = f"""
        SELECT day, count() AS entered, countIf(best = {n}) AS converted
        FROM (
            SELECT person_id, actor_key, toDate(toTimeZone(fromUnixTimestamp64Micro(attempt.1), {tz})) AS day,
                max(attempt.2) AS best
            FROM ({q.actors_sql(sessions=False)})
            ARRAY JOIN arrayZip(attempt_start, valid_reach) AS attempt
            WHERE attempt.2 > 0
            GROUP BY person_id, actor_key, day
        )
        GROUP BY day
        ORDER BY day
        """
        found = {
            day: (entered, converted)
            for day, entered, converted in ch.query(sql, q.b.params, settings=QUERY_SETTINGS).rows
        }
        tz_info = self.project.tz
        out = []
        for moment in interval_starts(start, end, "day", tz_info):
            entered, converted = found.get(moment.date(), (0, 0))
            out.append(TrendPoint(moment, entered, converted))
        return out
