"""Identity: distinct_id -> person, merges ($identify, $create_alias,
$merge_dangerously) and person properties ($set, $set_once, $unset).

ClickHouse is the source of truth (persons, person_distinct_ids, latest version
wins). This store keeps an LRU of what it read or wrote in front of it. All
writes happen in one thread (the group-commit writer, or the one stream
consumer), so read-modify-write is serial; `apply` also holds a lock.

Rules (docs/ingestion.md, "Identity"):
- events are never rewritten: queries resolve person_id through
  person_distinct_ids (argMax(person_id, version) per distinct_id);
- within one batch, every event is stored with its distinct_id's final person
  (after the batch's merges), the person of the mapping row written with it, so a
  stored person is stale only after a later batch re-pointed the id;
- a merge re-points every distinct_id of the merged-away person with a new version;
- a merge is refused (warning cannot_merge_already_identified) when the person
  merged away is identified, except for $merge_dangerously;
- properties of the person merged INTO win; the oldest created_at is kept;
- personless events ($process_person_profile: false) get a deterministic person
  id and a person_distinct_ids row, but no persons row and no property updates.
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import time
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field

from . import queries
from .processing import NAMESPACE, is_illegal_id

_PLAIN = {"process": True}


def _parse_ts(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def personless_id(project_id: int, distinct_id: str) -> str:
    return str(uuid.uuid5(NAMESPACE, f"person:{project_id}:{distinct_id}"))


@dataclass
class PersonState:
    id: str
    created_at: dt.datetime | None = None
    properties: dict = field(default_factory=dict)
    is_identified: bool = False
    exists: bool = False  # a persons row exists or is being written
    deleted: bool = False
    dirty: bool = False


@dataclass
class PersonWrites:
    distinct_ids: dict[str, list] = field(
        default_factory=lambda: {"distinct_id": [], "person_id": [], "version": []}
    )
    persons: dict[str, list] = field(
        default_factory=lambda: {
            "id": [],
            "created_at": [],
            "properties": [],
            "is_identified": [],
            "is_deleted": [],
            "version": [],
        }
    )


class _Batch:
    """The state of one apply() call for one project."""

    def __init__(self, store: PersonStore, project_id: int, now: dt.datetime, warnings: list):
        self.store = store
        self.project_id = project_id
        self.now = now
        self.warnings = warnings
        self.pending_ids: dict[str, str] = {}
        self.touched: set[str] = set()
        self.moved = False  # a distinct_id already mapped was re-pointed (a merge)
        self.born: set[str] = set()  # persons of distinct ids first seen in this batch: nothing in ClickHouse
        # person -> its distinct ids in ClickHouse, fetched for the whole batch (PersonStore.apply)
        self.stored_ids: dict[str, list[str]] = {}

    # ---- lookups (cache first, ClickHouse behind it)
    def mapping(self, distinct_id: str) -> str | None:
        return self.store._ids_get((self.project_id, distinct_id))

    def person(self, person_id: str) -> PersonState:
        key = (self.project_id, person_id)
        state = self.store._persons_get(key)
        if state is None:
            self.store._load_persons(self.project_id, [person_id])
            state = self.store._persons_get(key)
        if state is None:
            state = PersonState(person_id)
            self.store._persons_put(key, state)
        return state

    # ---- writes (applied to the cache now, flushed by the caller)
    def point(self, distinct_id: str, person_id: str) -> None:
        key = (self.project_id, distinct_id)
        if self.store._ids.get(key) not in (None, person_id):
            self.moved = True
        self.store._ids_put(key, person_id)
        self.pending_ids[distinct_id] = person_id

    def touch(self, state: PersonState) -> None:
        state.dirty = True
        self.touched.add(state.id)

    def new_person(self, distinct_id: str) -> PersonState:
        """The person of a distinct id never seen (the batch prefetched every id): new too,
        so ClickHouse holds no row and no other distinct id of it; nothing is read."""
        person_id = personless_id(self.project_id, distinct_id)
        self.point(distinct_id, person_id)
        self.born.add(person_id)
        state = self.store._persons_get((self.project_id, person_id))
        if state is None:
            state = PersonState(person_id)
            self.store._persons_put((self.project_id, person_id), state)
        return state

    def ensure_person(self, distinct_id: str, timestamp: dt.datetime) -> PersonState:
        person_id = self.mapping(distinct_id)
        state = self.new_person(distinct_id) if person_id is None else self.person(person_id)
        if not state.exists or state.deleted:
            state.exists, state.deleted = True, False
            state.created_at = min(filter(None, [state.created_at, timestamp]))
            self.touch(state)
        return state

    def distinct_ids_of(self, person_id: str) -> list[str]:
        if person_id in self.born:
            found = set()
        elif person_id in self.stored_ids:
            found = set(self.stored_ids[person_id])
        else:  # a person the batch's prefetch did not foresee (made the merge target by an earlier merge)
            found = set(queries.distinct_ids_of_person(self.project_id, person_id))
        found.update(d for d, pid in self.pending_ids.items() if pid == person_id)
        return [d for d in found if self.mapping(d) in (None, person_id)]

    def warn(self, kind: str, event: dict, details: str) -> None:
        self.warnings.append(
            {
                "type": kind,
                "event": event["event"],
                "distinct_id": event["distinct_id"],
                "details": details,
                "payload": json.dumps({k: v for k, v in event.items() if k != "properties"}, default=str)[
                    :65536
                ],
                "timestamp": self.now.isoformat(),
            }
        )

    # ---- the rules
    def merge(self, event: dict, other_id: str, dangerous: bool, timestamp: dt.datetime) -> None:
        """Merge the person of `other_id` into the person of the event's distinct_id."""
        into_id = event["distinct_id"]
        if other_id == into_id:
            return
        if is_illegal_id(other_id):
            self.warn(
                "cannot_merge_with_illegal_distinct_id",
                event,
                f"refused to merge {other_id!r}: a placeholder id is never merged",
            )
            return
        into_pid = self.mapping(into_id)
        other_pid = self.mapping(other_id)
        if into_pid is None and other_pid is None:
            state = self.ensure_person(into_id, timestamp)
            self.point(other_id, state.id)
            return
        if into_pid is None:
            self.point(into_id, other_pid)
            self.ensure_person(into_id, timestamp)
            return
        if other_pid is None:
            self.point(other_id, into_pid)
            return
        if other_pid == into_pid:
            return
        other = self.person(other_pid)
        if other.is_identified and not dangerous:
            self.warn(
                "cannot_merge_already_identified",
                event,
                f"refused to merge {other_id!r} into {into_id!r}: the person of {other_id!r} is already identified "
                "(use $merge_dangerously to force it)",
            )
            return
        into = self.ensure_person(into_id, timestamp)
        into.properties = {**other.properties, **into.properties}
        into.created_at = min(filter(None, [into.created_at, other.created_at, timestamp]))
        self.touch(into)
        for distinct_id in self.distinct_ids_of(other_pid):
            self.point(distinct_id, into.id)
        self.point(other_id, into.id)
        if other.exists:
            other.deleted = True
            self.touch(other)

    def handle(self, event: dict, timestamp: dt.datetime) -> str:
        ops = event.get("person") or {}
        distinct_id = event["distinct_id"]
        if not ops.get("process", True):
            person_id = self.mapping(distinct_id)
            return self.new_person(distinct_id).id if person_id is None else person_id
        if ops.get("merge_from"):
            self.merge(event, ops["merge_from"], bool(ops.get("dangerous")), timestamp)
        state = self.ensure_person(distinct_id, timestamp)
        if ops.get("identify") and not state.is_identified:
            state.is_identified = True
            self.touch(state)
        changed = False
        props = state.properties
        for key, value in (ops.get("set") or {}).items():
            if key not in props or props[key] != value:
                props[key] = value
                changed = True
        for key, value in (ops.get("set_once") or {}).items():
            if key not in props:
                props[key] = value
                changed = True
        for key in ops.get("unset") or []:
            if key in props:
                del props[key]
                changed = True
        if changed:
            self.touch(state)
        return state.id

    def writes(self) -> PersonWrites:
        out = PersonWrites()
        for distinct_id, person_id in self.pending_ids.items():
            out.distinct_ids["distinct_id"].append(distinct_id)
            out.distinct_ids["person_id"].append(person_id)
            out.distinct_ids["version"].append(self.store.next_version())
        for person_id in self.touched:
            state = self.store._persons_get((self.project_id, person_id))
            if state is None or not state.dirty:
                continue
            state.dirty = False
            out.persons["id"].append(person_id)
            out.persons["created_at"].append(state.created_at or self.now)
            out.persons["properties"].append(json.dumps(state.properties, ensure_ascii=False, default=str))
            out.persons["is_identified"].append(1 if state.is_identified else 0)
            out.persons["is_deleted"].append(1 if state.deleted else 0)
            out.persons["version"].append(self.store.next_version())
        return out


