"""The tracking plan's quarantine: what it holds, and releasing or discarding a group
exactly once (docs/tracking-plan.md, "Quarantine").

Events are held in ClickHouse's `quarantined_events` (migration 0008_quarantine); an
event is pending until `quarantine_status` has a row for its uuid (`released` or
`discarded`). A group is (reason, event name).

Release, batch by batch (BATCH events, oldest first):
1. read the next pending events of the group quarantined up to the action's request time;
2. store them as fresh events through the ingestion store path (`ingestion.store`:
   the group-commit writer embedded, the Redis stream in production), so `write_jobs`
   deduplicates them against event_uuids by their uuid and `persons.store.apply` resolves
   identities ($identify merges persons) exactly as at capture;
3. only then mark them released.
A crash between 2 and 3 leaves them pending: the next run reads them again and
write_jobs drops those already stored, so every event is stored exactly once and none
is lost. Discard is the same loop without step 2.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

from analytics_app import clickhouse as ch
from analytics_app.jsoncodec import loads

BATCH = 1_000

_PENDING = "uuid NOT IN (SELECT uuid FROM quarantine_status WHERE project_id = {project_id:UInt32})"

# Literal SQL with two fragments substituted ({pending}, {group}); every value is bound.
GROUPS_SQL = """
SELECT reason, event, uniqExact(uuid) AS n,
    min(quarantined_at) AS first_seen, max(quarantined_at) AS last_seen
FROM quarantined_events
WHERE project_id = {project_id:UInt32} AND {pending}
GROUP BY reason, event
ORDER BY n DESC, reason, event
LIMIT 200
""".replace("{pending}", _PENDING)

EXAMPLES_SQL = """
SELECT reason, event, toString(uuid) AS uuid, distinct_id, details, payload, quarantined_at
FROM quarantined_events
WHERE project_id = {project_id:UInt32} AND {pending}
ORDER BY quarantined_at DESC, uuid
LIMIT 3 BY reason, event
""".replace("{pending}", _PENDING)

COUNT_SQL = """
SELECT uniqExact(uuid) FROM quarantined_events
WHERE project_id = {project_id:UInt32} AND {pending}
""".replace("{pending}", _PENDING)

_GROUP = """project_id = {project_id:UInt32} AND reason = {reason:String} AND event = {event:String}
    AND quarantined_at <= {until:DateTime64(3, 'UTC')}"""

GROUP_COUNT_SQL = (
    "SELECT uniqExact(uuid) FROM quarantined_events WHERE {group} AND {pending}".replace("{group}", _GROUP)
).replace("{pending}", _PENDING)

BATCH_SQL = (
    """
SELECT toString(uuid) AS uuid, payload FROM quarantined_events
WHERE {group} AND {pending}
ORDER BY timestamp, uuid
LIMIT 1 BY uuid
LIMIT {limit:UInt32}
""".replace("{group}", _GROUP)
).replace("{pending}", _PENDING)


@dataclass
class Group:
    reason: str
    event: str
    count: int
    first_seen: dt.datetime
    last_seen: dt.datetime
    examples: list[dict]


def pending_count(project) -> int:
    return int(ch.query(COUNT_SQL, {"project_id": project.pk}).scalar() or 0)


def groups(project) -> list[Group]:
    """The pending groups, largest first, each with up to EXAMPLES newest examples."""
    params = {"project_id": project.pk}
    found = {
        (r["reason"], r["event"]): Group(r["reason"], r["event"], r["n"], r["first_seen"], r["last_seen"], [])
        for r in ch.query(GROUPS_SQL, params).dicts()
    }
    if found:
        for row in ch.query(EXAMPLES_SQL, params).dicts():
            group = found.get((row["reason"], row["event"]))
            if group is not None:
                group.examples.append(row)
    return list(found.values())


def _params(project_id: int, reason: str, event: str, until: dt.datetime) -> dict:
    return {"project_id": project_id, "reason": reason, "event": event, "until": until}


def group_pending(project_id: int, reason: str, event: str, until: dt.datetime) -> int:
    return int(ch.query(GROUP_COUNT_SQL, _params(project_id, reason, event, until)).scalar() or 0)


def next_batch(
    project_id: int, reason: str, event: str, until: dt.datetime, limit: int = BATCH
) -> list[dict]:
    return ch.query(BATCH_SQL, {**_params(project_id, reason, event, until), "limit": limit}).dicts()


def mark(project_id: int, uuids: list[str], status: str, action_id: int) -> None:
    """Record the final state of these quarantined events (after their batch was stored)."""
    now = dt.datetime.now(dt.UTC)
    ch.insert(
        "quarantine_status",
        {
            "project_id": [project_id] * len(uuids),
            "uuid": uuids,
            "status": [status] * len(uuids),
            "action_id": [action_id] * len(uuids),
            "version": [time.time_ns()] * len(uuids),
            "updated_at": [now] * len(uuids),
        },
    )


def store_released(project_id: int, rows: list[dict]) -> None:
    """Store released events like fresh ones: through the ingestion store (dedup by uuid,
    identity resolution, then events)."""
    from ingestion import store  # noqa: PLC0415
    from ingestion.processing import Job  # noqa: PLC0415 - the store path, only when run

    store(Job(project_id, events=[loads(r["payload"]) for r in rows]))


def run(
    project_id: int,
    kind: str,
    reason: str,
    event: str,
    until: dt.datetime,
    action_id: int,
    progress: Callable[[int], None] = lambda done: None,
    batch: int | None = None,
) -> int:
    """Release (kind "release") or discard the group's pending events quarantined up to
    `until`, batch by batch; returns how many this run handled. Safe to run again."""
    batch = batch or BATCH
    handled = 0
    status = "released" if kind == "release" else "discarded"
    while True:
        rows = next_batch(project_id, reason, event, until, batch)
        if not rows:
            return handled
        if kind == "release":
            store_released(project_id, rows)
        mark(project_id, [r["uuid"] for r in rows], status, action_id)
        handled += len(rows)
        progress(len(rows))
