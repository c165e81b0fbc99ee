"""Squashing person overrides: giving a merged identity's stored events their current person.

Ingestion stores every event with the person its distinct_id points at when it is
written, and never rewrites it at that moment. A later merge that re-points the
distinct_id leaves its older events with a stale person_id; queries resolve those
through the person overrides (insights/blocks/source.py). The overrides grow with
every merge ever made, and every query pays for resolving them, so this job, run
hourly by Celery beat (`ingestion.squash_person_overrides`) and by
`manage.py squash_person_overrides`, takes the overrides older than SQUASH_MIN_AGE and

1. rewrites the person_id of those distinct_ids' rows to their current person in
   `events` and in the tables derived from it that store one (`trends_rollup`,
   `sessionless_paths`, `funnel_events`, REWRITTEN_TABLES; one mutation per table and
   batch: ClickHouse rewrites only that column of the parts holding such rows and leaves
   the other parts as they are);
2. writes a `squashed` copy of each distinct_id's latest mapping row (same version,
   same person), which takes it out of the overrides.

Safe at any point: a crash between 1 and 2 leaves rows that already carry the person the
override resolves to, and the next run does it again. A merge that re-points a
distinct_id while it is being squashed writes a higher version without `squashed`, so
that distinct_id stays an override (resolved to the newer person) until the next run.
SQUASH_MIN_AGE keeps the job away from merges so recent that an event resolved before
them could still be on its way to the table. Every table whose rows carry a person_id is
rewritten (ClickHouse migration 0012 took it out of trends_rollup's sorting key), so every
read resolves only the overrides since the last squash (docs/clickhouse.md).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import time

from django.conf import settings

from analytics_app import clickhouse as ch
from analytics_app.clickhouse.migrate import DDL

log = logging.getLogger(__name__)

SQUASH_MIN_AGE = dt.timedelta(minutes=10)
# distinct_ids per mutation: each mutation rewrites person_id in every part holding one
# of their events, so fewer, larger batches write less.
BATCH = 50_000

# The latest row of every unsquashed override last re-pointed before {before} (ns).
DUE_SQL = """
    SELECT distinct_id, argMax(person_id, (version, squashed)) AS latest_person,
        max(version) AS latest_version, argMax(is_deleted, (version, squashed)) AS latest_deleted
    FROM person_distinct_ids
    WHERE project_id = {project_id:UInt32}
    GROUP BY distinct_id
    HAVING uniqExact(person_id) > 1 AND argMax(squashed, (version, squashed)) = 0
        AND max(version) < {before:UInt64}
    ORDER BY distinct_id
    LIMIT {limit:UInt32}
"""

# The same rows again, just before marking them: a distinct_id re-pointed or deleted
# meanwhile is left for the next run.
LATEST_SQL = """
    SELECT distinct_id, argMax(person_id, (version, squashed)) AS latest_person, max(version) AS latest_version
    FROM person_distinct_ids
    WHERE project_id = {project_id:UInt32} AND distinct_id IN {dids:Array(String)}
    GROUP BY distinct_id
"""

# `persons[idx]` with idx the distinct_id's position (transform is a hash lookup; 0 for
# the rows of other distinct_ids, which the WHERE leaves as they are).
_PERSON_OF_ROW = (
    "{persons:Array(UUID)}[transform(distinct_id, {dids:Array(String)}, {idx:Array(UInt32)}, toUInt32(0))]"
)
# The tables whose rows carry the person_id of their distinct_id's events: all rewritten.
REWRITTEN_TABLES = ("events", "trends_rollup", "sessionless_paths", "funnel_events")
# The ALTER's action; `_rewrite_sql` puts it on each table (its local tables on a cluster).
REWRITE_ACTION = (
    "UPDATE person_id = "
    + _PERSON_OF_ROW
    + """
    WHERE project_id = {project_id:UInt32} AND distinct_id IN {dids:Array(String)}
        AND person_id != """
    + _PERSON_OF_ROW
    + """
    SETTINGS mutations_sync = 2
"""
)


@dataclasses.dataclass
class SquashResult:
    distinct_ids: int = 0
    batches: int = 0
    seconds: float = 0.0


def _rewrite_sql(table: str) -> str:
    [statement] = DDL(getattr(settings, "CLICKHOUSE_CLUSTER", "")).alter(table, REWRITE_ACTION)
    return statement


def squash_project(
    project_id: int, *, min_age: dt.timedelta | None = None, batch: int = BATCH, max_batches: int = 50
) -> SquashResult:
    """Squash the project's overrides re-pointed more than `min_age` (SQUASH_MIN_AGE)
    ago, up to `max_batches` batches of `batch` distinct_ids; returns what was done."""
    min_age = SQUASH_MIN_AGE if min_age is None else min_age
    t0 = time.perf_counter()
    result = SquashResult()
    before = time.time_ns() - int(min_age.total_seconds() * 1e9)
    params = {"project_id": project_id}
    for _ in range(max_batches):
        due = ch.query(DUE_SQL, {**params, "before": max(before, 0), "limit": batch}).rows
        if not due:
            break
        dids = [r[0] for r in due]
        persons = [r[1] for r in due]
        rewrite = {**params, "dids": dids, "persons": persons, "idx": list(range(1, len(dids) + 1))}
        for table in REWRITTEN_TABLES:
            ch.command(_rewrite_sql(table), rewrite)
        latest = {r[0]: (r[1], r[2]) for r in ch.query(LATEST_SQL, {**params, "dids": dids}).rows}
        marks = [r for r in due if latest.get(r[0]) == (r[1], r[2])]
        if marks:
            ch.insert(
                "person_distinct_ids",
                {
                    "project_id": [project_id] * len(marks),
                    "distinct_id": [r[0] for r in marks],
                    "person_id": [r[1] for r in marks],
                    "is_deleted": [r[3] for r in marks],
                    "version": [r[2] for r in marks],
                    "squashed": [1] * len(marks),
                },
            )
        result.distinct_ids += len(marks)
        result.batches += 1
        if len(due) < batch:
            break
    result.seconds = time.perf_counter() - t0
    if result.distinct_ids:
        log.info(
            "squashed %d person overrides of project %s in %.1f s",
            result.distinct_ids,
            project_id,
            result.seconds,
        )
    return result
