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

from analytics_app import clickhouse as ch

from .builder import SQLBuilder
from .filters import MATERIALIZED_EVENT_COLUMNS, filters_sql, needs_person_properties

DT64 = "DateTime64(6, 'UTC')"
# The materialized hot-property columns pass through, so expressions built by
# filters.event_text_sql work inside and outside the subquery (unused ones are pruned).
MAT_COLUMNS = "".join(f", e.{c} AS {c}" for c in MATERIALIZED_EVENT_COLUMNS.values())
ZERO_UUID = "toUUID('00000000-0000-0000-0000-000000000000')"

# Latest person for every distinct_id of the project (merges never rewrite events).
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
# one person ever" is exactly "some events carry a stale person". This keeps the join
# small (merged visitors, not every visitor) — see docs/clickhouse.md.
PERSON_OVERRIDES_SQL = """
    SELECT distinct_id, argMax(mapped_person_id, version) AS person_id
    FROM (
        SELECT distinct_id, person_id AS mapped_person_id, version
        FROM person_distinct_ids
        WHERE project_id = {project_id:UInt32}
    )
    GROUP BY distinct_id
    HAVING uniqExact(mapped_person_id) > 1
"""

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

    def sql(self) -> str:
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

        person_id, join = current_person(b, "e", need_person)
        extra = "".join(f",\n            {expr} AS {alias}" for alias, expr in self.event_columns.items())
        inner = f"""
        SELECT e.uuid AS uuid, e.event AS event, e.distinct_id AS distinct_id, e.timestamp AS timestamp,
            e.session_id AS session_id, {person_id} AS person_id{MAT_COLUMNS}{extra}
        FROM events AS e{join}
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
    distinct_id): the person each row's distinct_id points at now, joining the overrides
    only when the project has any (checked once per builder, i.e. once per run)."""
    if need_person and b.has_overrides is None:
        b.has_overrides = has_overrides(b.params["project_id"])
    if not (need_person and b.has_overrides):
        return f"{alias}.person_id", ""
    return (
        f"if(pdi.person_id = {ZERO_UUID}, {alias}.person_id, pdi.person_id)",
        f"\n        LEFT JOIN ({PERSON_OVERRIDES_SQL}) AS pdi ON pdi.distinct_id = {alias}.distinct_id",
    )


# Whether a project has overrides at all, cached per process and keyed by a fingerprint
# of its mapping rows (count and sum of row hashes): any insert, delete or mutation of
# the project's person_distinct_ids changes the fingerprint, so a cached answer is never
# stale, and the fingerprint (a scan without GROUP BY) costs a fraction of computing the
# overrides (12 vs 45 ms CPU at 200k distinct_ids).
PDI_FINGERPRINT_SQL = """
    SELECT count(), sum(cityHash64(distinct_id, person_id, version))
    FROM person_distinct_ids
    WHERE project_id = {project_id:UInt32}
"""
_CACHE_PROJECTS = 1024
_has_overrides: dict[int, tuple[tuple, bool]] = {}
_cache_lock = threading.Lock()


def has_overrides(project_id: int) -> bool:
    """True when some distinct_id of the project was re-pointed (PERSON_OVERRIDES_SQL is
    not empty): only then must a query join the overrides."""
    params = {"project_id": project_id}
    fingerprint = tuple(ch.query(PDI_FINGERPRINT_SQL, params).rows[0])
    with _cache_lock:
        hit = _has_overrides.get(project_id)
    if hit is not None and hit[0] == fingerprint:
        return hit[1]
    found = bool(ch.query(f"SELECT 1 FROM ({PERSON_OVERRIDES_SQL}) LIMIT 1", params).rows)
    with _cache_lock:
        if project_id not in _has_overrides and len(_has_overrides) >= _CACHE_PROJECTS:
            _has_overrides.pop(next(iter(_has_overrides)))
        _has_overrides[project_id] = (fingerprint, found)
    return found
