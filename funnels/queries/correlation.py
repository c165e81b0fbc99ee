"""FunnelCorrelationRunner: the SQL of funnel correlation analysis (funnels/correlation.py
has the spec, the statistics and the result; docs/funnels.md, "Correlation analysis").

One query per analysis: the funnel's own per-actor query (`funnel_sql`, as the
drill-down) gives every person who entered their success and window; the events read
again (every name, through the person overrides) are joined to those persons; per
person the set of candidates in the window; per candidate the persons of each group.
"""

from __future__ import annotations

import dataclasses
import datetime as dt

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from governance import presenter as presenter_mod
from insights.blocks import EventSource
from insights.blocks.filters import event_text_sql, person_text_sql
from insights.blocks.source import PERSON_PROPS_SQL

from ..correlation import MAX_CANDIDATES, NOISE_EVENTS, CorrelationResult, FunnelCorrelationSpec, rank
from .base import QUERY_SETTINGS
from .runners import _resolve, funnel_sql


class FunnelCorrelationRunner:
    def __init__(self, project, spec: FunnelCorrelationSpec):
        self.project = project
        self.spec = spec

    def _funnel(self):
        # The whole funnel: a breakdown does not change who converted.
        funnel = dataclasses.replace(self.spec.funnel, breakdown=None, conversion_times=False)
        start, end = _resolve(self.project, funnel)
        return funnel_sql(self.project, funnel, start, end), start, end

    def persons_sql(self, q) -> str:
        """One row per person who entered: person_id, success, entry_at, until (µs)."""
        k = self.spec.target  # a validated step index: structure, not a value
        return f"""
        SELECT person_id, level > {k} AS success, attempt_start[counted] AS entry_at,
            if(level > {k}, {q.step_at("time", k, "counted")}, attempt_start[counted] + {q.w}) AS until
        FROM ({q.actors_sql(sessions=False)})
        WHERE level > 0
        """

    def _window_events(self, q, start, end, *, candidate_sql: str, every_event: bool) -> str:
        """Per person who entered: success and `groupUniqArray` of `candidate_sql` over the
        events in their window (no step events unless `every_event`). The persons are the
        right side of the join (the hash table, small) and a RIGHT JOIN keeps those with no
        event read (their row's event columns are defaults: time 0, outside any window)."""
        b = q.b
        excluded = set(NOISE_EVENTS)
        if not every_event:
            excluded |= {s.event for s in self.spec.funnel.steps}
        where = [f"e.event NOT IN {b.bind(sorted(excluded), 'Array(String)')}"]
        if not every_event and not self.spec.include_internal:
            where.append("NOT startsWith(e.event, '$')")
        src = EventSource(
            self.project,
            b,
            start,
            end + dt.timedelta(microseconds=self.spec.funnel.window.micros),
            event_columns={"candidate": candidate_sql},
            need_person=True,
            where=where,
        )
        return f"""
        SELECT a.person_id AS person_id, any(a.success) AS success,
            groupUniqArrayIf(ev.candidate,
                toInt64(toUnixTimestamp64Micro(ev.timestamp)) >= a.entry_at
                AND toInt64(toUnixTimestamp64Micro(ev.timestamp)) <= a.until
                AND ev.candidate != '') AS candidates
        FROM ({src.sql()}) AS ev
        RIGHT JOIN ({self.persons_sql(q)}) AS a ON a.person_id = ev.person_id
        GROUP BY a.person_id
        """

    def per_person_sql(self):
        """(SQL, the funnel's per-actor query builder): one row per person who entered with
        `success` and `candidates` (the events, or property values, in their window)."""
        q, start, end = self._funnel()
        spec = self.spec
        if spec.correlation_type == "properties" and spec.property_type == "person":
            text, _ = person_text_sql(q.b, spec.property_key, "pp.properties")
            sql = f"""
            SELECT a.person_id AS person_id, a.success AS success,
                if({text} = '', CAST([], 'Array(String)'), [{text}]) AS candidates
            FROM ({self.persons_sql(q)}) AS a
            LEFT JOIN ({PERSON_PROPS_SQL}) AS pp ON pp.id = a.person_id
            """
            return sql, q
        if spec.correlation_type == "properties":
            text, _ = event_text_sql(q.b, spec.property_key)  # materialized column when there is one
            return self._window_events(q, start, end, candidate_sql=text, every_event=True), q
        return self._window_events(q, start, end, candidate_sql="e.event", every_event=False), q

    def sql(self) -> tuple[str, dict]:
        """candidate (NULL: the totals row), converted persons, dropped persons; the
        totals row first, then the most frequent candidates. Every person who entered has
        a row in `per_person` (a NULL candidate added to each counts the totals), so the
        funnel's per-actor query runs once."""
        per_person, q = self.per_person_sql()
        sql = f"""
        SELECT candidate, countIf(success) AS s, countIf(NOT success) AS f
        FROM (
            SELECT success, arrayJoin(arrayPushFront(CAST(candidates, 'Array(Nullable(String))'), NULL)) AS candidate
            FROM ({per_person})
        )
        GROUP BY candidate
        ORDER BY candidate IS NOT NULL, s + f DESC, candidate
        LIMIT {q.b.bind(MAX_CANDIDATES + 1, "UInt32")}
        """
        return sql, q.b.params

    def run(self) -> CorrelationResult:
        sql, params = self.sql()
        counts: dict[str, tuple[int, int]] = {}
        s_total = f_total = 0
        for cand, s, f in ch.query(sql, params, settings=QUERY_SETTINGS).rows:
            if cand is None:
                s_total, f_total = int(s), int(f)
            else:
                counts[cand] = (int(s), int(f))
        positive, negative = rank(counts, s_total, f_total, self.spec.top)
        return CorrelationResult(self.spec, s_total, f_total, positive, negative, len(counts))

    # ------------------------------------------------------------ people
    def people_sql(self, status: str, candidate: str, limit: int) -> tuple[str, dict]:
        """The persons who entered, converted (or dropped), and had `candidate` in their
        window: person_id, at most `limit`, by person id."""
        per_person, q = self.per_person_sql()
        b = q.b
        cond = "success" if status == "converted" else "NOT success"
        sql = f"""
        SELECT toString(person_id) AS person_id
        FROM ({per_person})
        WHERE {cond} AND has(candidates, {b.bind(candidate, "String")})
        ORDER BY person_id
        LIMIT {b.bind(limit, "UInt32")}
        """
        return sql, b.params

    def raw_value(self, candidate: str) -> str:
        """The raw value behind a people link's candidate (a masked label's token is
        resolved among this analysis' candidates by its keyed tag)."""
        if not candidate.startswith(presenter_mod.TOKEN_PREFIX):
            return candidate
        tag = candidate.removeprefix(presenter_mod.TOKEN_PREFIX)
        sql, params = self.sql()
        for cand, _, _ in ch.query(sql, params, settings=QUERY_SETTINGS).rows:
            if cand is not None and presenter_mod.label_tag(self.project.pk, cand) == tag:
                return cand
        raise BadRequest("Invalid people list.", {"candidate": "not a value of this correlation"})

    def people(self, status: str, candidate: str, limit: int) -> list[str]:
        sql, params = self.people_sql(status, self.raw_value(candidate), limit)
        return [r[0] for r in ch.query(sql, params, settings=QUERY_SETTINGS).rows]
