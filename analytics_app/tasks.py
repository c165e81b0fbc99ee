"""Celery entry points of the core. Tasks take ids, are idempotent and call the
same code as the pages."""

from celery import shared_task


@shared_task(name="analytics_app.ping")
def ping() -> str:
    """Round trip used by the health page and tests to prove the worker runs."""
    return "pong"
