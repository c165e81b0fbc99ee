"""Storing processed jobs, and the embedded group-commit writer.

`write_jobs(jobs)` is the one store path, used by the group-commit writer
(embedded mode) and by the Redis Stream consumer (production):

1. drop events whose uuid is already in this batch or in event_uuids;
2. resolve persons for the new events (persons.py), in order;
3. insert ingestion_warnings, person_distinct_ids, persons, then events, then
   replay snapshots, then the events the tracking plan holds (`Job.quarantined` ->
   quarantined_events, one per uuid: none already held or already stored as an event). Persons go first: a crash before the events insert makes
   the delivery repeat, and person updates are idempotent; a crash after it
   leaves the events deduplicated on the retry.

Two kinds of insert failure are told apart (analytics_app.clickhouse.errors):

- a server-side fault (`ch.Transient`: too many parts, no disk space, memory,
  timeouts, network; and a locked embedded store) is raised unchanged: the caller
  retries the whole batch later. Nothing is quarantined for it.
- anything else means ClickHouse refuses the data: the batch is split in halves
  until the event it cannot take is found; that event is quarantined as
  `insert_rejected` with the engine's reason, so one bad event never blocks the
  others.

GroupCommitWriter: request threads submit their job and one writer thread inserts
batches of them (collected for up to ~40 ms or ~10k rows).

- With the embedded store (chdb) the job is first appended to the spool
  (ingestion/spool.py), a log on local disk next to the chdb directory, and the
  request may answer 200 as soon as that record is on disk: the spool is to the
  embedded mode what the Redis Stream is to production. When the writer is idle
  (nothing queued ahead and no batch being written), the request also waits for its
  batch to reach ClickHouse (up to `store_wait`), so a lone request is visible to
  queries the moment it is answered; under load the answer does not wait for the
  insert, and the writer's batches grow (fewer, larger inserts). After a crash the
  writer stores what the spool holds after its checkpoint before anything new.
  A failed batch is retried with backoff, never given up: a batch that keeps failing
  for a reason other than a server fault is split into its jobs, and a job that
  still fails is kept whole in the spool's dead-letter folder with an
  `internal_error` ingestion warning, so the rest goes on. Requests answer 503 with
  Retry-After (StoreBusy) only when the spool cannot write (a full disk) or the
  jobs not yet stored hold `max_buffer_rows` rows.
- Without a spool (a ClickHouse server but no Redis), the request blocks until its
  batch is inserted. While ClickHouse refuses inserts for a server-side reason, the
  writer retries the batch with backoff and the requests keep waiting; a request
  answers 503 with Retry-After once it has waited `busy_wait` seconds during such a
  fault, or at once when the jobs waiting already hold `max_buffer_rows` rows.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import itertools
import logging
import math
import os
import queue
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout

from analytics_app import clickhouse as ch

from . import inserts, persons, queries
from .processing import Job, truncated_payload
from .spool import Spool, SpoolFull

log = logging.getLogger(__name__)

LOOKUP_CHUNK = 5_000  # uuids per dedup query (Array(UUID) parameter: 5k ~43 ms, 10k ~160 ms on 5M rows)
RECENT_UUIDS = 200_000
EVENT_COLUMNS = (
    "uuid",
    "event",
    "distinct_id",
    "person_id",
    "timestamp",
    "properties",
    "session_id",
    "window_id",
)
SNAPSHOT_COLUMNS = (
    "session_id", "window_id", "distinct_id", "timestamp", "event_type", "data", "uuid", "chunk_index", "size",
    "active", "click", "keypress", "mouse", "reaction", "console_level", "x", "y", "node_id", "url",
    "browser", "os", "device_type", "expires_at",
)  # fmt: skip
# Fact columns a job queued before they existed (Redis stream across an upgrade) lacks.
SNAPSHOT_DEFAULTS = {
    "chunk_index": 0, "active": 0, "click": 0, "keypress": 0, "mouse": 0, "reaction": 0, "console_level": "",
    "x": 0, "y": 0, "node_id": 0, "url": "", "browser": "", "os": "", "device_type": "",
}  # fmt: skip
LEGACY_RETENTION = dt.timedelta(days=400)

# Called after every stored batch with {project_id: {session_id, ...}}: every session
# the batch carried snapshot rows for, including redelivered (deduplicated) ones, so
# a retry after a failure here still refreshes what the first attempt stored.
# replay/register.py adds the per-session summary refresh.
after_snapshots: list[Callable[[dict[int, set[str]]], None]] = []
WARNING_COLUMNS = ("type", "event", "distinct_id", "details", "payload", "timestamp")
QUARANTINE_COLUMNS = (
    "uuid", "reason", "details", "event", "distinct_id", "payload", "timestamp", "quarantined_at",
)  # fmt: skip


def _ts(value) -> dt.datetime:
    return value if isinstance(value, dt.datetime) else dt.datetime.fromisoformat(value)


def _columns(
    rows: list[dict], names: tuple[str, ...], project_ids: list[int], convert: dict | None = None
) -> dict[str, list]:
    convert = convert or {}
    cols = {"project_id": project_ids}
    for name in names:
        fn = convert.get(name)
        cols[name] = [fn(r[name]) for r in rows] if fn else [r[name] for r in rows]
    return cols


class _Rows:
    def __init__(self):
        self.events: list[tuple[int, dict]] = []
        self.snapshots: list[tuple[int, dict]] = []
        self.warnings: list[tuple[int, dict]] = []
        self.quarantined: list[tuple[int, dict]] = []
        self.person_ids: dict[str, list] = {
            "project_id": [],
            "distinct_id": [],
            "person_id": [],
            "version": [],
        }
        self.persons: dict[str, list] = {
            k: []
            for k in (
                "project_id",
                "id",
                "created_at",
                "properties",
                "is_identified",
                "is_deleted",
                "version",
            )
        }


class Stats:
    """Where the store path spends its time (seconds per phase, counts): bench/bench_ingestion.py prints it."""

    def __init__(self):
        self.reset()

    def reset(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls = 0
        self.events = 0
        self.recent_hits = 0

    def add(self, phase: str, started: float) -> float:
        now = time.perf_counter()
        self.seconds[phase] = self.seconds.get(phase, 0.0) + now - started
        return now

    def as_dict(self) -> dict:
        return {
            "write_calls": self.calls,
            "events": self.events,
            "events_per_call": round(self.events / self.calls, 1) if self.calls else 0,
            "recent_uuid_hits": self.recent_hits,
            "ms_per_call": {
                k: round(v * 1000 / max(1, self.calls), 2) for k, v in sorted(self.seconds.items())
            },
        }


stats = Stats()


class RecentUuids:
    """A bounded set of (project_id, uuid) this process stored, newest last.

    Only a shortcut for hits (a redelivery of what this process just stored is
    dropped without asking ClickHouse); a uuid not found here is still looked up
    in event_uuids, so exactly-once holds across restarts and processes. Entries
    are added only after the INSERT returned, and the set is cleared when a write
    fails (what was not confirmed must not be trusted).
    """

    def __init__(self, maxlen: int = RECENT_UUIDS):
        self.maxlen = maxlen
        self._items: dict[tuple[int, str], None] = {}

    def __contains__(self, key) -> bool:
        return key in self._items

    def add_all(self, project_id: int, uuids) -> None:
        items = self._items
        for value in uuids:
            items[(project_id, value)] = None
        overflow = len(items) - self.maxlen
        if overflow > 0:  # dicts keep insertion order: drop the oldest
            for key in list(itertools.islice(items, overflow)):
                del items[key]

    def clear(self) -> None:
        self._items.clear()


recent = RecentUuids()


def _fresh_events(project_id: int, events: list[dict]) -> list[dict]:
    seen: set[str] = set()
    unique = []
    for event in events:
        value = event["uuid"]
        if value not in seen:
            seen.add(value)
            if (project_id, value) in recent:
                stats.recent_hits += 1
                continue
            unique.append(event)
    ids = [e["uuid"] for e in unique]
    stored: set[str] = set()
    for start in range(0, len(ids), LOOKUP_CHUNK):
        stored |= queries.existing_event_uuids(project_id, ids[start : start + LOOKUP_CHUNK])
    if not stored:
        return unique
    return [e for e in unique if e["uuid"] not in stored]


def _fresh_quarantined(project_id: int, rows: list[dict], stored_now: set[str]) -> list[dict]:
    """The quarantine rows not yet held: one per uuid, none already in quarantined_events
    (a retried request), none already stored as an event (here or in this batch)."""
    owner: dict[str, dict] = {}
    for row in rows:
        if row["uuid"] not in stored_now:
            owner.setdefault(row["uuid"], row)
    ids = list(owner)
    held: set[str] = set()
    for start in range(0, len(ids), LOOKUP_CHUNK):
        chunk = ids[start : start + LOOKUP_CHUNK]
        held |= queries.existing_quarantined_uuids(project_id, chunk)
        held |= queries.existing_event_uuids(project_id, chunk)
    return [row for value, row in owner.items() if value not in held]


def _snapshot_row(row: dict) -> dict:
    if "expires_at" in row:
        return row
    full = {**SNAPSHOT_DEFAULTS, **row}
    full.setdefault("size", len(row["data"].encode()))
    full["expires_at"] = _ts(row["timestamp"]) + LEGACY_RETENTION
    return full


def _fresh_snapshots(project_id: int, jobs: list[Job]) -> list[dict]:
    owner: dict[str, int] = {}
    rows = []
    for index, job in enumerate(jobs):
        for row in job.snapshots:
            if owner.setdefault(row["uuid"], index) == index:
                rows.append(_snapshot_row(row))
    ids = list(owner)
    stored: set[str] = set()
    for start in range(0, len(ids), LOOKUP_CHUNK):
        stored |= queries.existing_chunk_uuids(project_id, ids[start : start + LOOKUP_CHUNK])
    return [r for r in rows if r["uuid"] not in stored]


def _insert_split(
    table: str, rows: list[tuple[int, dict]], names, convert, rejected: list, insert_id: str | None = None
) -> None:
    """Insert; when ClickHouse refuses the data, bisect to the rows it cannot take.

    A table with views below it (ch.REPEATABLE_TABLES) is written by tracked inserts
    (ingestion/inserts.py): `insert_id` was logged as begun by the caller; each half of
    a bisection is a new insert, logged here.
    """
    if not rows:
        return
    try:
        columns = _columns([r for _, r in rows], names, [p for p, _ in rows], convert)
        if table in ch.REPEATABLE_TABLES:
            if insert_id is None:
                (planned, _), *more = inserts.plan(table, rows, _ts)  # one month: a half of one
                assert not more, "a bisected insert spans one month"
                inserts.tracker.begin([planned])
                insert_id = planned.insert_id
            columns["insert_id"] = [insert_id] * len(rows)
        ch.insert(table, columns, insert_id=insert_id)
    except RETRYABLE:
        raise  # the server's fault, not the rows': the whole batch is retried later
    except ch.ClickHouseError as exc:
        if len(rows) == 1:
            rejected.append((rows[0], exc))
            return
        middle = len(rows) // 2
        _insert_split(table, rows[:middle], names, convert, rejected)
        _insert_split(table, rows[middle:], names, convert, rejected)


# Failures that say nothing about the rows: retry the batch later, never quarantine.
RETRYABLE = (ch.Transient, ch.EngineLocked)

_write_lock = threading.Lock()


def write_jobs(jobs: list[Job]) -> None:
    """Store a batch of jobs durably (see the module docstring). Raises on failure.

    Serialised per process: the dedup lookup and the insert must not interleave
    with another writer's (one writer thread, or one consumer, per deployment).
    """
    with _write_lock:
        inserts.tracker.settle()  # complete any insert a crash or a failed write cut off, first
        try:
            _write_jobs(jobs)
        except BaseException:
            inserts.tracker.failed()
            raise
        inserts.tracker.finished()


# The tables written by tracked inserts: their columns and conversions.
TRACKED = {
    "events": (EVENT_COLUMNS, {"timestamp": _ts}),
    "session_replay_snapshots": (SNAPSHOT_COLUMNS, {"timestamp": _ts, "expires_at": _ts}),
}


def _insert_tracked(batch: dict[str, list[tuple[int, dict]]], rejected: list) -> None:
    """One insert per table and month partition, all logged as begun (one log insert) before any runs."""
    planned = [(table, *p) for table, rows in batch.items() for p in inserts.plan(table, rows, _ts)]
    inserts.tracker.begin([insert for _, insert, _ in planned])
    for table, insert, group in planned:
        names, convert = TRACKED[table]
        _insert_split(table, group, names, convert, rejected, insert.insert_id)


def _write_jobs(jobs: list[Job]) -> None:
    now = dt.datetime.now(dt.UTC)
    clock = time.perf_counter()
    _forget_if_persons_were_deleted()
    by_project: dict[int, list[Job]] = {}
    for job in jobs:
        by_project.setdefault(job.project_id, []).append(job)
    rows = _Rows()
    try:
        for project_id, group in by_project.items():
            warnings = [w for job in group for w in job.warnings]
            events = _fresh_events(project_id, [e for job in group for e in job.events])
            clock = stats.add("dedup", clock)
            if events:
                writes = persons.store.apply(project_id, events, warnings, now)
                clock = stats.add("persons", clock)
                for name, values in writes.distinct_ids.items():
                    rows.person_ids[name].extend(values)
                rows.person_ids["project_id"].extend([project_id] * len(writes.distinct_ids["distinct_id"]))
                for name, values in writes.persons.items():
                    rows.persons[name].extend(values)
                rows.persons["project_id"].extend([project_id] * len(writes.persons["id"]))
            rows.events.extend((project_id, e) for e in events)
            rows.warnings.extend((project_id, w) for w in warnings)
            held = [q for job in group for q in job.quarantined]
            if held:
                in_batch = {e["uuid"] for job in group for e in job.events}
                rows.quarantined.extend(
                    (project_id, q) for q in _fresh_quarantined(project_id, held, in_batch)
                )
            if any(job.snapshots for job in group):
                rows.snapshots.extend((project_id, s) for s in _fresh_snapshots(project_id, group))

        clock = stats.add("prepare", clock)
        rejected: list = []
        ch.insert("person_distinct_ids", rows.person_ids)
        ch.insert("persons", rows.persons)
        clock = stats.add("insert_persons", clock)
        _insert_tracked({"events": rows.events, "session_replay_snapshots": rows.snapshots}, rejected)
        clock = stats.add("insert_events", clock)
        _insert_split(
            "quarantined_events",
            rows.quarantined,
            QUARANTINE_COLUMNS,
            {"timestamp": _ts, "quarantined_at": _ts},
            rejected,
        )
        for (project_id, row), exc in rejected:
            rows.warnings.append(
                (
                    project_id,
                    {
                        "type": "insert_rejected",
                        "event": row.get("event", "$snapshot"),
                        "distinct_id": row.get("distinct_id", ""),
                        "details": f"ClickHouse refused the row: {str(exc)[:500]}",
                        "payload": truncated_payload(row),
                        "timestamp": now.isoformat(),
                    },
                )
            )
        if rows.warnings:
            ch.insert(
                "ingestion_warnings",
                _columns(
                    [w for _, w in rows.warnings],
                    WARNING_COLUMNS,
                    [p for p, _ in rows.warnings],
                    {"timestamp": _ts},
                ),
            )
        clock = stats.add("insert_other", clock)
        sessions = {
            p: {s["session_id"] for job in group for s in job.snapshots} for p, group in by_project.items()
        }
        sessions = {p: ids for p, ids in sessions.items() if ids}
        if sessions:
            for hook in after_snapshots:
                hook(sessions)
            stats.add("after_snapshots", clock)
    except BaseException:
        persons.store.clear()  # the cache may hold state ClickHouse never got
        recent.clear()
        raise
    rejected_ids = {(p, row["uuid"]) for (p, row), _ in rejected}
    for project_id, group in by_project.items():
        recent.add_all(
            project_id,
            (e["uuid"] for job in group for e in job.events if (project_id, e["uuid"]) not in rejected_ids),
        )
    stats.calls += 1
    stats.events += len(rows.events)


class WriteFailed(Exception):
    """The batch holding this request's events could not be stored."""


