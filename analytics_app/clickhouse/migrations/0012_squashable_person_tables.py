"""The tables derived from `events` that store a person_id, laid out so the squash can
rewrite it (docs/clickhouse.md, "Squashing the overrides").

trends_rollup
  As in 0009 (the events counted per project, event, 15-minute UTC bucket, $browser and
  distinct_id), with person_id out of the sorting key: the squash rewrites person_id, and
  ClickHouse cannot rewrite a key column. The rows of one key are summed by the engine
  and keep any one of their person_ids. They can differ only when a merge re-pointed the
  distinct_id between two of its events in the bucket, and then both resolve to the
  distinct_id's current person: through the overrides until the squash, after it because
  the squash rewrites every row of the distinct_id. Rebuilt from the stored events.

sessionless_paths
  Layout unchanged (0011); refilled from the stored events, whose person_id the squash has
  already rewritten, so rows of merges squashed before this migration carry their
  current person too.

From here the squash (ingestion/squash.py) rewrites `events`, `trends_rollup` and
`sessionless_paths` alike, and every read resolves only the merges since the last squash
(insights.blocks.source.current_person). Like every backfill from `events`, this assumes
no insert runs during the migration.
"""

import importlib

_rollup = importlib.import_module("analytics_app.clickhouse.migrations.0009_trends_rollups")
_sessionless = importlib.import_module("analytics_app.clickhouse.migrations.0011_sessionless_paths")


def select_sql(events_table: str) -> str:
    return f"""
    SELECT project_id, event, toStartOfFifteenMinutes(timestamp) AS bucket, mat_browser AS browser,
        distinct_id, any(person_id) AS person_id, count() AS events
    FROM {events_table}
    GROUP BY project_id, event, bucket, browser, distinct_id
    """


def operations(ddl):
    return [
        *ddl.drop_view("trends_rollup_mv"),
        *ddl.drop_table("trends_rollup"),
        *ddl.create_table(
            "trends_rollup",
            _rollup.COLUMNS,  # the same columns; person_id leaves the sorting key
            engine="SummingMergeTree",
            engine_args="events",
            partition_by="toYYYYMM(bucket)",
            order_by="(project_id, event, bucket, browser, distinct_id)",
            sharding_key="cityHash64(distinct_id)",
        ),
        *ddl.fill_from_events("trends_rollup", "trends_rollup_mv", select_sql),
        *ddl.fill_from_events("sessionless_paths", "sessionless_paths_mv", _sessionless.select_sql),
    ]
