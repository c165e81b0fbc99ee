"""Deleting one person's data from a project (a GDPR / CCPA erasure request), and event retention.

`find_persons` turns what the admin typed (a distinct_id, an e-mail, a person id) into a
`Target`: every person id and distinct_id that belongs to the person, closed over merges
(an anonymous person merged into the identified one, its distinct_ids, ...). `erase` runs
the steps below in order, each idempotent, so a failed run can be run again:

1. session_paths and path_node_keys: the rows of the sessions and months the person's
   events touch are rebuilt from the other events there;
2. events (by distinct_id or by the person id they carry);
3. recordings and their summaries (replay.deletion);
4. persons, person_distinct_ids, cohort_people;
5. quarantined events (ingestion_warnings) of the person, and the events the tracking
   plan holds (quarantined_events, quarantine_status);
6. static cohort lists naming the person (Django), the insight-result cache of the
   project, the ingestion writer's in-memory person cache.

event_uuids and session_replay_chunk_uuids are kept: random ids with nothing left to
link them to anyone, and they make an SDK's retry of a deleted event or recording chunk
a duplicate instead of bringing it back. docs/deletion.md has the table of what goes.
"""

from __future__ import annotations

import datetime as dt
import importlib
import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from django.apps import apps
from django.conf import settings

from analytics_app import clickhouse as ch
from dashboards.cache import forget_project
from ingestion.writer import forget_persons, persons_born_for
from replay.deletion import delete_person_recordings

from . import queries as q
from .masking import MASK_CHAR
from .models import DeletionRequest

Kind = DeletionRequest.Kind
BATCH = 5000  # ids per bound array


@dataclass(frozen=True)
class Target:
    """The person(s) a request names, closed over merges."""

    kind: str
    person_ids: tuple[uuid.UUID, ...] = ()
    distinct_ids: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()
    counts: dict = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.person_ids or self.distinct_ids)


def masked_identifier(kind: str, value: str) -> str:
    """What the request record and the audit log show of the identifier: enough to tell two
    requests apart, not enough to read it back ("a•••@e•••", "us•••", "1f3a9c2e…")."""
    value = value.strip()
    if kind == Kind.EMAIL and "@" in value:
        local, _, domain = value.partition("@")
        return f"{local[:1]}{MASK_CHAR * 3}@{domain[:1]}{MASK_CHAR * 3}"
    if kind == Kind.PERSON:
        return value[:8] + "…"
    return value[:2] + MASK_CHAR * 3


_DELETE_FROM = re.compile(r"^(\s*DELETE FROM )(\w+)")


def on_cluster(sql: str, cluster: str) -> str:
    """One of governance.queries' DELETEs as it runs on `cluster`: against the local tables of
    every shard (a lightweight DELETE cannot go through a Distributed table)."""
    if not cluster:
        return sql
    return _DELETE_FROM.sub(lambda m: f"{m.group(1)}{m.group(2)}_local ON CLUSTER `{cluster}`", sql, count=1)


def _delete(sql: str, params: dict) -> None:
    ch.command(on_cluster(sql, getattr(settings, "CLICKHOUSE_CLUSTER", "")), params)


def _params(project_id: int, **values) -> dict:
    return {"project_id": project_id, **values}


def _close_over_merges(project_id: int, person_ids: set[uuid.UUID], dids: set[str]):
    for _ in range(5):  # a chain of merges; five rounds covers any real one
        before = (len(person_ids), len(dids))
        if person_ids:
            rows = ch.query(q.DISTINCT_IDS_OF_PERSONS_SQL, _params(project_id, person_ids=sorted(person_ids)))
            dids |= {r[0] for r in rows.rows}
        if dids:
            rows = ch.query(q.PERSONS_OF_DISTINCT_IDS_SQL, _params(project_id, dids=sorted(dids)))
            person_ids |= {r[0] for r in rows.rows}
        if (len(person_ids), len(dids)) == before:
            break
    if dids:  # the persons merged away in the batch that created them (no mapping row)
        born = [uuid.UUID(p) for p in persons_born_for(project_id, sorted(dids))]
        rows = ch.query(q.EXISTING_PERSONS_SQL, _params(project_id, person_ids=born))
        person_ids |= {r[0] for r in rows.rows}
    return person_ids, dids


