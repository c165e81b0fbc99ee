"""Act on any number: the whole people list behind one drill-down (a funnel step's
converted / dropped actors, a retention cell, a trends point, a paths node or edge).

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
KINDS = ("funnels", "retention", "trends", "paths")
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


def people_list(request, kind: str, query=None, *, limit: int = MAX_PEOPLE) -> PeopleList:
    """The whole list behind the drill-down that `query` (default: request.GET) describes."""
    if kind not in KINDS:
        raise BadRequest("Invalid people list.", {"kind": f"must be one of {', '.join(KINDS)}"})
    rows, title, columns = _BUILDERS[kind](request, request.GET if query is None else query, limit + 1)
    seen: set[str] = set()
    unique = []
    for pid, cols in rows:
        if pid and pid not in seen:
            seen.add(pid)
            unique.append((pid, cols))
    return PeopleList(
        kind, title, columns, unique[:limit], truncated=len(unique) > limit or len(rows) > limit
    )


def _funnels(request, query, limit):
    from funnels.queries import FunnelActorsQueryRunner  # noqa: PLC0415
    from funnels.queries.results import from_micros  # noqa: PLC0415
    from funnels.views import _actors_spec  # noqa: PLC0415

    spec = _actors_spec(query, request.project)
    sql, params = FunnelActorsQueryRunner(request.project, spec).all_persons_sql(limit)
    tz = request.project.tz
    rows = [
        (pid, {"reached_step": int(step) + 1, "reached_at": from_micros(at).astimezone(tz).isoformat()})
        for pid, step, at in ch.query(sql, params).rows
    ]
    what = "converted at" if spec.status == "converted" else "dropped before"
    event = spec.funnel.steps[spec.step].event
    title = f"Funnel {what} step {spec.step + 1} ({event})"
    return rows, title, ["reached_step", "reached_at"]


def _retention(request, query, limit):
    from retention import charts  # noqa: PLC0415
    from retention.queries import RetentionActorsRunner, RetentionQueryRunner  # noqa: PLC0415
    from retention.spec import RetentionSpec  # noqa: PLC0415
    from retention.views import _int  # noqa: PLC0415

    from . import views_common  # noqa: PLC0415

    project = request.project
    spec = views_common.spec_from_q(
        query, RetentionSpec, project, message="Invalid cell.", what="the matrix's"
    )
    errors: dict = {}
    cohort = _int(query, "cohort", errors)
    offset = _int(query, "offset", errors)
    breakdown_index = _int(query, "breakdown_index", errors, default=-1)
    if errors:
        raise BadRequest("Invalid cell.", errors)
    value = None
    if spec.breakdown is not None:
        values = RetentionQueryRunner(project, spec).run().breakdown_values()
        if not 0 <= breakdown_index < len(values):
            raise BadRequest("Invalid cell.", {"breakdown_index": "no such breakdown value"})
        value = values[breakdown_index]
    cell = RetentionActorsRunner(project, spec, cohort, offset, value, limit=limit).run()
    rows = [
        (p.person_id, {"last_seen": p.last_seen.astimezone(project.tz).isoformat()}) for p in cell.persons
    ]
    title = (
        f"Retention cohort {cell.cohort_date:%Y-%m-%d} {charts.PERIOD_LABEL[spec.period.value]} {cell.offset}"
    )
    return rows, title, ["last_seen"]


def _trends(request, query, limit):
    from trends.queries import TrendsPersonsQueryRunner  # noqa: PLC0415
    from trends.views import _drill_params  # noqa: PLC0415

    project = request.project
    spec, series_index, point, breakdown_index, period = _drill_params(query, project)
    drill = TrendsPersonsQueryRunner(
        project, spec, series_index, point, breakdown_index, period, limit=limit
    ).run()
    rows = [
        (
            p.person_id,
            {
                "events": p.events,
                "sessions": p.sessions,
                "value": "" if p.value is None else p.value,
                "last_seen": p.last_seen.astimezone(project.tz).isoformat(),
            },
        )
        for p in drill.persons
    ]
    title = f"Trends {drill.series_label} {drill.start.astimezone(project.tz):%Y-%m-%d %H:%M}"
    return rows, title, ["events", "sessions", "value", "last_seen"]


def _paths(request, query, limit):
    from paths.queries import PathsActorsRunner  # noqa: PLC0415
    from paths.spec import PathsSpec  # noqa: PLC0415
    from paths.views import _pretty, _resolve_nodes  # noqa: PLC0415

    from . import views_common  # noqa: PLC0415

    project = request.project
    spec = views_common.spec_from_q(query, PathsSpec, project)
    node = query.get("node", "")
    target = query.get("target") or None
    ended = query.get("ended") in ("1", "true", "on")
    raw_node, raw_target = _resolve_nodes(request, spec, node, target)
    drill = PathsActorsRunner(project, spec, raw_node, raw_target, ended=ended, limit=limit).run()
    # one row per person: their sessions through the node and the latest time there
    per: dict[str, dict] = {}
    order: list[str] = []
    for a in drill.actors:
        if a.person_id not in per:
            order.append(a.person_id)
            per[a.person_id] = {"sessions": 0, "last_at": a.timestamp.astimezone(project.tz).isoformat()}
        per[a.person_id]["sessions"] += 1
    what = (
        f"{_pretty(node)} → {_pretty(target)}"
        if target
        else (f"{_pretty(node)} (ended here)" if ended else _pretty(node))
    )
    return [(pid, per[pid]) for pid in order], f"Paths {what}", ["sessions", "last_at"]


_BUILDERS = {"funnels": _funnels, "retention": _retention, "trends": _trends, "paths": _paths}


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
        "cohort_url": reverse("insights:people_cohort", kwargs={"project_id": project.pk, "kind": kind})
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