class StoreBusy(WriteFailed):
    """The store cannot take these events now (ClickHouse refusing inserts, Redis away):
    answer 503 with Retry-After; the client retries with the same uuids."""

    def __init__(self, message: str, retry_after: int = 5):
        super().__init__(message)
        self.retry_after = retry_after


def backoff(attempt: int, base: float, cap: float) -> float:
    """Exponential backoff: base * 2**attempt, at most cap seconds."""
    return min(cap, base * 2 ** min(attempt, 30))


class GroupCommitWriter:
    def __init__(
        self,
        write: Callable[[list[Job]], None] = write_jobs,
        max_wait: float = 0.04,
        max_rows: int = 10_000,
        *,
        busy_wait: float = 10.0,
        max_buffer_rows: int = 200_000,
        max_backoff: float = 10.0,
        spool: Callable[[], Spool | None] | None = None,
        store_wait: float | None = None,
    ):
        self.write = write
        self.max_wait = max_wait
        self.max_rows = max_rows
        self.busy_wait = busy_wait  # a request waits this long during a server fault, then 503
        self.max_buffer_rows = max_buffer_rows  # rows queued during a fault before new requests get 503
        self.max_backoff = max_backoff
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._arriving = 0  # requests being decoded/processed that will submit a job soon
        self._arriving_lock = threading.Lock()
        self._local = threading.local()
        self._queued_rows = 0
        self._stopping = threading.Event()
        self.batches = 0
        self.retries = 0
        self.failing_since: float | None = None  # monotonic time the current server fault began
        self.retry_after = 1
        self._last_jobs = 0  # jobs in the previous batch: >1 means requests are concurrent
        self._spool_factory = spool  # opened (and recovered) on first use
        self._spool: Spool | None = None
        self._spool_checked = False
        self.store_wait = busy_wait if store_wait is None else store_wait
        self._writing = False
        self.recovered = 0  # spool records stored again after a restart
        self.dead_letters = 0

    @contextlib.contextmanager
    def arriving(self):
        """Wrap a request's decode+process+submit: while any request is inside, the writer
        may wait (up to max_wait) for its job to join the batch; when none is, it never waits."""
        with self._arriving_lock:
            self._arriving += 1
        self._local.arriving = True
        try:
            yield
        finally:
            self._leave()

    def _leave(self) -> None:
        if getattr(self._local, "arriving", False):
            self._local.arriving = False
            with self._arriving_lock:
                self._arriving -= 1

    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._stopping.clear()
                    self._thread = threading.Thread(target=self._run, name="ingest-writer", daemon=True)
                    self._thread.start()

    def open_spool(self) -> Spool | None:
        """Open the spool once and queue what it holds after its checkpoint (a crash's
        leftovers) ahead of anything new; then start the writer thread."""
        if not self._spool_checked:
            with self._lock:
                if not self._spool_checked:
                    spool = self._spool_factory() if self._spool_factory else None
                    if spool is not None:
                        for seq, payload in spool.pending():
                            job = Job.from_json(payload)
                            with self._arriving_lock:
                                self._queued_rows += job.size()
                            self._queue.put((job, None, seq))
                            self.recovered += 1
                        if self.recovered:
                            log.warning(
                                "ingestion spool: storing %d request(s) left from before a restart",
                                self.recovered,
                            )
                    self._spool = spool
                    self._spool_checked = True
        if self._spool is not None:
            self._ensure_thread()
        return self._spool

    def _busy(self, why: str) -> StoreBusy:
        return StoreBusy(f"ClickHouse is refusing inserts for now ({why}); retry later.", self.retry_after)

    def submit(self, job: Job, timeout: float = 60.0) -> None:
        """Block until the job is stored; raise WriteFailed otherwise (StoreBusy: retry later).

        During a server fault the job stays queued after a StoreBusy and is still
        stored when ClickHouse recovers; the client's retry is then deduplicated.
        """
        if self.open_spool() is not None:
            return self._submit_spooled(job)
        size = job.size()
        if self.failing_since is not None and self._queued_rows + size > self.max_buffer_rows:
            self._leave()
            raise self._busy("the buffer is full")
        future: Future = Future()
        with self._arriving_lock:
            self._queued_rows += size
        self._queue.put((job, future, None))
        self._leave()  # this request is no longer "about to submit"
        self._ensure_thread()
        started = time.monotonic()
        deadline = started + timeout
        busy_since = None
        while True:  # bounded by `timeout`
            now = time.monotonic()
            try:
                future.result(timeout=max(0.0, min(0.25, deadline - now)))
                return
            except FutureTimeout as exc:
                if future.done():  # the write itself failed with a TimeoutError
                    raise WriteFailed(str(exc)) from exc
                now = time.monotonic()
                if self.failing_since is not None:
                    busy_since = busy_since or max(started, self.failing_since)
                    if now - busy_since >= self.busy_wait:
                        raise self._busy("waited too long") from None
                if now >= deadline:  # overloaded, not broken: the job stays queued, the client retries
                    raise StoreBusy(
                        f"not stored within {timeout:.0f}s; retry later.", self.retry_after
                    ) from None
            except Exception as exc:
                raise WriteFailed(str(exc)) from exc

    def _submit_spooled(self, job: Job) -> None:
        """Durable once the spool has the record; waits for the insert too when idle."""
        size = job.size()
        if self._queued_rows + size > self.max_buffer_rows:
            self._leave()
            raise self._busy("the buffer is full")
        future: Future = Future()
        idle = [False]

        def queue_it(seq: int) -> None:  # under the spool's append lock: queue order = spool order
            with self._arriving_lock:
                idle[0] = self._queued_rows == 0 and not self._writing
                self._queued_rows += size
            self._queue.put((job, future, seq))

        try:
            self._spool.append(job.to_json().encode(), queue_it)
        except SpoolFull as exc:
            raise StoreBusy(str(exc), 5) from exc
        finally:
            self._leave()
        if not idle[0]:
            return  # on disk; the writer is busy with earlier jobs, this one follows them
        started = time.monotonic()
        while time.monotonic() - started < self.store_wait:  # bounded by store_wait
            try:
                future.result(timeout=0.25)
                return
            except FutureTimeout:
                if self.failing_since is not None and time.monotonic() - started >= min(
                    self.busy_wait, self.store_wait
                ):
                    return  # a server fault: the spool keeps it until ClickHouse takes it

    def _collect(self, first) -> list:
        """The first job plus everything already queued, plus the jobs of requests being processed now.

        Jobs that queued up while the previous batch was written are taken at once.
        When the queue is empty the writer waits (at most max_wait) for more jobs only
        under concurrency: some request is between arrival and submit (`arriving()`),
        or the previous batch held more than one request. A lone request on an idle
        server is written at once. An insert costs ~35 ms whatever its size, so
        fewer, larger inserts are the main lever.
        """
        batch = [first]
        size = first[0].size()
        deadline = None
        while size < self.max_rows:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                if self.max_wait <= 0 or (self._arriving <= 0 and self._last_jobs <= 1):
                    break  # idle (nothing on its way, the last batch was one request): write now
                if deadline is None:
                    deadline = time.monotonic() + self.max_wait
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    item = self._queue.get(timeout=remaining)
                except queue.Empty:
                    break
            if item is None:
                self._queue.put(None)
                break
            batch.append(item)
            size += item[0].size()
        return batch

    def _run(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch = self._collect(first)
            with self._arriving_lock:
                self._queued_rows -= sum(job.size() for job, _, _ in batch)
                self._writing = True
            self._last_jobs = len(batch)
            try:
                if self._spool is not None:
                    self._write_spooled(batch)
                else:
                    self._write_retrying([job for job, _, _ in batch])
            except BaseException as exc:  # noqa: BLE001 - every waiter must hear about it
                log.exception("ingestion batch of %d request(s) could not be stored", len(batch))
                for _, future, _ in batch:
                    if future is not None:
                        future.set_exception(exc)
            else:
                self.batches += 1
                for _, future, _ in batch:
                    if future is not None:
                        future.set_result(True)
            finally:
                self._writing = False

    def _write_spooled(self, batch: list) -> None:
        """Store spooled jobs; never give up on them (module docstring), then move the checkpoint."""
        jobs = [job for job, _, _ in batch]
        attempt = 0
        while True:
            try:
                self._write_retrying(jobs)
                break
            except BaseException:
                if self._stopping.is_set():
                    raise
                attempt += 1
                log.exception("ingestion batch of %d request(s) failed (attempt %d)", len(jobs), attempt)
                if attempt >= 3:
                    for job, _, seq in batch:
                        self._write_alone(job, seq)
                    break
                self._stopping.wait(backoff(attempt, 0.2, self.max_backoff))
        self._spool.commit(max(seq for _, _, seq in batch))

    def _write_alone(self, job: Job, seq: int) -> None:
        for attempt in range(3):
            try:
                self._write_retrying([job])
                return
            except BaseException:
                if self._stopping.is_set():
                    raise
                log.exception("spooled request %d failed alone (attempt %d)", seq, attempt + 1)
                self._stopping.wait(backoff(attempt, 0.2, self.max_backoff))
        self._dead_letter(job, seq)

    def _dead_letter(self, job: Job, seq: int) -> None:
        """Keep a job that cannot be stored whole on disk, and say so in the ingestion warnings."""
        folder = self._spool.dir / "dead-letter"
        folder.mkdir(exist_ok=True)
        path = folder / f"{seq:020d}.json"
        path.write_text(job.to_json())
        self.dead_letters += 1
        log.error("spooled request %d could not be stored; kept in %s", seq, path)
        with contextlib.suppress(Exception):  # the store may be what fails
            ch.insert(
                "ingestion_warnings",
                {
                    "project_id": [job.project_id],
                    "type": ["internal_error"],
                    "event": [""],
                    "distinct_id": [""],
                    "details": [
                        f"Sextant could not store this request ({job.size()} item(s)); "
                        f"it is kept whole in {path.name} in the spool's dead-letter folder"
                    ],
                    "payload": [job.to_json()[:65536]],
                    "timestamp": [dt.datetime.now(dt.UTC)],
                },
            )

    def _write_retrying(self, jobs: list[Job]) -> None:
        """Write; while ClickHouse refuses for a server-side reason, back off and retry the same batch."""
        attempt = 0
        while True:  # ends on success, on a data error, or on stop()
            try:
                self.write(jobs)
            except RETRYABLE as exc:
                if self.failing_since is None:
                    self.failing_since = time.monotonic()
                delay = backoff(attempt, 0.1, self.max_backoff)
                attempt += 1
                self.retries += 1
                self.retry_after = max(1, math.ceil(delay))
                log.warning("ClickHouse refused the batch (%s); retry %d in %.1fs", exc, attempt, delay)
                if self._stopping.wait(delay):
                    raise
                continue
            except BaseException:
                self.failing_since = None  # not a server fault: the waiters hear about it now
                raise
            self.failing_since = None
            return

    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every job spooled so far is stored (tests, shutdown); True if it is."""
        spool = self._spool
        if spool is None:
            return True
        target = spool.last_seq
        deadline = time.monotonic() + timeout
        while spool.checkpoint < target:  # bounded by the deadline
            if time.monotonic() >= deadline:
                return False
            time.sleep(0.005)
        return True

    def stop(self) -> None:
        self._stopping.set()
        self._queue.put(None)


def _env_seconds(name: str, default_ms: float) -> float:
    try:
        return float(os.environ.get(name, default_ms)) / 1000
    except ValueError:
        return default_ms / 1000


def embedded_spool() -> Spool | None:
    """The spool of the embedded store (a folder inside the chdb directory, so it goes
    with the data it belongs to), or None: a ClickHouse server, or SEXTANT_INGEST_SPOOL=0."""
    if os.environ.get("SEXTANT_INGEST_SPOOL", "1") in ("0", "false", "no"):
        return None
    path = getattr(ch.backend(), "path", None)
    return Spool(os.path.join(path, "sextant-spool")) if path else None


writer = GroupCommitWriter(
    max_wait=_env_seconds("SEXTANT_INGEST_MAX_WAIT_MS", 40),
    busy_wait=_env_seconds("SEXTANT_INGEST_BUSY_WAIT_MS", 10_000),
    spool=embedded_spool,
)


def persons_born_for(project_id: int, distinct_ids: list[str]) -> list[str]:
    """The person id ingestion gives each distinct_id when it first sees it (a deterministic
    id): after a merge in the same batch that person has a persons row (deleted, merged away)
    and no mapping row, so only this finds it."""
    return [persons.personless_id(project_id, d) for d in distinct_ids]


# Bumped in the shared cache (Redis in production) by every person deletion: a writer in
# another process (the stream consumer) sees it before its next batch and drops its cache.
DELETIONS_KEY = "sextant:person-deletions:v1"
_deletions_seen: list = [None]


def _forget_if_persons_were_deleted() -> None:
    from django.core.cache import cache  # noqa: PLC0415 - Django's cache, configured by then

    current = cache.get(DELETIONS_KEY)
    if current != _deletions_seen[0]:
        persons.store.clear()
        _deletions_seen[0] = current


def forget_persons(project_id: int, distinct_ids: list[str], person_ids: list[str]) -> None:
    """After a person deletion: the person cache forgets them, so a later event of the same
    distinct_id starts a new person instead of writing the deleted one back. This process's
    cache at once; a writer in another process before its next batch (DELETIONS_KEY)."""
    from django.core.cache import cache  # noqa: PLC0415

    persons.store.forget(project_id, distinct_ids, person_ids)
    cache.set(DELETIONS_KEY, uuid.uuid4().hex, None)
