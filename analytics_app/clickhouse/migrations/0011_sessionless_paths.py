"""The events without a $session_id, narrowed for paths (docs/paths.md "Performance").

sessionless_paths
  One row per event whose session_id is empty: its time, uuid, distinct_id, the person it
  was stored with and its node key (cityHash64(kind, value), the same key as
  session_paths, migration 0005). Paths groups these events per person and splits them
  at 30-minute gaps; reading them from `events` meant reading the URL, uuid and person
  columns of every event of the range (they are spread over every granule): 0.5 s of CPU
  per query at 10M events with 10% of them session-less, against ~0.05 s here.

  The person is resolved at query time through the overrides (since 0012 the squash
  rewrites this table's person_id as it does the events'). A person's deletion and event
  retention delete these rows with the events' own conditions (governance/queries.py).
  A plain MergeTree: one row per stored event, as in `events`.

Filled at insert by sessionless_paths_mv; the events already stored are backfilled here
(TRUNCATE first, so a migration cut off half-way re-runs exactly). Like every MV on
`events`, the backfill assumes no insert runs during the migration.
"""

import importlib

_paths = importlib.import_module("analytics_app.clickhouse.migrations.0005_session_paths")


def select_sql(events_table: str) -> str:
    return f"""
    SELECT project_id, timestamp, distinct_id, person_id, uuid,
        cityHash64({_paths.NODE_KIND}, {_paths.NODE_VALUE}) AS key
    FROM {events_table}
    WHERE session_id = ''
    """


def operations(ddl):
    return [
        *ddl.create_table(
            "sessionless_paths",
            """
    project_id UInt32,
    timestamp DateTime64(6, 'UTC'),
    distinct_id String,
    person_id UUID,
    uuid UUID,
    key UInt64
""",
            engine="MergeTree",
            partition_by="toYYYYMM(timestamp)",
            order_by="(project_id, toDate(timestamp), distinct_id, timestamp)",
            sharding_key="cityHash64(distinct_id)",
        ),
        *ddl.fill_from_events("sessionless_paths", "sessionless_paths_mv", select_sql),
    ]
