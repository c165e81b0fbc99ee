"""Repeatable inserts: an INSERT cut off between a table and its views can be completed
(docs/ingestion.md, "Interrupted inserts").

An INSERT into `events` is not atomic with the materialized views below it: the events
part is committed first, then each view's (event_uuids, session_paths, path_node_keys,
discovery_daily, trends_rollup, sessionless_paths), one after the other. A kill -9 or an
error in between left `events` holding the rows while event_uuids, the dedup lookup, did
not, so the redelivered batch was stored a second time (the fault suite saw it once under
load); or the lookup had them and a rollup never did. The same holds for
session_replay_snapshots and session_replay_chunk_uuids.

events.insert_id, session_replay_snapshots.insert_id
  The id of the INSERT that wrote the row (zero for rows written before this migration or
  by bulk loads). It is also the insert's deduplication token.

non_replicated_deduplication_window on both tables and on every table a view fills from
them: each remembers the tokens of its last 1000 inserts, so repeating an insert with
its token writes only where the block is missing. (A Replicated table on a cluster
deduplicates by its own replicated_deduplication_window.)

insert_log
  One row when a tracked insert begins (done = 0) and one once the writer's whole batch
  is stored (done = 1, written with the next batch's begin rows). At start-up and after a
  failed write, the writer repeats every insert begun and not done (ingestion/writer.py).
  Kept two days.
"""

INSERTABLE = ["insert_log"]

# The tables filled by a materialized view from a repeatable table (checked against
# system.tables by tests/ingestion/test_interrupted_inserts.py).
DERIVED = (
    "event_uuids",
    "session_paths",
    "path_node_keys",
    "discovery_daily",
    "trends_rollup",
    "sessionless_paths",
    "session_replay_chunk_uuids",
)
WINDOW = 1000


def operations(ddl):
    statements = []
    for table in ("events", "session_replay_snapshots"):
        statements += ddl.alter_both(
            table,
            "ADD COLUMN IF NOT EXISTS insert_id UUID DEFAULT toUUID('00000000-0000-0000-0000-000000000000')",
        )
    if not ddl.cluster:
        for table in ("events", "session_replay_snapshots", *DERIVED):
            statements += ddl.alter(table, f"MODIFY SETTING non_replicated_deduplication_window = {WINDOW}")
    statements += ddl.create_table(
        "insert_log",
        """
    project_id UInt32,
    insert_id UUID,
    table LowCardinality(String),
    project_ids Array(UInt32),
    since DateTime64(6, 'UTC'),
    until DateTime64(6, 'UTC'),
    done UInt8,
    at DateTime64(3, 'UTC') DEFAULT now64(3)
""",
        order_by="(at, insert_id)",
        ttl="toDateTime(at) + INTERVAL 2 DAY",
        sharding_key="rand()",
    )
    return statements
