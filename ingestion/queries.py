"""Every ClickHouse read of the ingestion app: dedup lookups, person state, and
the ingestion-warnings page."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from analytics_app import clickhouse as ch

# ---------------------------------------------------------------- ingestion path


def existing_event_uuids(project_id: int, uuids: list[str]) -> set[str]:
    """The uuids of this list that are already stored (exactly-once check)."""
    if not uuids:
        return set()
    # An Array(UUID) parameter: ClickHouse turns it into a set that the primary key
    # (project_id, uuid) prunes with, per part. The earlier `IN (SELECT arrayJoin(
    # splitByChar(...)))` form measured 10-40x slower once the table has many parts or
    # millions of rows (docs/ingestion.md, "Exactly once"); callers chunk to 5k uuids.
    result = ch.query(
        "SELECT DISTINCT uuid FROM event_uuids WHERE project_id = {project_id:UInt32} AND uuid IN {uuids:Array(UUID)}",
        {"project_id": project_id, "uuids": uuids},
    )
    return {str(row[0]) for row in result.rows}


def existing_quarantined_uuids(project_id: int, uuids: list[str]) -> set[str]:
    """The uuids of this list the tracking plan's quarantine already holds (a retried request)."""
    if not uuids:
        return set()
    result = ch.query(
        "SELECT DISTINCT uuid FROM quarantined_events WHERE project_id = {project_id:UInt32} AND uuid IN {uuids:Array(UUID)}",
        {"project_id": project_id, "uuids": uuids},
    )
    return {str(row[0]) for row in result.rows}


def existing_chunk_uuids(project_id: int, uuids: list[str]) -> set[str]:
    if not uuids:
        return set()
    result = ch.query(
        "SELECT DISTINCT uuid FROM session_replay_chunk_uuids WHERE project_id = {project_id:UInt32} AND uuid IN {uuids:Array(UUID)}",
        {"project_id": project_id, "uuids": uuids},
    )
    return {str(row[0]) for row in result.rows}


def person_ids_for(project_id: int, distinct_ids: list[str]) -> list[tuple[str, str]]:
    result = ch.query(
        """
        SELECT distinct_id, argMax(person_id, version) AS person_id
        FROM person_distinct_ids
        WHERE project_id = {project_id:UInt32} AND distinct_id IN {ids:Array(String)}
        GROUP BY distinct_id
        """,
        {"project_id": project_id, "ids": distinct_ids},
    )
    return [(row[0], str(row[1])) for row in result.rows]


def persons_by_id(project_id: int, person_ids: list[str]) -> list[tuple]:
    result = ch.query(
        """
        SELECT id, argMax(created_at, version), argMax(properties, version),
               argMax(is_identified, version), argMax(is_deleted, version)
        FROM persons
        WHERE project_id = {project_id:UInt32} AND id IN {ids:Array(UUID)}
        GROUP BY id
        """,
        {"project_id": project_id, "ids": person_ids},
    )
    return [(str(r[0]), r[1], r[2], r[3], r[4]) for r in result.rows]


def distinct_ids_of_person(project_id: int, person_id: str) -> list[str]:
    """Distinct ids whose latest mapping points at `person_id`."""
    result = ch.query(
        """
        SELECT distinct_id
        FROM person_distinct_ids
        WHERE project_id = {project_id:UInt32}
          AND distinct_id IN (
              SELECT distinct_id FROM person_distinct_ids
              WHERE project_id = {project_id:UInt32} AND person_id = {person_id:UUID})
        GROUP BY distinct_id
        HAVING argMax(person_id, version) = {person_id:UUID}
        """,
        {"project_id": project_id, "person_id": person_id},
    )
    return [row[0] for row in result.rows]


def distinct_ids_of_persons(project_id: int, person_ids: list[str]) -> list[tuple[str, str]]:
    """(person_id, distinct_id) for the distinct ids whose latest mapping points at one of `person_ids`."""
    result = ch.query(
        """
        SELECT argMax(person_id, version) AS current, distinct_id
        FROM person_distinct_ids
        WHERE project_id = {project_id:UInt32}
          AND distinct_id IN (
              SELECT distinct_id FROM person_distinct_ids
              WHERE project_id = {project_id:UInt32} AND person_id IN {ids:Array(UUID)})
        GROUP BY distinct_id
        HAVING current IN {ids:Array(UUID)}
        """,
        {"project_id": project_id, "ids": person_ids},
    )
    return [(str(row[0]), row[1]) for row in result.rows]


# ---------------------------------------------------------------- warnings page

RANGES = {"24h": dt.timedelta(hours=24), "7d": dt.timedelta(days=7), "30d": dt.timedelta(days=30)}


@dataclass(frozen=True)
class WarningsSpec:
    range: str = "24h"
    reason: str = ""
    limit: int = 50


@dataclass(frozen=True)
class WarningExample:
    type: str
    event: str
    distinct_id: str
    details: str
    payload: str
    timestamp: dt.datetime


@dataclass(frozen=True)
class WarningsResult:
    total: int
    by_reason: list[tuple[str, int]]
    by_event: list[tuple[str, str, int]]
    examples: list[WarningExample]


class WarningsQueryRunner:
    WHERE = """
        WHERE project_id = {project_id:UInt32}
          AND timestamp >= {since:DateTime64(3, 'UTC')}
          AND ({reason:String} = '' OR type = {reason:String})
    """
    BY_REASON = (
        "SELECT type, count() AS n FROM ingestion_warnings" + WHERE + "GROUP BY type ORDER BY n DESC, type"
    )
    BY_EVENT = (
        "SELECT type, event, count() AS n FROM ingestion_warnings"
        + WHERE
        + "GROUP BY type, event ORDER BY n DESC, type, event LIMIT 50"
    )
    EXAMPLES = (
        "SELECT type, event, distinct_id, details, substring(payload, 1, 20000) AS payload, timestamp FROM ingestion_warnings"
        + WHERE
        + "ORDER BY timestamp DESC LIMIT {limit:UInt32}"
    )

    def __init__(self, project, spec: WarningsSpec, now: dt.datetime | None = None):
        self.project = project
        self.spec = spec
        self.now = now or dt.datetime.now(dt.UTC)

    def params(self) -> dict:
        return {
            "project_id": self.project.id,
            "since": self.now - RANGES[self.spec.range],
            "reason": self.spec.reason,
            "limit": self.spec.limit,
        }

    def run(self) -> WarningsResult:
        params = self.params()
        by_reason = [(r[0], r[1]) for r in ch.query(self.BY_REASON, params).rows]
        by_event = [(r[0], r[1], r[2]) for r in ch.query(self.BY_EVENT, params).rows]
        examples = [WarningExample(*r) for r in ch.query(self.EXAMPLES, params).rows]
        return WarningsResult(sum(n for _, n in by_reason), by_reason, by_event, examples)
