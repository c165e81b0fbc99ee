"""Production durability: a Redis Stream between capture and ClickHouse.

With REDIS_URL set, a capture request appends its processed job to the stream
(XADD sextant:ingest MAXLEN ~ 10M * data <json>) and answers once Redis has it.
The consumer (`manage.py ingest_consumer`, or a thread of `manage.py serve` when
ClickHouse is embedded) reads with a consumer group, stores the jobs with
writer.write_jobs and XACKs only after ClickHouse confirmed. Entries of a
consumer that died between the insert and the XACK stay pending and are
reclaimed (XAUTOCLAIM) by the next consumer; uuid dedup makes the redelivery
harmless. While ClickHouse is unreachable the consumer backs off and the events
wait in the stream.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Callable

from django.conf import settings

from analytics_app import clickhouse as ch

from .processing import Job
from .writer import write_jobs

log = logging.getLogger(__name__)

DEFAULT_STREAM = "sextant:ingest"
GROUP = "sextant-ingest"
MAXLEN = 10_000_000

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


def append(job: Job, stream: str | None = None) -> str:
    """Make the job durable in Redis; returns the entry id."""
    return client().xadd(stream or stream_name(), {"data": job.to_json()}, maxlen=MAXLEN, approximate=True)


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
        claim_idle_ms: int = 60_000,
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
        self.write = write
        self.before_write = before_write
        self.after_write = after_write
        self.max_backoff = max_backoff
        self.stop_event = threading.Event()
        self.redis = client()
        self.stored = 0

    def ensure_group(self) -> None:
        import redis  # noqa: PLC0415

        try:
            self.redis.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    def _handle(self, entries) -> int:
        """Store and acknowledge entries [(id, fields)]. Retries ClickHouse outages."""
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
        attempt = 0
        while jobs:
            try:
                if self.before_write:
                    self.before_write(jobs)
                self.write(jobs)
                break
            except (ch.Unavailable, ch.EngineLocked, ch.QueryTimeout) as exc:
                attempt += 1
                delay = min(self.max_backoff, 0.5 * 2**attempt)
                log.warning(
                    "ClickHouse unavailable (%s); retrying %d stream entries in %.1fs", exc, len(jobs), delay
                )
                if self.stop_event.wait(delay):
                    return 0  # left pending: the next consumer reclaims them
        if self.after_write:
            self.after_write(jobs)
        if ids:
            self.redis.xack(self.stream, self.group, *ids)
        self.stored += len(ids)
        return len(ids)

    def reclaim(self, min_idle_ms: int | None = None) -> int:
        """Take over and store entries pending for longer than min_idle_ms (a dead consumer's)."""
        done = 0
        # our own pending entries first (a restart under the same name)
        while not self.stop_event.is_set():
            response = self.redis.xreadgroup(self.group, self.name, {self.stream: "0"}, count=self.count)
            own = response[0][1] if response else []
            if not own:
                break
            done += self._handle(own)
        start = "0-0"
        idle = self.claim_idle_ms if min_idle_ms is None else min_idle_ms
        while True:
            result = self.redis.xautoclaim(
                self.stream, self.group, self.name, min_idle_time=idle, start_id=start, count=self.count
            )
            start, claimed = result[0], result[1]
            done += self._handle(claimed)
            if start in (b"0-0", "0-0") or self.stop_event.is_set():
                break
        return done

    def run_once(self, block_ms: int | None = None) -> int:
        block = self.block_ms if block_ms is None else block_ms
        response = self.redis.xreadgroup(
            self.group, self.name, {self.stream: ">"}, count=self.count, block=block or None
        )
        if not response:
            return 0
        return self._handle(response[0][1])

    def run(self) -> None:
        """Loop until stop() (graceful: the current batch is finished first)."""
        self.ensure_group()
        self.reclaim()
        while not self.stop_event.is_set():
            try:
                self.run_once()
            except Crash:
                raise
            except Exception:  # noqa: BLE001 - keep consuming; log and back off
                log.exception("ingest consumer iteration failed")
                self.stop_event.wait(1.0)

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


class ConsumerThread:
    """The consumer as a thread of the all-in-one process (chdb + REDIS_URL)."""

    def __init__(self):
        self.consumer: Consumer | None = None
        self.thread: threading.Thread | None = None

    def start(self) -> None:
        self.consumer = Consumer()
        self.thread = threading.Thread(target=self.consumer.run, name="ingest-consumer", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.consumer is not None:
            self.consumer.stop()
        if self.thread is not None:
            self.thread.join(timeout=30)
