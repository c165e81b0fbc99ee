"""ClickHouse SQL of person deletion and event retention (governance/deletion.py).

Every value is bound; the lists of ids are bound as arrays. Deletions are lightweight
DELETEs with `lightweight_deletes_sync = 2` / `mutations_sync = 2`: the statement returns once
the rows are gone from every query (on a cluster, on every replica); merges purge them from disk later.
"""

from __future__ import annotations

# ---- Finding the person ----

PERSON_OF_DISTINCT_ID_SQL = """
    SELECT argMax(person_id, version) FROM person_distinct_ids
    WHERE project_id = {project_id:UInt32} AND distinct_id = {distinct_id:String}
    GROUP BY distinct_id
"""

# An e-mail is the person's current `email` (or `$email`) property, compared case-insensitively.
PERSONS_OF_EMAIL_SQL = """
    SELECT id FROM persons
    WHERE project_id = {project_id:UInt32}
    GROUP BY id
    HAVING lower(trimBoth(argMax(JSONExtractString(properties, 'email'), version))) = {email:String}
        OR lower(trimBoth(argMax(JSONExtractString(properties, '$email'), version))) = {email:String}
"""

PERSON_EXISTS_SQL = """
    SELECT count() FROM (
        SELECT id FROM persons WHERE project_id = {project_id:UInt32} AND id = {person_id:UUID}
        UNION ALL
        SELECT person_id FROM person_distinct_ids
        WHERE project_id = {project_id:UInt32} AND person_id = {person_id:UUID}
    )
"""

# Every distinct_id that ever pointed at one of the persons, and every person those
# distinct_ids ever pointed at (an anonymous person merged into the identified one).
DISTINCT_IDS_OF_PERSONS_SQL = """
    SELECT DISTINCT distinct_id FROM person_distinct_ids
    WHERE project_id = {project_id:UInt32} AND person_id IN {person_ids:Array(UUID)}
"""

PERSONS_OF_DISTINCT_IDS_SQL = """
    SELECT DISTINCT person_id FROM person_distinct_ids
    WHERE project_id = {project_id:UInt32} AND distinct_id IN {dids:Array(String)}
"""

# Every e-mail the persons ever had (any version), to take them out of static cohort lists.
EMAILS_OF_PERSONS_SQL = """
    SELECT DISTINCT lower(trimBoth(arrayJoin([JSONExtractString(properties, 'email'),
                                              JSONExtractString(properties, '$email')]))) AS email
    FROM persons
    WHERE project_id = {project_id:UInt32} AND id IN {person_ids:Array(UUID)} AND email != ''
"""

EXISTING_PERSONS_SQL = """
    SELECT DISTINCT id FROM persons WHERE project_id = {project_id:UInt32} AND id IN {person_ids:Array(UUID)}
"""

# ---- What a deletion removes (the confirmation page's counts) ----

_EVENTS_OF_PERSON = """
    project_id = {project_id:UInt32}
    AND (distinct_id IN {dids:Array(String)} OR person_id IN {person_ids:Array(UUID)})
"""

COUNT_EVENTS_SQL = f"SELECT count() FROM events WHERE {_EVENTS_OF_PERSON}"

COUNT_RECORDINGS_SQL = """
    SELECT uniqExact(session_id) FROM session_replay_snapshots
    WHERE project_id = {project_id:UInt32} AND distinct_id IN {dids:Array(String)}
"""

SESSIONS_OF_EVENTS_SQL = f"""
    SELECT DISTINCT session_id FROM events WHERE {_EVENTS_OF_PERSON} AND session_id != ''
"""

MONTHS_OF_EVENTS_SQL = f"SELECT DISTINCT toStartOfMonth(timestamp) FROM events WHERE {_EVENTS_OF_PERSON}"

# ---- The deletions ----

_SYNC = "SETTINGS lightweight_deletes_sync = 2, mutations_sync = 2"

DELETE_EVENTS_SQL = f"DELETE FROM events WHERE {_EVENTS_OF_PERSON} {_SYNC}"

# trends_rollup rows carry the distinct_id and person_id of their events: the same condition.
DELETE_ROLLUP_SQL = f"DELETE FROM trends_rollup WHERE {_EVENTS_OF_PERSON} {_SYNC}"

# Tables whose rows are events again, one row each, with the event's distinct_id, person_id
# as stored and timestamp: a person's deletion and event retention delete there with the
# events' own conditions. sessionless_paths: the session-less events (migration 0011);
# funnel_events: every event, ordered by distinct_id (0014).
EVENT_COPIES = ("sessionless_paths", "funnel_events")
DELETE_EVENT_COPIES_SQL = [f"DELETE FROM {table} WHERE {_EVENTS_OF_PERSON} {_SYNC}" for table in EVENT_COPIES]

DELETE_PERSONS_SQL = f"""
    DELETE FROM persons WHERE project_id = {{project_id:UInt32}} AND id IN {{person_ids:Array(UUID)}} {_SYNC}
"""

DELETE_DISTINCT_IDS_SQL = f"""
    DELETE FROM person_distinct_ids
    WHERE project_id = {{project_id:UInt32}}
      AND (distinct_id IN {{dids:Array(String)}} OR person_id IN {{person_ids:Array(UUID)}})
    {_SYNC}
"""

DELETE_COHORT_PEOPLE_SQL = f"""
    DELETE FROM cohort_people
    WHERE project_id = {{project_id:UInt32}} AND person_id IN {{person_ids:Array(UUID)}} {_SYNC}
"""