def find_persons(project, kind: str, value: str) -> Target:
    """The person(s) `value` names in the project, with what a deletion would remove; an
    empty Target when nothing matches."""
    value = value.strip()
    pid = project.id
    person_ids: set[uuid.UUID] = set()
    dids: set[str] = set()
    if kind == Kind.DISTINCT_ID:
        found = ch.query(q.PERSON_OF_DISTINCT_ID_SQL, _params(pid, distinct_id=value)).scalar()
        if found is not None:
            person_ids.add(found)
            dids.add(value)
        elif ch.query(q.COUNT_EVENTS_SQL, _params(pid, dids=[value], person_ids=[])).scalar():
            dids.add(value)  # events without a mapping row (written by another tool)
    elif kind == Kind.EMAIL:
        rows = ch.query(q.PERSONS_OF_EMAIL_SQL, _params(pid, email=value.lower()))
        person_ids |= {r[0] for r in rows.rows}
    elif kind == Kind.PERSON:
        try:
            person = uuid.UUID(value)
        except ValueError:
            return Target(kind)
        if ch.query(q.PERSON_EXISTS_SQL, _params(pid, person_id=person)).scalar():
            person_ids.add(person)
    if not person_ids and not dids:
        return Target(kind)
    person_ids, dids = _close_over_merges(pid, person_ids, dids)
    emails = _emails(pid, person_ids) | ({value.lower()} if kind == Kind.EMAIL else set())
    target = Target(kind, tuple(sorted(person_ids, key=str)), tuple(sorted(dids)), tuple(sorted(emails)))
    return replace(target, counts=measure(project, target))


def _emails(project_id: int, person_ids: set[uuid.UUID]) -> set[str]:
    if not person_ids:
        return set()
    rows = ch.query(q.EMAILS_OF_PERSONS_SQL, _params(project_id, person_ids=sorted(person_ids)))
    return {r[0] for r in rows.rows}


def target_for(project, kind: str, person_ids, identifier: str = "") -> Target:
    """The Target of a stored request: its person ids closed over merges again, plus what only
    the identifier itself gives (a distinct_id with no person, the e-mail in static cohorts).
    The identifier is passed to the task, never stored; without it the person ids suffice."""
    persons = {uuid.UUID(str(p)) for p in person_ids}
    dids: set[str] = set()
    identifier = identifier.strip()
    if identifier and kind == Kind.DISTINCT_ID:
        dids.add(identifier)
    persons, dids = _close_over_merges(project.id, persons, dids)
    emails = _emails(project.id, persons) | (
        {identifier.lower()} if identifier and kind == Kind.EMAIL else set()
    )
    return Target(kind, tuple(sorted(persons, key=str)), tuple(sorted(dids)), tuple(sorted(emails)))


def measure(project, target: Target) -> dict:
    params = _params(project.id, dids=list(target.distinct_ids), person_ids=list(target.person_ids))
    return {
        "persons": len(target.person_ids),
        "distinct_ids": len(target.distinct_ids),
        "events": ch.query(q.COUNT_EVENTS_SQL, params).scalar() or 0,
        "recordings": ch.query(q.COUNT_RECORDINGS_SQL, params).scalar() or 0,
    }


# ---- The steps ----


def _derived_scope(project, target: Target) -> dict:
    params = _params(project.id, dids=list(target.distinct_ids), person_ids=list(target.person_ids))
    sessions = [r[0] for r in ch.query(q.SESSIONS_OF_EVENTS_SQL, params).rows]
    months = [r[0] for r in ch.query(q.MONTHS_OF_EVENTS_SQL, params).rows]
    return {"sessions": sessions, "months": months}


def _paths_module():
    return importlib.import_module("analytics_app.clickhouse.migrations.0005_session_paths")


def _rollup_module():
    return importlib.import_module("analytics_app.clickhouse.migrations.0012_squashable_person_tables")


def _delete_events(project, target: Target, scope: dict) -> None:
    params = _params(project.id, dids=list(target.distinct_ids), person_ids=list(target.person_ids))
    _delete(q.DELETE_EVENTS_SQL, params)
    _delete(q.DELETE_ROLLUP_SQL, params)
    for sql in q.DELETE_EVENT_COPIES_SQL:
        _delete(sql, params)


def _rebuild_paths(project, target: Target, scope: dict) -> None:
    paths = _paths_module()
    sessions, months = scope["sessions"], scope["months"]
    person = {"dids": list(target.distinct_ids), "person_ids": list(target.person_ids)}
    for start in range(0, len(sessions), BATCH):
        batch = _params(project.id, sessions=sessions[start : start + BATCH], **person)
        _delete(q.DELETE_SESSION_PATHS_SQL, batch)
        ch.command(f"INSERT INTO session_paths {paths.select_sql(q.EVENTS_OF_SESSIONS_SOURCE)}", batch)
    if months:
        params = _params(project.id, months=months, **person)
        _delete(q.DELETE_PATH_KEYS_SQL, params)
        ch.command(f"INSERT INTO path_node_keys {paths.keys_select_sql(q.EVENTS_OF_MONTHS_SOURCE)}", params)


def _delete_recordings(project, target: Target, scope: dict) -> None:
    if target.distinct_ids:
        delete_person_recordings(project, list(target.distinct_ids))


