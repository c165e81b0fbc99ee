"""Sextant: the Django project package and the shared core (ClickHouse layer,
access gate, output presenter, query API)."""

from .celery import app as celery_app

__all__ = ["celery_app"]
