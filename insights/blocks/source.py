"""The events a query reads, as a subquery with the person resolved.

    b = SQLBuilder(project.id)
    src = EventSource(project, b, start, end, events=["signup"], filters=filters,
                      event_columns={"plan": event_text_sql(b, "plan")[0]},
                      need_person=True)
    sql = f"SELECT plan, uniqExact(person_id) FROM ({src.sql()}) GROUP BY plan"

Columns: uuid, event, distinct_id, timestamp, session_id, person_id (the current
person: the person at ingestion unless a merge re-pointed the distinct_id since,
see PERSON_OVERRIDES_SQL),
person_properties (when person filters or person columns need it), plus the
requested extra columns. Event-property expressions are computed in the innermost
SELECT, where `properties` is the table's JSON column, so ClickHouse reads only the
sub-columns it needs.
"""

from __future__ import annotations

import datetime as dt
import threading
from dataclasses import dataclass, field

from django.conf import settings

from analytics_app import clickhouse as ch

from .builder import SQLBuilder
from .filters import MATERIALIZED_EVENT_COLUMNS, filters_sql, needs_person_properties

DT64 = "DateTime64(6, 'UTC')"
# The materialized hot-property columns pass through, so expressions built by
# filters.event_text_sql work inside and outside the subquery (unused ones are pruned).
MAT_COLUMNS = "".join(f", e.{c} AS {c}" for c in MATERIALIZED_EVENT_COLUMNS.values())
# The tables an EventSource may read (`table`).
SOURCE_TABLES = ("events", "funnel_events")
ZERO_UUID = "toUUID('00000000-0000-0000-0000-000000000000')"

# Latest person for every distinct_id of the project.
PERSON_MAP_SQL = """
    SELECT distinct_id, argMax(person_id, version) AS person_id
    FROM person_distinct_ids
    WHERE project_id = {project_id:UInt32}
    GROUP BY distinct_id
    HAVING argMax(is_deleted, version) = 0
"""

# Only distinct_ids whose mapping changed person (a merge re-pointed them): events
# of every other distinct_id already carry their current person. Ingestion writes a
# mapping row for each new distinct_id with the person its events get, so "more than
# one person ever" is exactly "some events carry a stale person" -- until the squash
# (ingestion/squash.py) rewrites those events' person and writes a `squashed` copy of
# the latest row (same version, same person): a squashed distinct_id's events carry
# its current person again and leave the overrides, until a later merge re-points it.
# This keeps the overrides small (the merges since the last squash) -- see
# docs/clickhouse.md, "Person overrides".
_OVERRIDES_SQL = """
    SELECT distinct_id, argMax(mapped_person_id, (version, squashed)) AS person_id
    FROM (
        SELECT distinct_id, person_id AS mapped_person_id, version, squashed
        FROM person_distinct_ids
        WHERE project_id = {{project_id:UInt32}}
    )
    GROUP BY distinct_id
    HAVING uniqExact(mapped_person_id) > 1{unsquashed}
"""
PERSON_OVERRIDES_SQL = _OVERRIDES_SQL.format(unsquashed=" AND argMax(squashed, (version, squashed)) = 0")

# The same overrides as a map of persons: each person a stale row may carry (one the
# distinct_id pointed at before) -> the distinct_id's current person. Used instead of
# the distinct_id join when it is exact (Overrides below): it looks up the person_id
# column every query reads anyway instead of reading and hashing every distinct_id.
STALE_PERSONS_SQL = """
    SELECT old_person, any(current) AS person_id, uniqExact(current) AS currents
    FROM (
        SELECT arrayJoin(arrayFilter(x -> x != current, groupUniqArray(person_id))) AS old_person,
            argMax(person_id, (version, squashed)) AS current
        FROM person_distinct_ids
        WHERE project_id = {project_id:UInt32}
        GROUP BY distinct_id
        HAVING uniqExact(person_id) > 1 AND argMax(squashed, (version, squashed)) = 0
    )
    GROUP BY old_person
    ORDER BY old_person
    LIMIT {limit:UInt32}
"""
# How many of these persons are still some distinct_id's current person (then a row
# carrying one may be current, and only the distinct_id join is exact).
STILL_CURRENT_SQL = """
    SELECT count() FROM (
        SELECT argMax(person_id, version) AS current
        FROM person_distinct_ids
        WHERE project_id = {project_id:UInt32} AND distinct_id IN (
            SELECT distinct_id FROM person_distinct_ids
            WHERE project_id = {project_id:UInt32} AND person_id IN {persons:Array(UUID)})
        GROUP BY distinct_id
    )
    WHERE current IN {persons:Array(UUID)}
"""
# Up to this many stale persons are looked up inline (bound arrays); more (a project
# whose merges were never squashed) join the overrides by distinct_id.
INLINE_PERSONS = 2000

PERSON_PROPS_SQL = """
    SELECT id, argMax(properties, version) AS properties
    FROM persons
    WHERE project_id = {project_id:UInt32}
    GROUP BY id
"""