class PersonStore:
    def __init__(self, max_ids: int = 200_000, max_persons: int = 100_000):
        self.max_ids = max_ids
        self.max_persons = max_persons
        self._ids: OrderedDict[tuple[int, str], str] = OrderedDict()
        self._persons: OrderedDict[tuple[int, str], PersonState] = OrderedDict()
        self._lock = threading.RLock()
        self._last_version = 0

    def clear(self) -> None:
        """Forget everything (after a failed write, so ClickHouse is read again)."""
        with self._lock:
            self._ids.clear()
            self._persons.clear()

    def forget(self, project_id: int, distinct_ids, person_ids) -> None:
        """Drop what the cache holds of these ids (their data was deleted from ClickHouse)."""
        with self._lock:
            for distinct_id in distinct_ids:
                self._ids.pop((project_id, distinct_id), None)
            for person_id in person_ids:
                self._persons.pop((project_id, str(person_id)), None)

    def next_version(self) -> int:
        self._last_version = max(time.time_ns(), self._last_version + 1)
        return self._last_version

    def _ids_get(self, key):
        value = self._ids.get(key)
        if value is not None:
            self._ids.move_to_end(key)
        return value

    def _ids_put(self, key, person_id: str) -> None:
        self._ids[key] = person_id
        self._ids.move_to_end(key)
        while len(self._ids) > self.max_ids:
            self._ids.popitem(last=False)

    def _persons_get(self, key):
        value = self._persons.get(key)
        if value is not None:
            self._persons.move_to_end(key)
        return value

    def _persons_put(self, key, state: PersonState) -> None:
        self._persons[key] = state
        self._persons.move_to_end(key)
        while len(self._persons) > self.max_persons:
            self._persons.popitem(last=False)

    def _load_ids(self, project_id: int, distinct_ids: list[str]) -> None:
        missing = [d for d in set(distinct_ids) if (project_id, d) not in self._ids]
        for start in range(0, len(missing), 5000):
            for distinct_id, person_id in queries.person_ids_for(project_id, missing[start : start + 5000]):
                self._ids_put((project_id, distinct_id), person_id)

    def _load_persons(self, project_id: int, person_ids: list[str]) -> None:
        missing = [p for p in set(person_ids) if (project_id, p) not in self._persons]
        for person_id in missing:  # personless until ClickHouse says otherwise
            self._persons_put((project_id, person_id), PersonState(person_id))
        for start in range(0, len(missing), 5000):
            for row in queries.persons_by_id(project_id, missing[start : start + 5000]):
                person_id, created_at, properties, is_identified, is_deleted = row
                try:
                    props = json.loads(properties) if properties else {}
                except ValueError:
                    props = {}
                self._persons_put(
                    (project_id, person_id),
                    PersonState(
                        person_id,
                        created_at,
                        props if isinstance(props, dict) else {},
                        bool(is_identified),
                        exists=True,
                        deleted=bool(is_deleted),
                    ),
                )

    def _load_merged_away(self, project_id: int, events: list[dict]) -> dict[str, list[str]]:
        """The distinct ids (in ClickHouse) of every person the batch's merges will likely merge
        away, in one query instead of one per merge: ClickHouse does not change during apply()."""
        wanted: set[str] = set()
        for event in events:
            ops = event.get("person") or {}
            other = ops.get("merge_from")
            if not other:
                continue
            other_pid = self._ids.get((project_id, other))
            if other_pid is None or other_pid == self._ids.get((project_id, event["distinct_id"])):
                continue  # attached, or already one person
            state = self._persons.get((project_id, other_pid))
            if state is not None and state.is_identified and not ops.get("dangerous"):
                continue  # refused
            wanted.add(other_pid)
        found: dict[str, list[str]] = {p: [] for p in wanted}
        ordered = sorted(wanted)
        for start in range(0, len(ordered), 5000):
            for person_id, distinct_id in queries.distinct_ids_of_persons(
                project_id, ordered[start : start + 5000]
            ):
                found[person_id].append(distinct_id)
        return found

    def apply(self, project_id: int, events: list[dict], warnings: list, now: dt.datetime) -> PersonWrites:
        """Resolve a person for every event (sets event["person_id"]); return the rows to write."""
        with self._lock:
            wanted = [e["distinct_id"] for e in events]
            wanted += [e["person"]["merge_from"] for e in events if (e.get("person") or {}).get("merge_from")]
            self._load_ids(project_id, wanted)
            mapped = [self._ids[(project_id, d)] for d in set(wanted) if (project_id, d) in self._ids]
            self._load_persons(project_id, mapped)
            batch = _Batch(self, project_id, now, warnings)
            batch.stored_ids = self._load_merged_away(project_id, events)
            ids, persons_ = self._ids, self._persons
            for event in events:
                ops = event.get("person")
                if not ops or ops == _PLAIN:
                    # Fast path: no merge, no property change, a known distinct id whose
                    # person exists: nothing to read or write, only the person id.
                    key = (project_id, event["distinct_id"])
                    person_id = ids.get(key)
                    if person_id is not None:
                        state = persons_.get((project_id, person_id))
                        if state is not None and state.exists and not state.deleted:
                            ids.move_to_end(key)
                            event["person_id"] = person_id
                            continue
                timestamp = _parse_ts(event["timestamp"])
                event["person_id"] = batch.handle(event, timestamp)
            if batch.moved:
                # A merge re-pointed a distinct_id after some of this batch's events took
                # its earlier person: they are stored with the final one, the person the
                # mapping row written with them names (docs/ingestion.md, "Identity").
                final = batch.pending_ids
                for event in events:
                    event["person_id"] = final.get(event["distinct_id"], event["person_id"])
            return batch.writes()


store = PersonStore()
