"""Ingestion's Celery task: the hourly squash of person overrides (ingestion/squash.py)."""

from __future__ import annotations

from celery import shared_task


@shared_task(name="ingestion.squash_person_overrides")
def squash_person_overrides() -> int:
    """Squash every project's person overrides older than SQUASH_MIN_AGE; returns how many
    distinct_ids were squashed. Safe to run twice or concurrently with ingestion."""
    from analytics_app.models import Project  # noqa: PLC0415 - the apps, only when run

    from .squash import squash_project  # noqa: PLC0415 - ClickHouse, only when run

    return sum(squash_project(pid).distinct_ids for pid in Project.objects.values_list("id", flat=True))
