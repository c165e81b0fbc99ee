"""Cohort membership: computing a cohort's members (behavioral or static) into
ClickHouse `cohort_people` as a new version, and reading a version's members.

A refresh INSERTs the whole membership as version N+1, then flips Cohort.version
forward in Django; every reader binds the committed version (cohorts.membership).
"""

from __future__ import annotations

import datetime as dt

from django.utils import timezone

from analytics_app import clickhouse as ch
from governance import presenter
from insights.blocks import EventSource, SQLBuilder
from insights.blocks import filters as filter_blocks
from insights.blocks.dates import DateRange
from insights.blocks.filters import PropertyFilter, parse_filters
from insights.blocks.source import DT64, PERSON_MAP_SQL, PERSON_PROPS_SQL, ZERO_UUID

from .membership import cohort_condition
from .models import Cohort

COHORT_EVENT_CRITERIA = {"performed_event", "not_performed_event", "first_performed_event"}
COUNT_OPERATORS = {"gte": ">=", "eq": "=", "lte": "<="}


# ---------------------------------------------------------------- membership SQL
def frame_bounds(criterion: dict, tz, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    if "days" in criterion:
        return now - dt.timedelta(days=criterion["days"]), now
    return DateRange(criterion["date_from"], criterion["date_to"]).resolve(tz, now)


def members_select(b: SQLBuilder, project, definition: dict, now: dt.datetime) -> str:
    """SELECT person_id of every member of a behavioral definition."""
    event_columns: dict[str, str] = {}
    aggregates: list[str] = []
    columns: list[str] = []
    conditions: list[str] = []
    events: set[str] = set()
    for gi, group in enumerate(definition["groups"]):
        parts = []
        for ci, c in enumerate(group["criteria"]):
            name = f"c{gi}_{ci}"
            kind = c["type"]
            if kind in COHORT_EVENT_CRITERIA:
                events.add(c["event"])
                start, end = frame_bounds(c, project.tz, now)
                with presenter.stored():  # the cohort's definition, checked when it was saved
                    props = parse_filters(c.get("properties"))
                match = f"e.event = {b.bind(c['event'], 'String')}"
                if props:
                    match += f" AND {filter_blocks.filters_sql(b, props)}"
                in_frame = f"e.timestamp >= {b.bind(start, DT64)} AND e.timestamp < {b.bind(end, DT64)}"
                if kind == "first_performed_event":
                    event_columns[f"m_{name}"] = match
                    aggregates.append(
                        f"countIf(m_{name}) AS n_{name}, minIf(timestamp, m_{name}) AS f_{name}"
                    )
                    columns += [f"n_{name}", f"f_{name}"]
                    parts.append(
                        f"(n_{name} > 0 AND f_{name} >= {b.bind(start, DT64)} AND f_{name} < {b.bind(end, DT64)})"
                    )
                else:
                    event_columns[f"m_{name}"] = f"{match} AND {in_frame}"
                    aggregates.append(f"countIf(m_{name}) AS n_{name}")
                    columns.append(f"n_{name}")
                    if kind == "not_performed_event":
                        parts.append(f"(n_{name} = 0)")
                    else:
                        parts.append(
                            f"(n_{name} {COUNT_OPERATORS[c['operator']]} {b.bind(c['count'], 'UInt64')})"
                        )
            elif kind == "person_property":
                f = PropertyFilter(c["key"], c["operator"], c["value"], "person")
                parts.append(f"({filter_blocks.filter_sql(b, f, person_id_sql='person_id')})")
            else:
                parts.append(f"({cohort_condition(b, c['cohort_id'], 'person_id', c['negate'])})")
        conditions.append((" AND " if group["match"] == "all" else " OR ").join(parts))
    where = (" AND " if definition["match"] == "all" else " OR ").join(f"({c})" for c in conditions)
    persons = f"SELECT DISTINCT person_id FROM ({PERSON_MAP_SQL})"
    if events:
        # Every person with a mapping or an event; persons without matching events get 0 counts.
        src = EventSource(
            project, b, None, None, events=sorted(events), event_columns=event_columns, need_person=True
        )
        agg = f"SELECT person_id, {', '.join(aggregates)} FROM ({src.sql()}) GROUP BY person_id"
        names = ", ".join(f"a.{n} AS {n}" for n in columns)
        persons = f"""
            SELECT if(u.person_id = {ZERO_UUID}, a.person_id, u.person_id) AS person_id, {names}
            FROM ({persons}) AS u
            FULL OUTER JOIN ({agg}) AS a ON a.person_id = u.person_id
        """
    return f"""
        SELECT person_id
        FROM (
            SELECT x.*, pp.properties AS person_properties
            FROM ({persons}) AS x
            LEFT JOIN ({PERSON_PROPS_SQL}) AS pp ON pp.id = x.person_id
        )
        WHERE {where}
    """


def static_select(b: SQLBuilder, definition: dict) -> str:
    ids = b.bind(definition.get("distinct_ids", []), "Array(String)")
    emails = b.bind(definition.get("emails", []), "Array(String)")
    persons = b.bind(definition.get("person_ids", []), "Array(UUID)")
    return f"""
        SELECT DISTINCT person_id FROM (
            SELECT arrayJoin({persons}) AS person_id
            UNION ALL
            SELECT person_id FROM ({PERSON_MAP_SQL}) WHERE has({ids}, distinct_id)
            UNION ALL
            SELECT id AS person_id FROM ({PERSON_PROPS_SQL}) WHERE has({emails}, JSONExtractString(properties, 'email'))
        )
    """


def compute_cohort(cohort, now: dt.datetime | None = None) -> int:
    """Compute the cohort's membership as a new version and commit it. Returns the size."""
    now = now or timezone.now()
    project = cohort.project
    params = {"project_id": project.pk, "cohort_id": cohort.pk}
    written = (
        ch.query(
            "SELECT max(version) FROM cohort_people WHERE project_id = {project_id:UInt32} AND cohort_id = {cohort_id:UInt64}",
            params,
        ).scalar()
        or 0
    )
    version = max(int(written), cohort.version) + 1
    b = SQLBuilder(project.pk)
    select = (
        static_select(b, cohort.definition)
        if cohort.kind == Cohort.Kind.STATIC
        else members_select(b, project, cohort.definition, now)
    )
    insert = f"""
        INSERT INTO cohort_people (project_id, cohort_id, version, person_id)
        SELECT {{project_id:UInt32}}, {b.bind(cohort.pk, "UInt64")}, {b.bind(version, "UInt64")}, person_id
        FROM ({select})
    """
    ch.command(insert, b.params)
    size = ch.query(
        "SELECT count() FROM cohort_people WHERE project_id = {project_id:UInt32} AND cohort_id = {cohort_id:UInt64} AND version = {version:UInt64}",
        {**params, "version": version},
    ).scalar()
    # Flip only forward: a slower, older refresh never replaces a newer version.
    Cohort.objects.filter(pk=cohort.pk, version__lt=version).update(
        version=version,
        count=size,
        status=Cohort.Status.READY,
        error="",
        last_calculated_at=now,
    )
    # Keep the version just replaced (a query that bound it may still be running) and
    # drop older and abandoned ones; never touch a newer refresh still writing.
    ch.command(
        "DELETE FROM cohort_people WHERE project_id = {project_id:UInt32} AND cohort_id = {cohort_id:UInt64}"
        " AND version < {version:UInt64} AND version != {previous:UInt64}",
        {**params, "version": version, "previous": cohort.version},
    )
    return int(size)


def cohort_members(project, cohort, limit: int = 100, offset: int = 0) -> tuple[int, list[dict]]:
    """(size, page of members with their latest distinct_id and properties)."""
    params = {
        "project_id": project.pk,
        "cohort_id": cohort.pk,
        "version": cohort.version,
        "limit": limit,
        "offset": offset,
    }
    sql = f"""
        SELECT toString(cp.person_id) AS person_id, any(m.distinct_id) AS distinct_id, any(pp.properties) AS properties,
            count() OVER () AS total
        FROM (SELECT person_id FROM cohort_people
              WHERE project_id = {{project_id:UInt32}} AND cohort_id = {{cohort_id:UInt64}} AND version = {{version:UInt64}}) AS cp
        LEFT JOIN ({PERSON_MAP_SQL}) AS m ON m.person_id = cp.person_id
        LEFT JOIN ({PERSON_PROPS_SQL}) AS pp ON pp.id = cp.person_id
        GROUP BY cp.person_id
        ORDER BY person_id
        LIMIT {{limit:UInt32}} OFFSET {{offset:UInt32}}
    """
    rows = ch.query(sql, params).rows
    return (int(rows[0][3]) if rows else (cohort.count or 0) if offset else 0), [
        {"person_id": r[0], "distinct_id": r[1], "properties": r[2]} for r in rows
    ]