def _delete_persons(project, target: Target, scope: dict) -> None:
    params = _params(project.id, dids=list(target.distinct_ids), person_ids=list(target.person_ids))
    _delete(q.DELETE_PERSONS_SQL, params)
    _delete(q.DELETE_DISTINCT_IDS_SQL, params)
    _delete(q.DELETE_COHORT_PEOPLE_SQL, params)


def _delete_warnings(project, target: Target, scope: dict) -> None:
    values = list(target.distinct_ids) + list(target.emails)
    for start in range(0, len(values), 100):  # multiSearchAny takes at most 255 needles
        batch = values[start : start + 100]
        in_json = sorted({json.dumps(v) for v in batch} | {json.dumps(v, ensure_ascii=False) for v in batch})
        in_repr = [repr(v) for v in batch]
        _delete(q.DELETE_WARNINGS_SQL, _params(project.id, dids=batch, in_json=in_json, in_repr=in_repr))


def _delete_quarantined(project, target: Target, scope: dict) -> None:
    values = list(target.distinct_ids) + list(target.emails)
    for start in range(0, len(values), 50):  # multiSearchAny takes at most 255 needles
        batch = values[start : start + 50]
        as_json = {json.dumps(v) for v in batch} | {json.dumps(v, ensure_ascii=False) for v in batch}
        in_json = sorted(as_json | {json.dumps(j)[1:-1] for j in as_json})  # also inside the properties text
        params = _params(project.id, dids=batch, in_json=in_json)
        _delete(q.DELETE_QUARANTINE_STATUS_SQL, params)
        _delete(q.DELETE_QUARANTINED_SQL, params)


def _forget_elsewhere(project, target: Target, scope: dict) -> None:
    dids, emails = set(target.distinct_ids), set(target.emails)
    Cohort = apps.get_model("cohorts", "Cohort")  # the model only, not the cohorts app's code  # noqa: N806
    for cohort in Cohort.objects.filter(project=project, kind=Cohort.Kind.STATIC):
        definition = dict(cohort.definition or {})
        kept_ids = [d for d in definition.get("distinct_ids", []) if d not in dids]
        kept_emails = [e for e in definition.get("emails", []) if str(e).strip().lower() not in emails]
        if kept_ids != definition.get("distinct_ids", []) or kept_emails != definition.get("emails", []):
            definition.update({"distinct_ids": kept_ids, "emails": kept_emails})
            Cohort.objects.filter(pk=cohort.pk).update(definition=definition)
    forget_persons(project.id, list(dids), [str(p) for p in target.person_ids])
    forget_project(project.id)


# The mapping goes last among ClickHouse's tables: a run that failed before it can be run
# again and still finds every distinct_id from the person ids.
STEPS: list[tuple[str, Callable]] = [
    ("paths", _rebuild_paths),
    ("events", _delete_events),
    ("recordings", _delete_recordings),
    ("warnings", _delete_warnings),
    ("quarantine", _delete_quarantined),
    ("persons", _delete_persons),
    ("caches", _forget_elsewhere),
]


def erase(project, target: Target, progress: Callable[[int, int], None] = lambda done, total: None) -> None:
    """Delete everything of `target` in the project; `progress(done, total)` after each step."""
    if not target:
        progress(len(STEPS), len(STEPS))
        return
    scope = _derived_scope(project, target)
    for done, (_name, step) in enumerate(STEPS, start=1):
        step(project, target, scope)
        progress(done, len(STEPS))


# ---- Event retention ----


def purge_expired_events(project, now: dt.datetime | None = None) -> int:
    """Delete the project's events older than its event_retention_days (none when unset), with
    their session_paths, sessionless_paths, funnel_events and path_node_keys rows. Returns
    how many events went."""
    days = project.event_retention_days
    if not days:
        return 0
    cutoff = (now or dt.datetime.now(dt.UTC)) - dt.timedelta(days=days)
    params = _params(project.id, cutoff=cutoff)
    expired = ch.query(q.EXPIRED_EVENTS_SQL, params).scalar() or 0
    if expired:
        _delete(q.DELETE_EXPIRED_EVENTS_SQL, params)
        _delete(q.DELETE_EXPIRED_ROLLUP_SQL, params)
        refill = _rollup_module().select_sql(f"({q.ROLLUP_REFILL_SOURCE})")
        ch.command(f"INSERT INTO trends_rollup {refill}", params)
        _delete(q.DELETE_EXPIRED_SESSION_PATHS_SQL, params)
        for sql in q.DELETE_EXPIRED_EVENT_COPIES_SQL:
            _delete(sql, params)
        _delete(q.DELETE_EXPIRED_PATH_KEYS_SQL, params)
    return expired
