"""The audit log's retention: entries older than AUDIT_RETENTION_DAYS are purged daily."""

from __future__ import annotations

import datetime as dt

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import audit
from .models import AuditEntry


@shared_task(name="governance.purge_audit_log")
def purge_audit_log() -> int:
    """Delete the entries past retention (none when AUDIT_RETENTION_DAYS is 0); the purge
    itself is recorded, with the cutoff and the count. Safe to run twice."""
    days = int(getattr(settings, "AUDIT_RETENTION_DAYS", 365) or 0)
    if days <= 0:
        return 0
    cutoff = timezone.now() - dt.timedelta(days=days)
    deleted = AuditEntry.objects.purge_before(cutoff)
    if deleted:
        audit.record(None, "audit.purge", after={"before": cutoff.isoformat(), "deleted": deleted})
    return deleted
