"""The all-in-one process: web server threads plus Celery worker and beat threads.

chdb lets one process open a data directory, so the embedded mode runs every
part as a thread of one process. Production runs each part as its own process
against a ClickHouse server (docs/deploy.md).

Other apps add long-running threads (the ingest consumer, ...) with
register_service(start, stop).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from django.conf import settings

log = logging.getLogger(__name__)

_services: list[tuple[str, Callable[[], None], Callable[[], None]]] = []


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