@dataclass
class EventSource:
    project: object
    builder: SQLBuilder
    start: dt.datetime | None
    end: dt.datetime | None
    events: list[str] | None = None
    filters: tuple = ()
    event_columns: dict[str, str] = field(default_factory=dict)
    person_columns: dict[str, str] = field(default_factory=dict)
    need_person: bool = True
    need_person_properties: bool = False
    where: list[str] = field(default_factory=list)
    # Only the events whose current person is one of these (UUIDs), e.g. one page of a
    # drill-down's actors: see persons_sql.
    persons: list | None = None
    # `events`, or `funnel_events` (migration 0014: the same rows ordered by distinct_id, with
    # no properties, so no event filter or event column may read them; funnels/queries/base.py
    # decides).
    table: str = "events"

    def sql(self) -> str:
        if self.table not in SOURCE_TABLES:
            raise ValueError(f"no events table {self.table!r}")
        b = self.builder
        event_filters = [f for f in self.filters if f.type == "event"]
        outer_filters = [f for f in self.filters if f.type != "event"]
        person_props = (
            self.need_person_properties or needs_person_properties(self.filters) or bool(self.person_columns)
        )
        need_person = self.need_person or person_props or bool(outer_filters)

        conditions = ["e.project_id = {project_id:UInt32}"]
        if self.start is not None:
            conditions.append(f"e.timestamp >= {b.bind(self.start, DT64)}")
        if self.end is not None:
            conditions.append(f"e.timestamp < {b.bind(self.end, DT64)}")
        if self.events is not None:
            conditions.append(f"e.event IN {b.bind(list(self.events), 'Array(String)')}")
        if event_filters:
            conditions.append(filters_sql(b, event_filters))
        conditions.extend(self.where)

        person_id, join = current_person(b, "e", need_person or self.persons is not None)
        if self.persons is not None:
            conditions.append(persons_sql(b, "e", person_id, self.persons))
        extra = "".join(f",\n            {expr} AS {alias}" for alias, expr in self.event_columns.items())
        mat = MAT_COLUMNS if self.table == "events" else ""
        inner = f"""
        SELECT e.uuid AS uuid, e.event AS event, e.distinct_id AS distinct_id, e.timestamp AS timestamp,
            e.session_id AS session_id, {person_id} AS person_id{mat}{extra}
        FROM {self.table} AS e{join}
        WHERE {" AND ".join(conditions)}
        """
        if not person_props and not outer_filters:
            return inner
        extra_outer = "".join(
            f",\n            {expr} AS {alias}" for alias, expr in self.person_columns.items()
        )
        person_join = (
            f"\n        LEFT JOIN ({PERSON_PROPS_SQL}) AS pp ON pp.id = ev.person_id" if person_props else ""
        )
        props = "pp.properties" if person_props else "''"
        outer_where = filters_sql(b, outer_filters, person_id_sql="ev.person_id") if outer_filters else "1"
        return f"""
        SELECT ev.*, {props} AS person_properties{extra_outer}
        FROM ({inner}) AS ev{person_join}
        WHERE {outer_where}
        """


def current_person(b: SQLBuilder, alias: str, need_person: bool = True) -> tuple[str, str]:
    """(person_id expression, JOIN) of the rows of `alias` (which has person_id and
    distinct_id): the person each row's distinct_id points at now.

    The squash rewrites the person_id of every table that stores one (ingestion/squash.py),
    so only the merges since the last squash need resolving. Decided once per builder
    (once per run) from `overrides()`: none -> the column as stored; a few stale persons,
    each now one person -> an inline lookup of person_id; otherwise -> the overrides
    joined by distinct_id."""
    if not need_person:
        return f"{alias}.person_id", ""
    found = b.overrides
    if found is None:
        found = b.overrides = overrides(b.params["project_id"])
    column = f"{alias}.person_id"
    if found.kind == "none":
        return column, ""
    if found.kind == "persons":
        olds = b.bind(list(found.old_persons), "Array(UUID)")
        news = b.bind(list(found.new_persons), "Array(UUID)")
        return f"if(has({olds}, {column}), {news}[indexOf({olds}, {column})], {column})", ""
    return (
        f"if(pdi.person_id = {ZERO_UUID}, {column}, pdi.person_id)",
        f"\n        LEFT JOIN ({PERSON_OVERRIDES_SQL}) AS pdi ON pdi.distinct_id = {alias}.distinct_id",
    )


def persons_sql(b: SQLBuilder, alias: str, person_id: str, persons: list) -> str:
    """The rows of `alias` whose current person (`person_id`, current_person's
    expression) is one of `persons`, with a condition on the stored columns first that
    the table's scan can apply before any join: a row's current person is its stored
    person_id unless an override re-points its distinct_id, so the rows are among those
    storing one of these persons (or a stale person the inline overrides map to one) or
    carrying a distinct_id the overrides map to one. At 10M events, the sessions of a
    100-person page of funnel actors: 0.23-0.27 -> 0.16-0.18 s (the scan of person_id
    remains; no index orders the events by person)."""
    wanted = b.bind(list(persons), "Array(UUID)")
    found = b.overrides
    if found is None or found.kind == "none":
        return f"{alias}.person_id IN {wanted}"
    if found.kind == "persons":
        keep = {str(p) for p in persons}
        stale = [
            old for old, new in zip(found.old_persons, found.new_persons, strict=True) if str(new) in keep
        ]
        stored = b.bind(sorted(keep | {str(p) for p in stale}), "Array(UUID)")
        return f"{alias}.person_id IN {stored} AND {person_id} IN {wanted}"
    return (
        f"({alias}.person_id IN {wanted} OR {alias}.distinct_id IN "
        f"(SELECT distinct_id FROM ({PERSON_OVERRIDES_SQL}) WHERE person_id IN {wanted}))"
        f" AND {person_id} IN {wanted}"
    )


