"""Per-session event lists for paths (docs/paths.md "Performance").

session_paths
  One row per (project, $session_id) after merges; until then a session can have
  several rows (one per INSERT that carried its events), so readers group those rows
  (GROUP BY session_id with groupArrayArray; paths groups only the sessions that have
  several rows, and on a cluster, where a session's rows can sit on several shards, all). `events` is a plain array of (timestamp in µs, uuid as UInt128,
  node key), one per event of the session, sorted per INSERT; merges concatenate
  (SimpleAggregateFunction groupArrayArray: read as a plain column, no aggregate state
  to deserialize — measured 25 ms vs 600 ms for groupArrayState + groupArrayMerge over
  1.8M events), so readers sort again. The node key is
  cityHash64(kind, value) of the event's raw node source: kind 1 = $pageview with
  value mat_current_url, 2 = $screen with $screen_name, 4 = any other event with its
  name — the same (kind, value) pairs paths' node dictionary is built from, so the
  dictionary maps a key to a node id without reading the events again.
  `min_timestamp` / `max_timestamp` (per row) let a date range skip sessions; the
  minmax skip indexes make that cheap because session ids (UUIDv7) are time-ordered.
  Filled by a materialized view on events: every write path (ingestion, demo data,
  benchmarks) fills it in the same INSERT. Events without a $session_id are not
  here (paths groups them per person at query time).

path_node_keys
  The distinct (event, node kind, raw node value) per project and UTC *month*, with the
  same kind/value as above: paths builds its node dictionary (cleaning rules,
  groupings) from these few rows instead of a DISTINCT over the events of the range.
  Per month rather than per day: at 10M events a 90-day range read 1.43M per-day rows
  for 11,216 distinct URLs (0.25-0.31 s of CPU per query) against 33,663 per-month rows
  (0.03 s). A month that only partly overlaps a range adds keys that map to nodes no
  path of the range uses, which changes nothing. ReplacingMergeTree; readers use DISTINCT.

The last statements backfill the events stored before this migration. Events inserted
between the view's creation and the backfill can be counted twice; a duplicate has
the same (timestamp, uuid, key) and collapses with itself in a path.
"""

INSERTABLE: list[str] = []

NODE_KIND = "toUInt8(multiIf(event = '$pageview', 1, event = '$screen', 2, 4))"
NODE_VALUE = (
    "multiIf(event = '$pageview', mat_current_url, "
    "event = '$screen', ifNull(properties.`$screen_name`::Nullable(String), ''), toString(event))"
)


def select_sql(source: str) -> str:
    return f"""SELECT project_id, session_id,
    min(timestamp) AS min_timestamp, max(timestamp) AS max_timestamp,
    arraySort(groupArray((toUnixTimestamp64Micro(timestamp), toUInt128(uuid), cityHash64({NODE_KIND}, {NODE_VALUE})))) AS events
FROM {source}
WHERE session_id != ''
GROUP BY project_id, session_id"""


def keys_select_sql(source: str) -> str:
    return f"""SELECT DISTINCT project_id, toStartOfMonth(timestamp) AS month, event, {NODE_KIND} AS kind, {NODE_VALUE} AS value
FROM {source}"""


def operations(ddl):
    return [
        *ddl.create_table(
            "session_paths",
            """
    project_id UInt32,
    session_id String,
    min_timestamp SimpleAggregateFunction(min, DateTime64(6, 'UTC')),
    max_timestamp SimpleAggregateFunction(max, DateTime64(6, 'UTC')),
    events SimpleAggregateFunction(groupArrayArray, Array(Tuple(Int64, UInt128, UInt64))),
    INDEX min_ts_idx min_timestamp TYPE minmax GRANULARITY 1,
    INDEX max_ts_idx max_timestamp TYPE minmax GRANULARITY 1
""",
            engine="AggregatingMergeTree",
            order_by="(project_id, session_id)",
            sharding_key="cityHash64(session_id)",
        ),
        *ddl.create_materialized_view(
            "session_paths_mv", "session_paths", select_sql(ddl.local_name("events"))
        ),
        *ddl.create_table(
            "path_node_keys",
            """
    project_id UInt32,
    month Date,
    event LowCardinality(String),
    kind UInt8,
    value String
""",
            engine="ReplacingMergeTree",
            order_by="(project_id, month, event, kind, value)",
        ),
        *ddl.create_materialized_view(
            "path_node_keys_mv", "path_node_keys", keys_select_sql(ddl.local_name("events"))
        ),
        # Backfill through the public names (the Distributed tables on a cluster).
        f"INSERT INTO session_paths {select_sql('events')}",
        f"INSERT INTO path_node_keys {keys_select_sql('events')}",
    ]
