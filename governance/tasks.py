"""Governance's Celery tasks: the audit log's retention (entries older than
AUDIT_RETENTION_DAYS are purged daily), person deletion requests, event retention, quarantine
releases and discards (and sending again those a dead worker left)."""

from __future__ import annotations

import datetime as dt
import logging

from celery import shared_task
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from . import audit
from .models import AuditEntry

log = logging.getLogger(__name__)


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


@shared_task(name="governance.erase_person")
def erase_person(request_id: int, identifier: str = "") -> str:
    """Run a DeletionRequest: delete the person's data (governance.deletion.erase), keeping the
    request's progress and status current, and record the outcome. Safe to run again after a
    failure (every step deletes what is still there); a request already done is left alone.
    `identifier` is what the admin typed (used only if it matches the request's hash)."""
    from .deletion import erase, measure, target_for  # noqa: PLC0415 - ClickHouse and the apps, only when run
    from .models import DeletionRequest, hash_identifier  # noqa: PLC0415

    req = DeletionRequest.objects.select_related("project", "requested_by").get(pk=request_id)
    if req.status == DeletionRequest.Status.DONE:
        return req.status
    DeletionRequest.objects.filter(pk=req.pk).update(status=DeletionRequest.Status.RUNNING, error="")
    project = req.project
    if identifier and hash_identifier(req.identifier_kind, identifier) != req.identifier_hash:
        identifier = ""
    target = target_for(project, req.identifier_kind, req.person_ids, identifier)

    def progress(done: int, total: int) -> None:
        DeletionRequest.objects.filter(pk=req.pk).update(steps_done=done, steps_total=total)

    try:
        erase(project, target, progress)
        left = measure(project, target)
    except Exception as exc:
        log.exception("deletion request %s failed", req.pk)
        DeletionRequest.objects.filter(pk=req.pk).update(
            status=DeletionRequest.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        audit.record(
            None,
            "data.delete_person",
            project=project,
            target=req.identifier_masked,
            actor=req.requested_by,
            after={"request": req.pk, "status": "failed"},
        )
        raise
    DeletionRequest.objects.filter(pk=req.pk).update(
        status=DeletionRequest.Status.DONE, finished_at=timezone.now()
    )
    audit.record(
        None,
        "data.delete_person",
        project=project,
        target=req.identifier_masked,
        actor=req.requested_by,
        after={"request": req.pk, "status": "done", "deleted": req.counts, "left": left},
    )
    return DeletionRequest.Status.DONE


@shared_task(name="governance.purge_expired_events")
def purge_expired_events() -> int:
    """Delete events past each project's event_retention_days. Safe to run twice."""
    from analytics_app.models import Project  # noqa: PLC0415 - the core's model, only when run

    from . import deletion  # noqa: PLC0415

    total = 0
    for project in Project.objects.filter(event_retention_days__isnull=False):
        try:
            total += deletion.purge_expired_events(project)
        except Exception:  # one project's failure must not keep the others' data past retention
            log.exception("event retention purge failed for project %s", project.pk)
    return total


# A quarantine run that has shown no sign of life for this long is presumed dead (a killed
# worker, a lost message): `resume_stalled_actions` sends it again and the next delivery takes
# it over. A batch (1,000 events) takes seconds, so this is far from a slow run.
STALLED = dt.timedelta(minutes=10)


@shared_task(name="governance.resume_stalled_actions")
def resume_stalled_actions() -> int:
    """Send again the quarantine releases and discards nobody is running: requested more than
    STALLED ago and still waiting (the message was lost, or no worker took it), or running with
    no progress for STALLED. Runs every few minutes (beat); a duplicate delivery is harmless (the
    claim in `quarantine_action`). Returns how many were sent."""
    from .models import QuarantineAction  # noqa: PLC0415

    status = QuarantineAction.Status
    stale = timezone.now() - STALLED
    pks = list(
        QuarantineAction.objects.filter(
            Q(status=status.PENDING, requested_at__lt=stale)
            | Q(status=status.RUNNING, heartbeat__lt=stale)
            | Q(status=status.RUNNING, heartbeat__isnull=True)
        ).values_list("pk", flat=True)
    )
    for pk in pks:
        log.warning("quarantine action %s stalled: sending it again", pk)
        quarantine_action.delay(pk)
    return len(pks)


@shared_task(name="governance.quarantine_action")
def quarantine_action(action_id: int) -> str:
    """Run a QuarantineAction (release or discard one quarantine group, governance/quarantine.py),
    keeping its progress current, and record the outcome. Safe to run again after a failure
    or a crash: what was already handled is not pending any more, and a released event
    stored before the crash is dropped by the store's uuid check."""
    from . import quarantine  # noqa: PLC0415 - ClickHouse and ingestion, only when run
    from .models import QuarantineAction  # noqa: PLC0415

    status = QuarantineAction.Status
    now = timezone.now()
    # Claim the run: waiting, failed before, or running but silent past STALLED (its worker was
    # killed). A live run elsewhere keeps it: this delivery leaves without touching anything.
    claimed = (
        QuarantineAction.objects.filter(pk=action_id)
        .exclude(status=status.DONE)
        .filter(
            Q(status__in=(status.PENDING, status.FAILED))
            | Q(heartbeat__isnull=True)
            | Q(heartbeat__lt=now - STALLED)
        )
        .update(status=status.RUNNING, error="", heartbeat=now)
    )
    action = QuarantineAction.objects.select_related("project", "requested_by").get(pk=action_id)
    if not claimed:
        return action.status
    project = action.project
    label = f"quarantine.{action.kind}"
    remaining = quarantine.group_pending(project.pk, action.reason, action.event, action.requested_at)
    done = action.done
    QuarantineAction.objects.filter(pk=action.pk).update(total=done + remaining)

    def progress(count: int) -> None:
        nonlocal done
        done += count
        QuarantineAction.objects.filter(pk=action.pk).update(done=done, heartbeat=timezone.now())

    target = f"{action.event} ({action.reason})"
    try:
        quarantine.run(
            project.pk, action.kind, action.reason, action.event, action.requested_at, action.pk, progress
        )
    except Exception as exc:
        log.exception("quarantine action %s failed", action.pk)
        QuarantineAction.objects.filter(pk=action.pk).update(
            status=QuarantineAction.Status.FAILED,
            error=f"{type(exc).__name__}: {exc}"[:2000],
            finished_at=timezone.now(),
        )
        audit.record(
            None,
            label,
            project=project,
            target=target,
            actor=action.requested_by,
            after={"action": action.pk, "status": "failed", "done": done},
        )
        raise
    QuarantineAction.objects.filter(pk=action.pk).update(
        status=QuarantineAction.Status.DONE, finished_at=timezone.now(), total=done
    )
    audit.record(
        None,
        label,
        project=project,
        target=target,
        actor=action.requested_by,
        after={"action": action.pk, "status": "done", "events": done},
    )
    return QuarantineAction.Status.DONE
