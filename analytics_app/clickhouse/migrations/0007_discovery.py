"""What the traffic carries, per day, for the tracking plan's discovery (docs/tracking-plan.md,
"Discovery").

discovery_daily
  One row per (project, event name, top-level property key, observed type, UTC day)
  after merges: how many events, the first and the last timestamp. The rows with an
  empty key and type count the events themselves (every event has one), so a name's
  30-day volume is a sum over at most 30 rows, and first / last seen a min / max over its
  days, however many events there are. One view and one table for both (not one per
  level): each materialized view writes a part per insert, a fixed cost on every
  ingestion batch.
  The type is the plan's vocabulary (string, number, boolean, datetime, object, array),
  read from the JSON column's own typed paths (`JSONAllPathsWithTypes`): Int*/UInt*/
  Float*/Decimal -> number, Bool -> boolean, Date/DateTime* -> datetime (the JSON type
  infers them from ISO 8601 strings), Array(...) -> array, a nested path (`a.b`) ->
  object of its first segment, anything else -> string. The JSON type keeps no nulls
  and no empty objects, so those are not seen. An event counts once per (key, type).

discovered_person_properties
  The same for person properties, per (project, key, type, UTC day), from each row
  written to `persons` (the properties are a JSON string there: `JSONType` of each
  top-level value; a string that starts like an ISO 8601 date is a datetime). Counts
  are person writes, not persons, and the day is the write's (`persons` keeps no write
  time, only the person's creation, which the backfill uses).

AggregatingMergeTree with SimpleAggregateFunction columns (sum / min / max): merges
combine the rows of one key, readers group anyway. Neither table holds a
person id, a distinct_id or a value, only names, keys, types, days and counts, so
deleting a person leaves them as they are.

The last statements backfill what was stored before this migration; events inserted
between a view's creation and its backfill are counted twice (volumes only, never a
name or type that was not seen), as is a duplicate event that slips past ingestion's
uuid check (`events` drops it at a merge).
"""

INSERTABLE: list[str] = []

PLAN_TYPE = """multiIf(
        position(x.1, '.') > 0, 'object',
        startsWith(x.2, 'Array'), 'array',
        x.2 = 'Bool', 'boolean',
        startsWith(x.2, 'Date'), 'datetime',
        match(x.2, '^(U?Int|Float|Decimal)'), 'number',
        'string')"""

# The event itself as ('', ''), then its distinct (key, type) pairs.
KEYS_AND_TYPES = f"""arrayPushFront(arrayDistinct(arrayMap(
        x -> (splitByChar('.', x.1)[1], {PLAN_TYPE}),
        CAST(JSONAllPathsWithTypes(properties), 'Array(Tuple(String, String))'))), ('', ''))"""

PERSON_TYPE = """multiIf(
        JSONType(kv.2) IN ('Int64', 'UInt64', 'Double'), 'number',
        JSONType(kv.2) = 'Bool', 'boolean',
        JSONType(kv.2) = 'Array', 'array',
        JSONType(kv.2) = 'Object', 'object',
        match(kv.2, '^"[0-9]{4}-[0-9]{2}-[0-9]{2}([T ][0-9]{2}:[0-9]{2}(:[0-9]{2}([.][0-9]+)?)?(Z|[+-][0-9]{2}:?[0-9]{2})?)?"$'), 'datetime',
        'string')"""

COUNTS = """toDate(timestamp) AS day, count() AS events,
    min(timestamp) AS first_seen, max(timestamp) AS last_seen"""


def daily_select(source: str) -> str:
    return f"""SELECT project_id, event, kt.1 AS key, kt.2 AS type, {COUNTS}
FROM {source}
ARRAY JOIN {KEYS_AND_TYPES} AS kt
GROUP BY project_id, event, key, type, day"""


def person_properties_select(source: str, at: str) -> str:
    """`at`: when the row was written (the view: now; the backfill: the person's creation)."""
    return f"""SELECT project_id, kt.1 AS key, kt.2 AS type,
    toDate({at}) AS day, count() AS events, min({at}) AS first_seen, max({at}) AS last_seen
FROM {source}
ARRAY JOIN arrayDistinct(arrayMap(kv -> (kv.1, {PERSON_TYPE}),
    arrayFilter(kv -> JSONType(kv.2) != 'Null', JSONExtractKeysAndValuesRaw(properties)))) AS kt
GROUP BY project_id, key, type, day"""


SEEN = """
    day Date,
    events SimpleAggregateFunction(sum, UInt64),
    first_seen SimpleAggregateFunction(min, DateTime64(6, 'UTC')),
    last_seen SimpleAggregateFunction(max, DateTime64(6, 'UTC'))
"""


def operations(ddl):
    return [
        *ddl.create_table(
            "discovery_daily",
            "project_id UInt32,\n    event LowCardinality(String),\n    key String,\n"
            "    type LowCardinality(String)," + SEEN,
            engine="AggregatingMergeTree",
            order_by="(project_id, event, key, type, day)",
        ),
        *ddl.create_materialized_view(
            "discovery_daily_mv", "discovery_daily", daily_select(ddl.local_name("events"))
        ),
        *ddl.create_table(
            "discovered_person_properties",
            "project_id UInt32,\n    key String,\n    type LowCardinality(String)," + SEEN,
            engine="AggregatingMergeTree",
            order_by="(project_id, key, type, day)",
        ),
        *ddl.create_materialized_view(
            "discovered_person_properties_mv",
            "discovered_person_properties",
            person_properties_select(ddl.local_name("persons"), "now64(6, 'UTC')"),
        ),
        # Backfill through the public names (the Distributed tables on a cluster).
        f"INSERT INTO discovery_daily {daily_select('events')}",
        f"INSERT INTO discovered_person_properties {person_properties_select('persons', 'created_at')}",
    ]
