"""Session replay: per-rrweb-event facts, retention by project, per-session summaries.

session_replay_snapshots (new columns)
  Ingestion (replay/ingest.py `snapshot_facts`) computes a few narrow
  columns from each rrweb event so that a session's summary is a GROUP BY over
  small columns instead of a re-parse of the JSON: `chunk_index` (position in
  its $snapshot chunk: the order of equal timestamps), `size` (bytes of the rrweb
  event as the SDK sent it), `active`/`click`/`keypress`/`mouse`/`reaction`
  flags, `console_level`, the click position `x`, `y`, `node_id`, the `url` of a
  meta event or a posthog-js `$url_changed` custom event, and browser/os/device
  from the uploading request's User-Agent. `expires_at` is the row's timestamp
  plus the project's recording_retention_days at ingestion; the table TTL
  follows it (rows written before this migration keep 400 days).

session_replay_summaries
  One row per (project_id, session_id), recomputed from the snapshot facts of the
  touched sessions after every write (replay/summary.py). ReplacingMergeTree on
  `version` (the recompute time in microseconds): every recompute reads all the
  session's rows, so the newest version is complete whatever the chunk order,
  and readers use FINAL. Not partitioned: a late chunk can move a session's start,
  and ReplacingMergeTree only collapses rows within a partition.
"""

INSERTABLE = ["session_replay_summaries"]

SNAPSHOT_FACT_COLUMNS = [
    "chunk_index UInt32 DEFAULT 0",
    "size UInt32 DEFAULT length(data)",
    "active UInt8 DEFAULT 0",
    "click UInt8 DEFAULT 0",
    "keypress UInt8 DEFAULT 0",
    "mouse UInt8 DEFAULT 0",
    "reaction UInt8 DEFAULT 0",
    "console_level LowCardinality(String) DEFAULT ''",
    "x Int32 DEFAULT 0",
    "y Int32 DEFAULT 0",
    "node_id Int64 DEFAULT 0",
    "url String DEFAULT ''",
    "browser LowCardinality(String) DEFAULT ''",
    "os LowCardinality(String) DEFAULT ''",
    "device_type LowCardinality(String) DEFAULT ''",
    "expires_at DateTime('UTC') DEFAULT toDateTime(timestamp) + INTERVAL 400 DAY",
]


def operations(ddl):
    statements = []
    for column in SNAPSHOT_FACT_COLUMNS:
        statements += ddl.alter_both("session_replay_snapshots", f"ADD COLUMN IF NOT EXISTS {column}")
    statements += ddl.alter("session_replay_snapshots", "MODIFY TTL expires_at")
    statements += ddl.create_table(
        "session_replay_summaries",
        """
    project_id UInt32,
    session_id String,
    distinct_id String,
    person_id UUID,
    start_time DateTime64(3, 'UTC'),
    end_time DateTime64(3, 'UTC'),
    active_ms UInt64,
    click_count UInt32,
    keypress_count UInt32,
    mouse_activity_count UInt32,
    console_log_count UInt32,
    console_warn_count UInt32,
    console_error_count UInt32,
    rage_click_count UInt32,
    dead_click_count UInt32,
    first_url String,
    urls Array(String),
    browser LowCardinality(String),
    os LowCardinality(String),
    device_type LowCardinality(String),
    size_bytes UInt64,
    event_count UInt32,
    window_count UInt16,
    expires_at DateTime('UTC'),
    version UInt64
""",
        engine="ReplacingMergeTree",
        engine_args="version",
        order_by="(project_id, session_id)",
        ttl="expires_at",
        sharding_key="cityHash64(session_id)",
    )
    return statements