# Quarantined events of the person: by distinct_id, or naming one of the ids or e-mails as a
# whole string: quoted as JSON in the payload, as Python's repr in the details (a refused
# merge names both ids there), so a short id never matches inside other text.
DELETE_WARNINGS_SQL = f"""
    DELETE FROM ingestion_warnings
    WHERE project_id = {{project_id:UInt32}}
      AND (distinct_id IN {{dids:Array(String)}}
           OR multiSearchAny(payload, {{in_json:Array(String)}})
           OR multiSearchAny(details, {{in_repr:Array(String)}}))
    {_SYNC}
"""

# The tracking plan's held events (and their status rows) of the person: by distinct_id, or a
# payload naming one of the ids or the e-mail as a JSON string ($identify's $anon_distinct_id,
# a $set email). The payload holds the processed event, whose properties are JSON text
# inside JSON: the needles come both as JSON strings and as escaped JSON strings.
DELETE_QUARANTINE_STATUS_SQL = f"""
    DELETE FROM quarantine_status
    WHERE project_id = {{project_id:UInt32}}
      AND uuid IN (SELECT uuid FROM quarantined_events WHERE project_id = {{project_id:UInt32}}
          AND (distinct_id IN {{dids:Array(String)}} OR multiSearchAny(payload, {{in_json:Array(String)}})))
    {_SYNC}
"""
DELETE_QUARANTINED_SQL = f"""
    DELETE FROM quarantined_events
    WHERE project_id = {{project_id:UInt32}}
      AND (distinct_id IN {{dids:Array(String)}} OR multiSearchAny(payload, {{in_json:Array(String)}}))
    {_SYNC}
"""

# session_paths rows are per session: those of the person's sessions are dropped and
# rebuilt from the events that remain (another person's events in the same session).
DELETE_SESSION_PATHS_SQL = f"""
    DELETE FROM session_paths
    WHERE project_id = {{project_id:UInt32}} AND session_id IN {{sessions:Array(String)}} {_SYNC}
"""

# path_node_keys rows are per project and month: the months of the person's events are
# dropped and rebuilt from the events that remain.
DELETE_PATH_KEYS_SQL = f"""
    DELETE FROM path_node_keys
    WHERE project_id = {{project_id:UInt32}} AND month IN {{months:Array(Date)}} {_SYNC}
"""

# The sources the rebuilds read (the derived tables' own SELECT): the events of those
# sessions / months that are not the person's, so the rebuild can run before the events go.
_NOT_THE_PERSON = "NOT (distinct_id IN {dids:Array(String)} OR person_id IN {person_ids:Array(UUID)})"

EVENTS_OF_SESSIONS_SOURCE = f"""(
    SELECT project_id, session_id, timestamp, uuid, event, mat_current_url, properties FROM events
    WHERE project_id = {{project_id:UInt32}} AND session_id IN {{sessions:Array(String)}} AND {_NOT_THE_PERSON}
)"""

EVENTS_OF_MONTHS_SOURCE = f"""(
    SELECT project_id, timestamp, event, mat_current_url, properties FROM events
    WHERE project_id = {{project_id:UInt32}} AND toStartOfMonth(timestamp) IN {{months:Array(Date)}}
      AND {_NOT_THE_PERSON}
)"""

# ---- Event retention ----

EXPIRED_EVENTS_SQL = """
    SELECT count() FROM events
    WHERE project_id = {project_id:UInt32} AND timestamp < {cutoff:DateTime64(6, 'UTC')}
"""

# The rows of a table of events (one row per event, with its timestamp) older than the cutoff.
_DELETE_EXPIRED_ROWS = f"""
    DELETE FROM {{table}}
    WHERE project_id = {{{{project_id:UInt32}}}} AND timestamp < {{{{cutoff:DateTime64(6, 'UTC')}}}} {_SYNC}
"""
DELETE_EXPIRED_EVENTS_SQL = _DELETE_EXPIRED_ROWS.format(table="events")

# trends_rollup (15-minute buckets): every bucket up to the one holding the cutoff goes, then
# that bucket is refilled from the events that remain (ROLLUP_REFILL_SOURCE through the
# migration's select), so the rollup keeps exactly the remaining events.
DELETE_EXPIRED_ROLLUP_SQL = f"""
    DELETE FROM trends_rollup
    WHERE project_id = {{project_id:UInt32}} AND bucket <= toStartOfFifteenMinutes({{cutoff:DateTime64(6, 'UTC')}}) {_SYNC}
"""
ROLLUP_REFILL_SOURCE = """
    SELECT project_id, event, timestamp, mat_browser, distinct_id, person_id FROM events
    WHERE project_id = {project_id:UInt32}
      AND timestamp >= toStartOfFifteenMinutes({cutoff:DateTime64(6, 'UTC')})
      AND timestamp < toStartOfFifteenMinutes({cutoff:DateTime64(6, 'UTC')}) + INTERVAL 15 MINUTE
"""

DELETE_EXPIRED_SESSION_PATHS_SQL = f"""
    DELETE FROM session_paths
    WHERE project_id = {{project_id:UInt32}} AND max_timestamp < {{cutoff:DateTime64(6, 'UTC')}} {_SYNC}
"""

DELETE_EXPIRED_EVENT_COPIES_SQL = [_DELETE_EXPIRED_ROWS.format(table=table) for table in EVENT_COPIES]

DELETE_EXPIRED_PATH_KEYS_SQL = f"""
    DELETE FROM path_node_keys
    WHERE project_id = {{project_id:UInt32}} AND month < toStartOfMonth({{cutoff:DateTime64(6, 'UTC')}}) {_SYNC}
"""
