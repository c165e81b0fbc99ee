"""Celery entry points for cohorts. Tasks take ids and are idempotent."""

from __future__ import annotations

import logging

from celery import shared_task

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest

log = logging.getLogger(__name__)

# The task names are the ones from before cohorts left the retention app: queued
# messages and the beat schedule (analytics_app/settings.py) name them.


@shared_task(name="retention.refresh_cohort")
def refresh_cohort(cohort_id: int) -> int | None:
    """Recompute a cohort's membership as a new version and commit it. Running it
    twice computes twice (each run commits a complete version); a deleted cohort is a no-op."""
    from .models import Cohort  # noqa: PLC0415
    from .queries import compute_cohort  # noqa: PLC0415

    cohort = Cohort.objects.select_related("project").filter(pk=cohort_id).first()
    if cohort is None:
        return None
    try:
        return compute_cohort(cohort)
    except (BadRequest, ch.ClickHouseError) as exc:
        message = getattr(exc, "message", str(exc))
        log.warning("Cohort %s failed to refresh: %s", cohort_id, message)
        Cohort.objects.filter(pk=cohort_id).update(status=Cohort.Status.ERROR, error=str(message)[:2000])
        return None


@shared_task(name="retention.refresh_stale_cohorts")
def refresh_stale_cohorts(max_age_hours: int = 24) -> list[int]:
    """Queue a refresh of every behavioral cohort calculated more than max_age_hours
    ago (relative time frames such as "the last 30 days" move every day). For the
    beat schedule; idempotent."""
    import datetime as dt  # noqa: PLC0415

    from django.db.models import Q  # noqa: PLC0415
    from django.utils import timezone  # noqa: PLC0415

    from .models import Cohort  # noqa: PLC0415

    cutoff = timezone.now() - dt.timedelta(hours=max_age_hours)
    ids = list(
        Cohort.objects.filter(kind=Cohort.Kind.BEHAVIORAL)
        .filter(Q(last_calculated_at__lt=cutoff) | Q(last_calculated_at__isnull=True))
        .values_list("pk", flat=True)
    )
    for cohort_id in ids:
        refresh_cohort.delay(cohort_id)
    return ids
