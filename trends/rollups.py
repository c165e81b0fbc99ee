"""When a trends series may read `trends_rollup` instead of `events`, and the source it reads.

The rollup (ClickHouse migrations 0009 and 0012, docs/clickhouse.md "Rollups") holds,
per 15-minute UTC bucket, event, $browser, distinct_id and person_id, the number of
events. A series reads it only when its answer is the same as the raw path's:

- maths: total (sum of the counts), dau / weekly_active / monthly_active (unique persons,
  resolved through the same person overrides as EventSource);
- no property filter (global or per series) and no breakdown, or an event breakdown on
  `$browser` (the materialized column the rollup keeps);
- every boundary the query cuts time at (range start and end, every interval start, the
  start of a weekly/monthly active window) is a whole 15-minute UTC bucket: true for any
  zone whose offset is a multiple of 15 minutes (UTC, America/Los_Angeles across DST,
  Asia/Kolkata +5:30, Asia/Kathmandu +5:45) with whole-day/hour ranges; a "-24h" range
  ending at now, say, falls back to the raw path;
- settings.SEXTANT_TRENDS_ROLLUPS is on (SEXTANT_TRENDS_ROLLUPS=0 forces the raw path).

The differential test (tests/trends/test_rollups.py) runs the same queries both ways.
The rollup as a source (and `enabled`, `aligned`) is shared with retention's matrix:
insights/blocks/rollup.py.
"""

from __future__ import annotations

import datetime as dt

from insights.blocks import SQLBuilder, rollup
from insights.blocks.rollup import aligned, enabled

MATHS = {"total": "sum(events)", "dau": "uniqExact(person_id)"}
ACTIVE = {"weekly_active", "monthly_active"}
BREAKDOWN_COLUMNS = {"$browser": "browser"}  # event property -> rollup column


def usable(spec, series, boundaries) -> bool:
    """True when `series` of `spec` may read the rollup over `boundaries` (every instant the
    query cuts time at)."""
    if not enabled() or series.math not in MATHS.keys() | ACTIVE:
        return False
    if spec.properties or series.properties:
        return False
    breakdown = spec.breakdown  # any other kind of breakdown (a cohort's, say) reads the events
    if breakdown is not None and (
        getattr(breakdown, "type", None) != "event"
        or getattr(breakdown, "property", None) not in BREAKDOWN_COLUMNS
    ):
        return False
    return aligned(*boundaries)


def aggregate(math: str) -> str:
    return MATHS.get(math, "uniqExact(person_id)")


def source_sql(b: SQLBuilder, spec, series, start: dt.datetime, end: dt.datetime, *, person: bool) -> str:
    """The rollup rows of `series` in [start, end) with the columns trends reads from
    EventSource: timestamp (the bucket), person_id (current person), breakdown_value, events."""
    breakdown = spec.breakdown
    columns = (
        {"breakdown_value": f"r.{BREAKDOWN_COLUMNS[breakdown.property]}"} if breakdown is not None else {}
    )
    return rollup.source_sql(b, [series.event], start, end, person=person, columns=columns)
