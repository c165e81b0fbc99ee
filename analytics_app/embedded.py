"""The all-in-one process: web server threads plus Celery worker and beat threads.

chdb lets one process open a data directory, so the embedded mode runs every
part as a thread of one process. Production runs each part as its own process
against a ClickHouse server (docs/deploy.md).

Other apps add long-running threads (the ingest consumer, ...) with
register_service(start, stop).
"""

from __future__ import annotations

import logging
import resource
import threading
from collections.abc import Callable

from django.conf import settings

log = logging.getLogger(__name__)

_services: list[tuple[str, Callable[[], None], Callable[[], None]]] = []

# What to run instead of a second process on the embedded store (docs/deploy.md).
LAYOUT_ADVICE = (
    "chdb lets one process open its data directory, so with CLICKHOUSE_URL=chdb run the whole of "
    "Sextant as one process: `python manage.py serve` (web, Celery worker and beat, and the ingest "
    "consumer when REDIS_URL is set, all as threads). To run gunicorn (analytics_app.wsgi), "
    "`manage.py ingest_consumer` or a Celery worker as separate processes, point CLICKHOUSE_URL at "
    "a ClickHouse server (clickhouse://...)."
)


def raise_open_file_limit() -> tuple[int, int]:
    """Raise this process's soft RLIMIT_NOFILE to the hard limit; returns (before, after).

    chdb opens every file of every part it merges (thousands for wide parts with many
    JSON paths) in this process, next to the web server's sockets.
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1_048_576)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft, soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    except (ValueError, OSError):
        log.warning("could not raise the open-file limit from %s to %s", soft, target)
        return soft, soft
    return soft, target


def uses_embedded_store() -> bool:
    return settings.CLICKHOUSE_URL.startswith("chdb:") or "://" not in settings.CLICKHOUSE_URL


def refuse_shared_store(role: str, *, claim: bool = True) -> None:
    """Startup check for a process that is not `manage.py serve` on the embedded store.

    With chdb, exit at once with what to run instead when another process holds the
    store (instead of backing off forever). With `claim`, open the store now, so a
    process started later is the one refused. A ClickHouse server: nothing to check.
    """
    if not uses_embedded_store():
        return
    from analytics_app import clickhouse as ch  # noqa: PLC0415

    try:
        if claim:
            ch.query("SELECT 1", global_=True)
        else:
            ch.backend().check_lock()
    except ch.EngineLocked as exc:
        raise SystemExit(f"Sextant: refusing to start {role}. {exc.message}\n{LAYOUT_ADVICE}") from None


def register_service(name: str, start: Callable[[], None], stop: Callable[[], None]) -> None:
    _services.append((name, start, stop))


class EmbeddedCelery:
    """A Celery worker (thread pool) and beat, as daemon threads of this process."""

    def __init__(self, concurrency: int = 2):
        self.concurrency = concurrency
        self.worker = None
        self.beat = None

    def start(self) -> None:
        from celery.beat import EmbeddedService  # noqa: PLC0415
        from celery.worker import WorkController  # noqa: PLC0415

        from analytics_app.celery import app  # noqa: PLC0415

        self.worker = WorkController(
            app=app,
            hostname="embedded@sextant",
            pool_cls="threads",
            concurrency=self.concurrency,
            queues=[settings.CELERY_TASK_DEFAULT_QUEUE],
            without_heartbeat=True,
            without_mingle=True,
            without_gossip=True,
        )
        threading.Thread(target=self.worker.start, name="celery-worker", daemon=True).start()
        self.beat = EmbeddedService(
            app, thread=True, schedule_filename=str(settings.VAR_DIR / "celerybeat-schedule")
        )
        self.beat.start()
        log.info("Embedded Celery worker (%s threads) and beat started", self.concurrency)

    def stop(self) -> None:
        if self.beat is not None:
            self.beat.stop()
        if self.worker is not None:
            self.worker.stop(in_sighandler=False)


def start_all(with_celery: bool = True) -> list[Callable[[], None]]:
    """Start the embedded services; returns their stop functions (reverse order)."""
    stops = []
    if with_celery and settings.SEXTANT_EMBEDDED_WORKER:
        celery = EmbeddedCelery()
        celery.start()
        stops.append(celery.stop)
    for name, start, stop in _services:
        log.info("Starting embedded service %s", name)
        start()
        stops.append(stop)
    return list(reversed(stops))
