"""Cohorts: saved groups of persons (static lists or behavioral definitions).

Membership lives in ClickHouse (`cohort_people`, one row per person per computed
version). `version` here is the committed version queries read; a refresh writes
version + 1 and flips this field only after its INSERT finished, so a reader never
sees a half-written cohort.
"""

from __future__ import annotations

from django.db import models
from django.utils import timezone

from analytics_app.models import Project


class Cohort(models.Model):
    class Kind(models.TextChoices):
        STATIC = "static", "Static list"
        BEHAVIORAL = "behavioral", "Behavioral"

    class Status(models.TextChoices):
        PENDING = "pending", "Calculating"
        READY = "ready", "Ready"
        ERROR = "error", "Error"

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="cohorts")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True, default="")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.BEHAVIORAL)
    definition = models.JSONField(default=dict, blank=True)
    version = models.PositiveBigIntegerField(default=0)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True, default="")
    last_calculated_at = models.DateTimeField(null=True, blank=True)
    count = models.PositiveBigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        db_table = "retention_cohort"  # created by the retention app, which held cohorts until issue 14
        ordering = ["project_id", "name", "id"]

    def __str__(self) -> str:
        return self.name
