"""`trends_rollup` as a source of rows, for the insights whose answer it keeps exactly.

The rollup (ClickHouse migrations 0009 and 0012, docs/clickhouse.md "Rollups") holds,
per 15-minute UTC bucket, event, $browser, distinct_id and person_id, the number of
events. What it keeps: which persons did which event in which bucket, and how often. An
insight may read it instead of `events` when its answer depends on nothing else (no
event or person property filter) and every instant it cuts time at is a bucket boundary
(`aligned`): trends' counts and unique persons (trends/rollups.py) and retention's
matrix (retention/queries.py).

settings.SEXTANT_TRENDS_ROLLUPS (on by default) is the switch for both; off, every query
reads the events.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings

from .builder import SQLBuilder
from .source import DT64, current_person

BUCKET_SECONDS = 900  # toStartOfFifteenMinutes in the migration


def enabled() -> bool:
    return bool(getattr(settings, "SEXTANT_TRENDS_ROLLUPS", True))


def aligned(*moments: dt.datetime) -> bool:
    """Every moment is a bucket boundary (an instant: the zone does not matter). Local
    midnights and hour starts are, in every zone whose offset is a multiple of 15 minutes."""
    return all(m.microsecond == 0 and int(m.timestamp()) % BUCKET_SECONDS == 0 for m in moments)


def source_sql(
    b: SQLBuilder,
    events: list[str],
    start: dt.datetime | None,
    end: dt.datetime,
    *,
    person: bool,
    columns: dict[str, str] | None = None,
    where: list[str] | None = None,
) -> str:
    """The rollup rows of `events` with buckets in [start, end) (no lower bound when
    `start` is None), as columns timestamp (the bucket's start), event, person_id (the
    current person when `person`, resolved as EventSource resolves it), events (how many
    in the bucket), plus `columns` (alias -> expression over `r`, the rollup row) and
    `where` (more conditions over `r`). `start` and `end` must be `aligned`."""
    person_id, join = current_person(b, "r", person)
    conditions = [
        "r.project_id = {project_id:UInt32}",
        f"r.event IN {b.bind(list(events), 'Array(String)')}",
        f"r.bucket < toDateTime({b.bind(end, DT64)})",
    ]
    if start is not None:
        conditions.append(f"r.bucket >= toDateTime({b.bind(start, DT64)})")
    conditions.extend(where or ())
    extra = "".join(f", {expr} AS {alias}" for alias, expr in (columns or {}).items())
    return f"""
        SELECT r.bucket AS timestamp, r.event AS event, {person_id} AS person_id, r.events AS events{extra}
        FROM trends_rollup AS r{join}
        WHERE {" AND ".join(conditions)}
        """  # noqa: S608 - expressions from the callers' allow-lists, values bound
