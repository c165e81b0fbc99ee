"""Annotations: a dated note (a release, a campaign, an outage) shown on every time chart
of its project. Created from a chart point or the form under the trends chart."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from analytics_app.models import Project

MAX_ANNOTATION_LENGTH = 400


class Annotation(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="annotations")
    date_marker = models.DateTimeField(help_text="The moment the note is about (drawn at this x).")
    content = models.CharField(max_length=MAX_ANNOTATION_LENGTH)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_by_label = models.CharField(max_length=254, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["date_marker", "pk"]
        indexes = [models.Index(fields=["project", "date_marker"], name="annotation_project_date")]

    def __str__(self) -> str:
        return f"{self.date_marker:%Y-%m-%d} {self.content[:40]}"

    @property
    def author_label(self) -> str:
        return self.created_by_label or "(deleted user)"
