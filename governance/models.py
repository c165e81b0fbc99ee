"""Governance records: the audit log.

References to the core's models are by name ("analytics_app.Project"), so this module
imports nothing of Sextant's and sits in the policy layer with roles and masking.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone


class AuditEntryQuerySet(models.QuerySet):
    """Refuses bulk changes: entries are deleted only by `purge_before` (the retention
    purge), and updated only to clear `actor` / `project` when the user or project they
    point to is deleted (what `on_delete=SET_NULL` does)."""

    CLEARABLE = frozenset({"actor", "actor_id", "project", "project_id"})

    def update(self, **kwargs):
        if kwargs and set(kwargs) <= self.CLEARABLE and all(v is None for v in kwargs.values()):
            return super().update(**kwargs)
        raise PermissionError("audit entries are append-only")

    def delete(self):
        raise PermissionError("audit entries are append-only: only the retention purge deletes them")

    def purge_before(self, cutoff) -> int:
        """Delete the entries created before `cutoff`, in one transaction; returns how many.
        On PostgreSQL the table's trigger refuses any DELETE unless the transaction has set
        `sextant.audit_purge_before`, and then only of rows older than it (docs/audit.md)."""
        from django.db import connections, transaction  # noqa: PLC0415

        with transaction.atomic(using=self.db):
            connection = connections[self.db]
            if connection.vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT set_config('sextant.audit_purge_before', %s, true)", [cutoff.isoformat()]
                    )
            old = self.model.objects.using(self.db).filter(created_at__lt=cutoff)
            return old._raw_delete(self.db)


class AuditEntry(models.Model):
    """One change somebody made: who, when, what, from where, before and after.

    Append-only: the application only ever creates entries (`governance.audit.record`);
    `save` refuses to update, `delete` refuses to delete, and so do the queryset's
    `update` and `delete` (AuditEntryQuerySet); the retention purge is the one deletion
    (`AuditEntry.objects.purge_before`), and on PostgreSQL a trigger enforces the same
    (governance/migrations/0003_append_only_trigger.py). The project and actor are
    kept by value as well (`project_name`, `actor_label`) so an entry still reads right
    after the project or user is gone.
    """

    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=254, blank=True)
    project = models.ForeignKey(
        "analytics_app.Project", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    project_name = models.CharField(max_length=200, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=254, blank=True)
    before = models.JSONField(null=True, blank=True)
    after = models.JSONField(null=True, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)

    objects = AuditEntryQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["project", "-created_at"], name="audit_project_time")]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_label or 'system'} {self.action} {self.target}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise PermissionError("audit entries are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise PermissionError("audit entries are append-only")