@dataclass(frozen=True)
class Overrides:
    """How a project's stale person_ids resolve: kind "none" (no stale rows), "persons"
    (old_persons[i] -> new_persons[i], exact for every row) or "join" (by distinct_id)."""

    kind: str
    old_persons: tuple = ()
    new_persons: tuple = ()


NO_OVERRIDES = Overrides("none")
JOIN_OVERRIDES = Overrides("join")

# Cached per process and keyed by a fingerprint of the project's mapping rows (count and
# sum of row hashes): any insert, delete or mutation of the project's person_distinct_ids
# changes the fingerprint, so a cached answer is never stale, and the fingerprint (a
# scan without GROUP BY) costs a fraction of computing the overrides (12 vs 45 ms CPU at
# 200k distinct_ids).
PDI_FINGERPRINT_SQL = """
    SELECT count(), sum(cityHash64(distinct_id, person_id, version, squashed))
    FROM person_distinct_ids
    WHERE project_id = {project_id:UInt32}
"""
# The fingerprint still reads every mapping row of the project, on every insight run (6.8
# ms at 260k rows, 26 ms at 2.6M). On one server, the table's active parts are listed
# first (3.3-3.5 ms at either size): parts never change (an insert, a delete or a
# mutation writes new parts, a merge replaces parts by a new one), so while the listing
# is the one an answer was filed under, the rows are the rows it was computed from, and
# the fingerprint is skipped. The answer is filed under the listing taken before its
# fingerprint: a part written in between is in every later listing, so that entry is
# never matched again. The table's uuid and metadata time tell a re-created table apart
# (its part names start over). On a cluster the listing would be one shard's: there the
# fingerprint always runs.
PDI_PARTS_SQL = """
    SELECT
        (SELECT (any(uuid), any(toUnixTimestamp(metadata_modification_time))) FROM system.tables
         WHERE database = currentDatabase() AND name = 'person_distinct_ids'),
        groupArray((name, rows, toUnixTimestamp(modification_time)))
    FROM system.parts
    WHERE database = currentDatabase() AND table = 'person_distinct_ids' AND active
"""
_CACHE_PROJECTS = 1024
# project -> (listing of parts or None, fingerprint, overrides)
_overrides: dict[int, tuple[frozenset | None, tuple, Overrides]] = {}
_cache_lock = threading.Lock()


def _parts_listing() -> frozenset | None:
    """person_distinct_ids' active parts (with the table's identity), or None on a cluster."""
    if settings.CLICKHOUSE_CLUSTER:
        return None
    table, parts = ch.query(PDI_PARTS_SQL, global_=True).rows[0]
    return frozenset([("table", *table), *parts])


def overrides(project_id: int) -> Overrides:
    """The project's person overrides (see current_person) as of now."""
    params = {"project_id": project_id}
    listing = _parts_listing()
    with _cache_lock:
        hit = _overrides.get(project_id)
    if hit is not None and listing is not None and hit[0] == listing:
        return hit[2]
    fingerprint = tuple(ch.query(PDI_FINGERPRINT_SQL, params).rows[0])
    found = hit[2] if hit is not None and hit[1] == fingerprint else _compute_overrides(params)
    with _cache_lock:
        if project_id not in _overrides and len(_overrides) >= _CACHE_PROJECTS:
            _overrides.pop(next(iter(_overrides)))
        _overrides[project_id] = (listing, fingerprint, found)
    return found


def _compute_overrides(params: dict) -> Overrides:
    rows = ch.query(STALE_PERSONS_SQL, {**params, "limit": INLINE_PERSONS + 1}).rows
    if not rows:
        return NO_OVERRIDES
    # Inline only when exact: few, each stale person now one person, and none of them
    # still some distinct_id's current person (a merge re-points every distinct_id of the
    # person merged away, so this holds unless mappings were edited by hand).
    if len(rows) > INLINE_PERSONS or any(r[2] != 1 for r in rows):
        return JOIN_OVERRIDES
    olds = [r[0] for r in rows]
    if ch.query(STILL_CURRENT_SQL, {**params, "persons": olds}).scalar():
        return JOIN_OVERRIDES
    return Overrides("persons", tuple(olds), tuple(r[1] for r in rows))


def has_overrides(project_id: int) -> bool:
    """True when some stored person_id of the project's events is stale (a merge since
    the last squash re-pointed its distinct_id): only then must a query resolve it."""
    return overrides(project_id).kind != "none"
