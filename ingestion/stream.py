"""Production durability: a Redis Stream between capture and ClickHouse.

With REDIS_URL set, a capture request appends its processed job to the stream
(XADD sextant:ingest MAXLEN ~ 10M * data <json>) and answers once Redis has it;
when Redis cannot take it the answer is 503 with Retry-After (StoreBusy).
The consumer (`manage.py ingest_consumer`, or a thread of `manage.py serve` when
ClickHouse is embedded) reads with a consumer group, stores the jobs with
writer.write_jobs and XACKs only after ClickHouse confirmed.

- A server-side ClickHouse fault (ch.Transient: too many parts, no space,
  unreachable, ...) is retried with backoff; the entries stay pending meanwhile.
- Every `reclaim_every` seconds the consumer re-reads its own pending entries
  and takes over (XAUTOCLAIM) entries pending longer than `claim_idle_ms` (a dead
  consumer's, e.g. one killed mid-batch). So with a live consumer and a
  ClickHouse that accepts inserts, every acknowledged event is stored within
  claim_idle_ms + reclaim_every + one batch (docs/ingestion.md states the bound).
  uuid dedup makes a redelivery harmless.
- Entries every consumer has acknowledged are trimmed on the same timer
  (XTRIM MINID), so the stream holds only what is not stored yet.
- A lost group (Redis restarted without its append-only file, the key deleted,
  XGROUP DESTROY) answers NOGROUP: the consumer recreates the group from the
  start of what the stream holds and goes on. At start it warns when Redis has
  `appendonly no` (acknowledged events would not survive a Redis restart).
- Run one consumer per stream: the dedup lookup and the insert are serialised
  inside one process only (docs/ingestion.md, "Running the consumer").
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable

from django.conf import settings

from analytics_app import clickhouse as ch

from .processing import Job
from .writer import RETRYABLE, StoreBusy, backoff, write_jobs

log = logging.getLogger(__name__)

DEFAULT_STREAM = "sextant:ingest"
GROUP = "sextant-ingest"
MAXLEN = 10_000_000
CLAIM_IDLE_MS = 30_000  # an entry pending this long belongs to a dead consumer
RECLAIM_EVERY = 5.0  # seconds between reclaim + trim rounds
STALE_CONSUMER_MS = 3_600_000  # consumers idle this long with nothing pending are removed from the group

_clients: dict[str, object] = {}
_clients_lock = threading.Lock()


def enabled() -> bool:
    return bool(getattr(settings, "REDIS_URL", ""))


def stream_name() -> str:
    return (
        getattr(settings, "SEXTANT_INGEST_STREAM", None)
        or os.environ.get("SEXTANT_INGEST_STREAM")
        or DEFAULT_STREAM
    )


def client():
    import redis  # noqa: PLC0415

    url = settings.REDIS_URL
    if url not in _clients:
        with _clients_lock:
            if url not in _clients:
                _clients[url] = redis.Redis.from_url(
                    url, socket_timeout=10, socket_connect_timeout=5, health_check_interval=30
                )
    return _clients[url]


def _env_ms(name: str, default: int) -> int:
    value = getattr(settings, name, None) or os.environ.get(name)
    try:
        return int(value) if value not in (None, "") else default
    except ValueError:
        return default


def append(job: Job, stream: str | None = None) -> str:
    """Make the job durable in Redis; returns the entry id. StoreBusy when Redis cannot take it."""
    import redis  # noqa: PLC0415

    try:
        return client().xadd(
            stream or stream_name(), {"data": job.to_json()}, maxlen=MAXLEN, approximate=True
        )
    except redis.RedisError as exc:  # down, loading, read-only replica, out of memory
        raise StoreBusy(f"the ingestion stream is unavailable ({exc})", retry_after=2) from exc


def persistence_warning(redis_client) -> str | None:
    """A warning when Redis would lose the stream on restart (no append-only file), else None."""
    import redis  # noqa: PLC0415

    try:
        config = redis_client.config_get("appendonly")
    except redis.ResponseError:  # CONFIG disabled (managed Redis): cannot tell
        return None
    value = config.get("appendonly", config.get(b"appendonly"))
    if value in ("yes", b"yes"):
        return None
    return (
        "Redis runs with appendonly=no: events acknowledged to SDKs but not yet stored are lost "
        "if Redis restarts. Turn the append-only file on (redis-server --appendonly yes; docs/deploy.md)."
    )


def _is_nogroup(exc: Exception) -> bool:
    """The group (or the whole stream) is gone: NOGROUP, a blocked read UNBLOCKED by its deletion,
    or XINFO on a deleted key."""
    text = str(exc)
    return "NOGROUP" in text or "no longer exists" in text or text.startswith("no such key")


class Crash(Exception):
    """Raised by test hooks to simulate a consumer dying at a given point."""


class Consumer:
    def __init__(
        self,
        *,
        stream: str | None = None,
        group: str = GROUP,
        name: str | None = None,
        count: int = 500,
        block_ms: int = 1000,
        claim_idle_ms: int = CLAIM_IDLE_MS,
        reclaim_every: float = RECLAIM_EVERY,
        write: Callable[[list[Job]], None] = write_jobs,
        before_write: Callable[[list[Job]], None] | None = None,
        after_write: Callable[[list[Job]], None] | None = None,
        max_backoff: float = 30.0,
    ):
        self.stream = stream or stream_name()
        self.group = group
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{threading.get_ident()}"
        self.count = count
        self.block_ms = block_ms
        self.claim_idle_ms = claim_idle_ms
        self.reclaim_every = reclaim_every
        self.write = write
        self.before_write = before_write
        self.after_write = after_write
        self.max_backoff = max_backoff
        self.stop_event = threading.Event()
        self.redis = client()
        self.stored = 0
        self.groups_recreated = 0

    def ensure_group(self) -> None:
        """Create the group (and the stream) if missing; reading starts at the stream's first entry."""
        import redis  # noqa: PLC0415

        try:
            self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def recreate_group(self) -> None:
        """NOGROUP: Redis lost the group (restart without AOF, key deleted). Every entry the
        stream still holds is unacknowledged or already stored (acknowledged ones are
        trimmed), so re-reading from the start loses nothing; dedup drops repeats."""
        log.warning(
            "ingest consumer group %s on %s is gone (Redis restarted without persistence, or the "
            "stream was deleted); recreating it from the start of the stream",
            self.group,
            self.stream,
        )
        self.ensure_group()
        self.groups_recreated += 1

    def _handle(self, entries) -> int:
        """Store and acknowledge entries [(id, fields)]. Retries server-side ClickHouse faults."""
        trimmed = [i for i, f in entries if f is None]  # deleted by MAXLEN before anyone read them
        if trimmed:
            log.error("ingest stream entries %s were trimmed before they were stored", trimmed)
            self.redis.xack(self.stream, self.group, *trimmed)
        entries = [(i, f) for i, f in entries if f is not None]
        if not entries:
            return 0
        jobs, ids, bad = [], [], []
        for entry_id, fields in entries:
            try:
                jobs.append(Job.from_json(fields[b"data"]))
                ids.append(entry_id)
            except (KeyError, ValueError, TypeError):
                log.error(
                    "ingest stream entry %s is unreadable; acknowledged and skipped: %r", entry_id, fields
                )
                bad.append(entry_id)
        if bad:
            self.redis.xack(self.stream, self.group, *bad)
        if jobs and not self._store(jobs):
            return 0  # stopped: left pending, reclaimed by the next round or the next consumer
        if self.after_write:
            self.after_write(jobs)
        if ids:
            self.redis.xack(self.stream, self.group, *ids)
        self.stored += len(ids)
        return len(ids)

    def _store(self, jobs: list[Job]) -> bool:
        """Write, retrying server-side faults with backoff; False if stopped meanwhile.

        A memory limit that persists (three attempts) on several jobs is met by
        writing the two halves separately: a smaller insert needs less memory.
        """
        attempt = 0
        while True:  # ends on success, on a non-server error (raised), or on stop()
            try:
                if self.before_write:
                    self.before_write(jobs)
                self.write(jobs)
                return True
            except RETRYABLE as exc:
                if isinstance(exc, ch.MemoryLimit) and attempt >= 2 and len(jobs) > 1:
                    half = len(jobs) // 2
                    log.warning("ClickHouse memory limit on %d jobs; writing them in halves", len(jobs))
                    return self._store(jobs[:half]) and self._store(jobs[half:])
                delay = backoff(attempt, 0.5, self.max_backoff)
                attempt += 1
                log.warning(
                    "ClickHouse cannot take inserts now (%s); %d stream entries stay pending, retry in %.1fs",
                    exc,
                    len(jobs),
                    delay,
                )
                if self.stop_event.wait(delay):
                    return False

    def reclaim(self, min_idle_ms: int | None = None) -> int:
        """Store our own pending entries, then take over and store entries pending longer
        than min_idle_ms (a dead consumer's). Bounded by what is pending when it starts."""
        done = 0
        # our own pending entries first (a restart under the same name, or a batch left by stop/error)
        last = "0"
        while not self.stop_event.is_set():
            response = self.redis.xreadgroup(self.group, self.name, {self.stream: last}, count=self.count)
            own = response[0][1] if response else []
            if not own:
                break
            done += self._handle(own)
            last = own[-1][0]  # entries that failed again stay pending: move past them
        start = "0-0"
        idle = self.claim_idle_ms if min_idle_ms is None else min_idle_ms
        while not self.stop_event.is_set():  # the cursor walks the pending list once
            result = self.redis.xautoclaim(
                self.stream, self.group, self.name, min_idle_time=idle, start_id=start, count=self.count
            )
            start, claimed = result[0], result[1]
            if claimed:
                log.info("ingest consumer %s took over %d pending stream entries", self.name, len(claimed))
            done += self._handle(claimed)
            if start in (b"0-0", "0-0"):
                break
        return done

    def trim(self) -> int:
        """Delete entries the group has acknowledged: those below both the group's
        last-delivered id and its oldest pending entry. Returns how many went."""
        pipe = self.redis.pipeline(transaction=True)  # both reads from one moment
        pipe.xinfo_groups(self.stream)
        pipe.xpending(self.stream, self.group)
        groups, pending = pipe.execute()
        delivered = next(
            (g["last-delivered-id"] for g in groups if g["name"] in (self.group, self.group.encode())), None
        )
        if delivered in (None, b"0-0", "0-0"):
            return 0
        ms, seq = _parse_id(delivered)
        floor = (ms, seq + 1)  # everything up to and including the last delivered entry...
        if pending["pending"]:  # ...unless some of it is still pending
            floor = min(floor, _parse_id(pending["min"]))
        return self.redis.xtrim(self.stream, minid=f"{floor[0]}-{floor[1]}", approximate=False)

    def forget_stale_consumers(self) -> None:
        """Remove consumers (names of dead processes) that hold nothing and were idle an hour."""
        for info in self.redis.xinfo_consumers(self.stream, self.group):
            name = info["name"].decode() if isinstance(info["name"], bytes) else info["name"]
            if name != self.name and not info["pending"] and info["idle"] > STALE_CONSUMER_MS:
                self.redis.xgroup_delconsumer(self.stream, self.group, name)

    def maintain(self) -> int:
        """One timer round: reclaim, trim, tidy. NOGROUP recreates the group."""
        import redis  # noqa: PLC0415

        try:
            done = self.reclaim()
            self.trim()
            self.forget_stale_consumers()
            return done
        except redis.ResponseError as exc:
            if not _is_nogroup(exc):
                raise
            self.recreate_group()
            return 0

    def run_once(self, block_ms: int | None = None) -> int:
        import redis  # noqa: PLC0415

        block = self.block_ms if block_ms is None else block_ms
        try:
            response = self.redis.xreadgroup(
                self.group, self.name, {self.stream: ">"}, count=self.count, block=block or None
            )
            if not response:
                return 0
            return self._handle(response[0][1])
        except redis.ResponseError as exc:
            if not _is_nogroup(exc):
                raise
            self.recreate_group()
            return 0

    def run(self) -> None:
        """Loop until stop() (graceful: the current batch is finished first)."""
        import redis  # noqa: PLC0415

        warning = None
        attempt = 0
        while not self.stop_event.is_set():  # Redis may be down when we start
            try:
                warning = persistence_warning(self.redis)
                self.ensure_group()
                break
            except redis.ConnectionError as exc:
                log.warning("ingest consumer cannot reach Redis (%s); retrying", exc)
                self.stop_event.wait(backoff(attempt, 0.5, 10.0))
                attempt += 1
        if warning:
            log.warning(warning)
        next_round = 0.0  # reclaim at once on start
        failures = 0
        while not self.stop_event.is_set():
            try:
                if time.monotonic() >= next_round:
                    self.maintain()
                    next_round = time.monotonic() + self.reclaim_every
                self.run_once()
                failures = 0
            except Crash:
                raise
            except redis.ConnectionError as exc:
                log.warning("ingest consumer lost Redis (%s); retrying", exc)
                self.stop_event.wait(backoff(failures, 0.5, 10.0))
                failures += 1
            except Exception:  # noqa: BLE001 - keep consuming; log and back off
                log.exception("ingest consumer iteration failed")
                self.stop_event.wait(backoff(failures, 1.0, 10.0))
                failures += 1

    def drain(self, min_idle_ms: int = 0) -> int:
        """Store everything in the stream now (tests, one-shot runs)."""
        self.ensure_group()
        done = self.reclaim(min_idle_ms)
        while True:
            n = self._read_nowait()
            if not n:
                return done
            done += n

    def _read_nowait(self) -> int:
        response = self.redis.xreadgroup(self.group, self.name, {self.stream: ">"}, count=self.count)
        if not response or not response[0][1]:
            return 0
        return self._handle(response[0][1])

    def stop(self) -> None:
        self.stop_event.set()


def _parse_id(value) -> tuple[int, int]:
    text = value.decode() if isinstance(value, bytes) else str(value)
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


class ConsumerThread:
    """The consumer as a thread of the all-in-one process (chdb + REDIS_URL)."""

    def __init__(self):
        self.consumer: Consumer | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.consumer = Consumer(
            claim_idle_ms=_env_ms("SEXTANT_INGEST_CLAIM_IDLE_MS", CLAIM_IDLE_MS),
            reclaim_every=_env_ms("SEXTANT_INGEST_RECLAIM_EVERY_MS", int(RECLAIM_EVERY * 1000)) / 1000,
        )
        self.thread = threading.Thread(target=self.consumer.run, name="ingest-consumer", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.consumer is not None:
            self.consumer.stop()
        if self.thread is not None:
            self.thread.join(timeout=30)
