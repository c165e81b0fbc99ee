"""Ingestion: uuid dedup, quarantine, session replay snapshots.

event_uuids
  (project_id, uuid) of every stored event, filled by a materialized view on
  events, so it is written by the same INSERT as the event itself (not atomically:
  migration 0013 makes an interrupted insert repeatable). Ingestion looks
  the uuids of a batch up here before inserting (docs/ingestion.md has the
  measurement), so a redelivered event never counts twice in a query without FINAL.
  index_granularity 256: a uuid is random, so every looked-up uuid reads its own
  granule; 256-row granules make that read 32x smaller than the default 8192
  (5M rows: 100 uuids ~6 ms instead of ~30-150 ms), for a primary index of
  5M/256 = 20k marks (~0.6 MB) held in memory.

ingestion_warnings
  The quarantine: events that failed decoding, validation or the tracking plan,
  merges that were refused, dropped items, with the raw payload (truncated).

session_replay_snapshots
  One row per rrweb event, exactly as the SDK sent it. `uuid` is the $snapshot
  chunk's uuid; session_replay_chunk_uuids (filled by a materialized view) is the
  dedup lookup for redelivered chunks.
"""

INSERTABLE = ["ingestion_warnings", "session_replay_snapshots"]


def operations(ddl):
    return [
        *ddl.create_table(
            "event_uuids",
            """
    project_id UInt32,
    uuid UUID
""",
            engine="ReplacingMergeTree",
            order_by="(project_id, uuid)",
            settings="index_granularity = 256",
        ),
        *ddl.create_materialized_view(
            "event_uuids_mv",
            "event_uuids",
            f"SELECT project_id, uuid FROM {ddl.local_name('events')}",
        ),
        *ddl.create_table(
            "ingestion_warnings",
            """
    project_id UInt32,
    type LowCardinality(String),
    event String,
    distinct_id String,
    details String,
    payload String CODEC(ZSTD(3)),
    timestamp DateTime64(3, 'UTC')
""",
            order_by="(project_id, timestamp)",
            partition_by="toYYYYMM(timestamp)",
            ttl="toDateTime(timestamp) + INTERVAL 90 DAY",
        ),
        *ddl.create_table(
            "session_replay_snapshots",
            """
    project_id UInt32,
    session_id String,
    window_id String,
    distinct_id String,
    timestamp DateTime64(3, 'UTC'),
    event_type UInt8,
    data String CODEC(ZSTD(3)),
    uuid UUID,
    inserted_at DateTime64(3, 'UTC') DEFAULT now64(3)
""",
            order_by="(project_id, session_id, timestamp)",
            partition_by="toYYYYMM(timestamp)",
            ttl="toDateTime(timestamp) + INTERVAL 400 DAY",
        ),
        *ddl.create_table(
            "session_replay_chunk_uuids",
            """
    project_id UInt32,
    uuid UUID
""",
            engine="ReplacingMergeTree",
            order_by="(project_id, uuid)",
            settings="index_granularity = 256",
        ),
        *ddl.create_materialized_view(
            "session_replay_chunk_uuids_mv",
            "session_replay_chunk_uuids",
            f"SELECT DISTINCT project_id, uuid FROM {ddl.local_name('session_replay_snapshots')}",
        ),
    ]
