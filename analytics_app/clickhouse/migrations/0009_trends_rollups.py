"""Trends rollups (docs/clickhouse.md, "Rollups").

trends_rollup
  The events counted per (project, event, 15-minute UTC bucket, $browser, distinct_id,
  person_id): enough for trends' total count, unique persons (DAU) and a $browser
  breakdown, exactly as the raw path computes them (trends/rollups.py decides when a
  query may read it). 15-minute buckets keep every local day and hour boundary of any
  real time zone (whole, half and quarter-hour offsets) on a bucket boundary. distinct_id
  and person_id are kept so that the person overrides (merges) resolve the same way as on
  `events`, and a person's deletion deletes the same rows (governance/queries.py).
  SummingMergeTree: late events add rows that merge into the bucket's count; queries
  always sum, so unmerged parts are read right.

Migration 0012 rebuilds it with person_id out of the sorting key (so that the squash can
rewrite it). Filled at insert by trends_rollup_mv; the events already stored are backfilled here
(TRUNCATE first, so a migration cut off half-way re-runs exactly). Like every MV on
`events`, the backfill assumes no insert runs during the migration.
"""

COLUMNS = """
    project_id UInt32,
    event LowCardinality(String),
    bucket DateTime('UTC'),
    browser LowCardinality(String),
    distinct_id String,
    person_id UUID,
    events UInt64
"""


def select_sql(events_table: str) -> str:
    return f"""
    SELECT project_id, event, toStartOfFifteenMinutes(timestamp) AS bucket, mat_browser AS browser,
        distinct_id, person_id, count() AS events
    FROM {events_table}
    GROUP BY project_id, event, bucket, browser, distinct_id, person_id
    """


def operations(ddl):
    return [
        *ddl.create_table(
            "trends_rollup",
            COLUMNS,
            engine="SummingMergeTree",
            engine_args="events",
            partition_by="toYYYYMM(bucket)",
            order_by="(project_id, event, bucket, browser, distinct_id, person_id)",
            sharding_key="cityHash64(distinct_id)",
        ),
        *ddl.fill_from_events("trends_rollup", "trends_rollup_mv", select_sql),
    ]
