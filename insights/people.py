"""Act on any number: the whole people list behind one drill-down (a funnel step's
converted / dropped actors, a funnel correlation count, a retention cell, a trends
point, a paths node or edge).

`people_list(request, kind)` parses the same query the drill-down partial reads (so a
drill-down's links carry its own query string) and answers a `PeopleList`: a title for a
cohort name, the list's own columns, and every person of the list (not a page), in the
drill-down's order, at most MAX_PEOPLE. The persons' display names (e-mail or name,
masked by the Presenter for roles without view-PII) and one distinct_id are looked up in
chunks of CHUNK persons (`display_rows`), so a CSV export streams in bounded memory.
Every query is bound to the request's project.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlencode

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest

MAX_PEOPLE = 200_000  # cohorts.definitions.MAX_STATIC: a static cohort holds at most this many
CHUNK = 10_000
KINDS = ("funnels", "funnel_correlation", "retention", "trends", "paths")
# The drill-down's own parameters, passed on by its action links (nothing else is kept).
DRILL_PARAMS = {
    "funnels": ("q", "step", "status", "breakdown_value"),
    "retention": ("q", "cohort", "offset", "breakdown_index"),
    "trends": ("q", "series", "date", "breakdown_index", "period"),
    "paths": ("q", "node", "target", "ended"),
}


@dataclass
class PeopleList:
    kind: str
    title: str
    columns: list[str]
    # (person_id, {column: value}) in the drill-down's order, one row per person
    rows: list[tuple[str, dict]] = field(default_factory=list)
    truncated: bool = False

    @property
    def person_ids(self) -> list[str]:
        return [pid for pid, _ in self.rows]


def drill_query(kind: str, query) -> str:
    """The drill-down's own parameters of `query` as a query string (for action links)."""
    return urlencode([(k, query.get(k)) for k in DRILL_PARAMS[kind] if query.get(k) not in (None,)])


# kind -> fn(request, query, limit) -> (rows, title, columns); each insight app registers
# its own from its AppConfig.ready (e.g. funnels/exports.py), so this shared layer
# imports none of them.
SOURCES: dict = {}
# kind -> fn(project, spec body, presenter) -> insights.export.Table
TABLES: dict = {}


def register(kind: str, *, people, table=None, params: tuple[str, ...] | None = None) -> None:
    """An insight app's people list (behind its drill-down) and result table; `params`:
    the drill-down's own query parameters when the kind is not in DRILL_PARAMS."""
    SOURCES[kind] = people
    if table is not None:
        TABLES[kind] = table
    if params is not None:
        DRILL_PARAMS[kind] = params


def people_list(request, kind: str, query=None, *, limit: int = MAX_PEOPLE) -> PeopleList:
    """The whole list behind the drill-down that `query` (default: request.GET) describes."""
    if kind not in SOURCES:
        raise BadRequest("Invalid people list.", {"kind": f"must be one of {', '.join(sorted(SOURCES))}"})
    rows, title, columns = SOURCES[kind](request, request.GET if query is None else query, limit + 1)
    seen: set[str] = set()
    unique = []
    for pid, cols in rows:
        if pid and pid not in seen:
            seen.add(pid)
            unique.append((pid, cols))
    return PeopleList(
        kind, title, columns, unique[:limit], truncated=len(unique) > limit or len(rows) > limit
    )


# ---------------------------------------------------------------- display names
PEOPLE_SQL = """
    SELECT toString(m.person_id), any(m.distinct_id), any(p.properties)
    FROM (
        SELECT distinct_id, argMax(person_id, version) AS person_id, argMax(is_deleted, version) AS deleted
        FROM person_distinct_ids
        WHERE project_id = {project_id:UInt32} AND distinct_id IN (
            SELECT distinct_id FROM person_distinct_ids
            WHERE project_id = {project_id:UInt32} AND person_id IN {ids:Array(UUID)}
        )
        GROUP BY distinct_id
        HAVING deleted = 0 AND person_id IN {ids:Array(UUID)}
    ) AS m
    LEFT JOIN (
        SELECT id, argMax(properties, version) AS properties
        FROM persons
        WHERE project_id = {project_id:UInt32} AND id IN {ids:Array(UUID)}
        GROUP BY id
    ) AS p ON p.id = m.person_id
    GROUP BY m.person_id
"""


def display_name(properties: dict, distinct_id: str, presenter) -> str:
    """The person's e-mail or name (masked by policy), else their distinct_id (masked as such)."""
    for key in ("email", "$email", "name"):
        value = properties.get(key)
        if isinstance(value, str) and value.strip():
            return str(presenter.value(key, value))
    return str(presenter.distinct_id(distinct_id or ""))


def people_details(project, person_ids: list[str], presenter) -> dict[str, tuple[str, str]]:
    """{person_id: (display name, distinct_id)} as this viewer may see them."""
    out: dict[str, tuple[str, str]] = {}
    if not person_ids:
        return out
    for pid, did, raw in ch.query(PEOPLE_SQL, {"project_id": project.pk, "ids": list(person_ids)}).rows:
        try:
            props = json.loads(raw) if raw else {}
        except ValueError:
            props = {}
        props = props if isinstance(props, dict) else {}
        out[pid] = (display_name(props, did, presenter), str(presenter.distinct_id(did or "")))
    return out


def display_rows(project, people: PeopleList, presenter) -> Iterator[list]:
    """[display name, distinct_id, person_id, *the list's columns] per person, looked up
    CHUNK persons at a time."""
    for i in range(0, len(people.rows), CHUNK):
        chunk = people.rows[i : i + CHUNK]
        found = people_details(project, [pid for pid, _ in chunk], presenter)
        for pid, cols in chunk:
            name, did = found.get(pid, ("", ""))
            yield [name, did, pid, *(cols.get(c, "") for c in people.columns)]


def with_details(project, rows: list, presenter, person_of=lambda r: r.person_id) -> list:
    """`rows` (a drill-down's page) with `.display_name` / `.shown_distinct_id` set for the table."""
    found = people_details(project, sorted({str(person_of(r)) for r in rows if person_of(r)}), presenter)
    out = []
    for r in rows:
        name, did = found.get(str(person_of(r)), ("", ""))
        out.append({"row": r, "display_name": name, "distinct_id": did})
    return out


def actions(request, kind: str, title: str, count: int) -> dict:
    """What the drill-down's action bar needs (insights/_people_actions.html): the links
    carry the drill-down's own query, each shown only to roles that may use it."""
    from django.urls import reverse  # noqa: PLC0415

    from governance.roles import Permission  # noqa: PLC0415

    project = request.project
    query = drill_query(kind, request.GET)
    perms = request.perms
    return {
        "kind": kind,
        "title": title[:200],
        "count": count,
        "params": [(k, request.GET.get(k)) for k in DRILL_PARAMS[kind] if request.GET.get(k) is not None],
        "cohort_url": reverse("cohorts:from_people", kwargs={"project_id": project.pk, "kind": kind})
        if Permission.EDIT_INSIGHTS in perms
        else "",
        "export_url": reverse("insights:people_export", kwargs={"project_id": project.pk, "kind": kind})
        + "?"
        + query
        if Permission.EXPORT_DATA in perms
        else "",
        "recordings_url": reverse("replay:list", kwargs={"project_id": project.pk})
        + "?"
        + urlencode({"people": kind, "people_q": query})
        if Permission.VIEW_RECORDINGS in perms
        else "",
    }
