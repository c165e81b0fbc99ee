"""The tracking plan's quarantine (docs/tracking-plan.md, "Quarantine").

quarantined_events
  Events a project in quarantine mode held back because they break its tracking plan:
  fully processed (uuid, corrected timestamp, enrichment, person operations), kept as the
  processed event's JSON in `payload`, with the first violation as `reason` (the group
  the quarantine page shows) and all of them in `details`. Ordered by (project_id, uuid)
  with small granules, like event_uuids: ingestion looks every new row's uuid up here so
  a retried request is held once. Kept 90 days (released or not).

quarantine_status
  What happened to a quarantined event: `released` (stored into events) or `discarded`,
  written only after a release batch was stored. An event is pending while it has no
  row here. ReplacingMergeTree by (project_id, uuid): writing a state twice (a retried
  batch) leaves one row.
"""

INSERTABLE = ["quarantined_events", "quarantine_status"]


def operations(ddl):
    return [
        *ddl.create_table(
            "quarantined_events",
            """
    project_id UInt32,
    uuid UUID,
    reason String,
    details String,
    event String,
    distinct_id String,
    payload String CODEC(ZSTD(3)),
    timestamp DateTime64(6, 'UTC'),
    quarantined_at DateTime64(3, 'UTC')
""",
            order_by="(project_id, uuid)",
            partition_by="toYYYYMM(quarantined_at)",
            ttl="toDateTime(quarantined_at) + INTERVAL 90 DAY",
            settings="index_granularity = 1024",
        ),
        *ddl.create_table(
            "quarantine_status",
            """
    project_id UInt32,
    uuid UUID,
    status LowCardinality(String),
    action_id UInt64,
    version UInt64,
    updated_at DateTime64(3, 'UTC')
""",
            engine="ReplacingMergeTree",
            engine_args="version",
            order_by="(project_id, uuid)",
            ttl="toDateTime(updated_at) + INTERVAL 120 DAY",
            settings="index_granularity = 1024",
        ),
    ]
