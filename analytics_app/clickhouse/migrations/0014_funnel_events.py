"""The events ordered by actor for funnels (docs/funnels.md, "The events ordered by actor").

funnel_events
  One row per stored event, only the columns a funnel whose steps are matched by event
  name reads: its name, time, uuid (the tie-break), session, distinct_id and the person
  it was stored with. Ordered by distinct_id and time inside each month, so a funnel's
  per-person arrays are gathered from runs of one actor's rows instead of one row at a
  time from every day's blocks: the plain 4-step funnel at 10M events took 0.30-0.31 s
  here against 0.40-0.42 s over `events` (same counts). `events` stays ordered by day for
  every query over a short range; FunnelSQL.source_table (funnels/queries/base.py)
  decides which one a funnel reads.

  distinct_id, not person_id, leads the sorting key: the squash rewrites person_id
  (ingestion/squash.py, REWRITTEN_TABLES), and ClickHouse cannot update a key column. A
  person's rows are the runs of their one or two distinct_ids. The person is resolved at
  query time through the overrides, as on `events`. A person's deletion and event
  retention delete these rows with the events' own conditions (governance/queries.py).
  A plain MergeTree: one row per stored event, as in `events`; a month left alone for an
  hour is merged into one part (FORCE_MERGE). The times, in order within a distinct_id,
  are stored as deltas: 8% smaller, and the plain funnel read them in 0.28 s against 0.31.

Filled at insert by funnel_events_mv, with a deduplication window like every table a view
fills from `events` (migration 0013); the events already stored are backfilled here
(TRUNCATE first, so a migration cut off half-way re-runs exactly). Like every MV on
`events`, the backfill assumes no insert runs during the migration.
"""

import importlib

_repeatable = importlib.import_module("analytics_app.clickhouse.migrations.0013_repeatable_inserts")

# Tables a view fills from a repeatable table, added by this migration (with 0013's DERIVED:
# tests/ingestion/test_interrupted_inserts.py).
DERIVED = ("funnel_events",)

# A month no insert has touched for an hour is merged into one part: a person's rows are
# then one run per distinct_id in that month. The default merge policy leaves a bulk-loaded
# month in several parts for good (4 per month at 10M events), and each part is one more run
# per person: the plain funnel took 0.39 s over four parts a month against 0.31 s over one
# (0.40-0.42 s over `events`).
FORCE_MERGE = "min_age_to_force_merge_seconds = 3600, min_age_to_force_merge_on_partition_only = 1"


def select_sql(events_table: str) -> str:
    return f"""
    SELECT project_id, event, distinct_id, person_id, timestamp, uuid, session_id
    FROM {events_table}
    """


def operations(ddl):
    return [
        *ddl.create_table(
            "funnel_events",
            """
    project_id UInt32,
    event LowCardinality(String),
    distinct_id String,
    person_id UUID,
    timestamp DateTime64(6, 'UTC') CODEC(Delta, LZ4),
    uuid UUID,
    session_id String
""",
            engine="MergeTree",
            partition_by="toYYYYMM(timestamp)",
            order_by="(project_id, distinct_id, timestamp)",
            settings=FORCE_MERGE
            + ("" if ddl.cluster else f", non_replicated_deduplication_window = {_repeatable.WINDOW}"),
            sharding_key="cityHash64(distinct_id)",
        ),
        *ddl.fill_from_events("funnel_events", "funnel_events_mv", select_sql),
    ]
