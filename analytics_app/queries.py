"""Core queries: what a project has received (event names, volumes).

Used by the project overview and registered as the `EventNamesQuery` kind, which
event pickers (autocomplete) use as well.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from governance.roles import Permission

from . import clickhouse as ch
from .errors import BadRequest
from .models import Project
from .query_api import QueryKind, register


@dataclass(frozen=True)
class EventNamesSpec:
    search: str = ""
    days: int = 30
    limit: int = 100

    @classmethod
    def from_json(cls, body: dict, project: Project | None = None) -> EventNamesSpec:
        errors = {}
        search = body.get("search", "")
        if not isinstance(search, str) or len(search) > 200:
            errors["search"] = "must be a string of at most 200 characters"
        days = body.get("days", 30)
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
            errors["days"] = "must be an integer from 1 to 3650"
        limit = body.get("limit", 100)
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= 1000:
            errors["limit"] = "must be an integer from 1 to 1000"
        unknown = set(body) - {"kind", "search", "days", "limit"}
        if unknown:
            errors["body"] = f"unknown fields: {', '.join(sorted(unknown))}"
        if errors:
            raise BadRequest("Invalid EventNamesQuery.", errors)
        return cls(search=search, days=days, limit=limit)


@dataclass(frozen=True)
class EventNameRow:
    event: str
    count: int
    persons: int
    last_seen: dt.datetime


class EventNamesQueryRunner:
    SQL = """
        SELECT event, count() AS count, uniq(person_id) AS persons, max(timestamp) AS last_seen
        FROM events
        WHERE project_id = {project_id:UInt32}
          AND timestamp >= now64(6) - toIntervalDay({days:UInt32})
          AND positionCaseInsensitiveUTF8(event, {search:String}) > 0
        GROUP BY event
        ORDER BY count DESC, event
        LIMIT {limit:UInt32}
    """

    def __init__(self, project: Project, spec: EventNamesSpec):
        self.project = project
        self.spec = spec

    def run(self) -> list[EventNameRow]:
        result = ch.query(
            self.SQL,
            {
                "project_id": self.project.id,
                "days": self.spec.days,
                "search": self.spec.search,
                "limit": self.spec.limit,
            },
        )
        return [EventNameRow(*row) for row in result.rows]


def event_names_by_volume(project: Project, *, days: int = 90, limit: int = 300) -> list[str]:
    """The project's event names of the last `days` UTC days, most frequent first, read from
    the discovery rollup (`discovery_daily`: one row per name and day, so the cost does not
    grow with the events). For the builders' event datalist, where the order is a hint: the
    volumes are the rollup's (see its migration on what it may count twice)."""
    result = ch.query(
        """SELECT event FROM discovery_daily
        WHERE project_id = {project_id:UInt32} AND key = '' AND type = ''
          AND day >= today() - {days:UInt32}
        GROUP BY event ORDER BY sum(events) DESC, event LIMIT {limit:UInt32}""",
        {"project_id": project.id, "days": days, "limit": limit},
    )
    return [row[0] for row in result.rows]


class VolumeQueryRunner:
    """Events per hour over the last 24 hours and the total ever received."""

    SQL = """
        SELECT toStartOfHour(timestamp) AS hour, count() AS n
        FROM events
        WHERE project_id = {project_id:UInt32} AND timestamp >= now64(6) - toIntervalHour(24)
        GROUP BY hour ORDER BY hour
    """
    TOTAL_SQL = "SELECT count() FROM events WHERE project_id = {project_id:UInt32}"

    def __init__(self, project: Project):
        self.project = project

    def run(self) -> dict:
        params = {"project_id": self.project.id}
        hourly = ch.query(self.SQL, params).rows
        return {
            "hourly": hourly,
            "last_24h": sum(n for _, n in hourly),
            "total": ch.query(self.TOTAL_SQL, params).scalar() or 0,
        }


register(
    QueryKind(
        kind="EventNamesQuery",
        parse=EventNamesSpec.from_json,
        run=lambda project, spec, presenter: {
            "results": [
                {
                    "event": r.event,
                    "count": r.count,
                    "persons": r.persons,
                    "last_seen": r.last_seen.isoformat(),
                }
                for r in EventNamesQueryRunner(project, spec).run()
            ]
        },
        schema={
            "type": "object",
            "properties": {
                "kind": {"const": "EventNamesQuery"},
                "search": {"type": "string", "maxLength": 200},
                "days": {"type": "integer", "minimum": 1, "maximum": 3650, "default": 30},
                "limit": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
            },
            "required": ["kind"],
        },
        response_schema={
            "type": "object",
            "properties": {
                "results": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "event": {"type": "string"},
                            "count": {"type": "integer"},
                            "persons": {"type": "integer"},
                            "last_seen": {"type": "string", "format": "date-time"},
                        },
                    },
                }
            },
        },
        permission=Permission.VIEW_INSIGHTS,
        summary="Event names seen in the project, most frequent first (autocomplete).",
    )
)


SEEN_EVENTS_SQL = """
    SELECT DISTINCT toString(event)
    FROM discovery_daily
    WHERE project_id = {project_id:UInt32} AND key = '' AND event IN {names:Array(String)}
"""


def seen_event_names(project: Project, names) -> set[str]:
    """Which of `names` the project has ever received (the discovery table's per-day rows
    of each event name: a lookup, never a scan of the events)."""
    names = sorted(set(names))
    if not names:
        return set()
    return {row[0] for row in ch.query(SEEN_EVENTS_SQL, {"project_id": project.id, "names": names}).rows}
