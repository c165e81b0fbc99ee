"""Saved insights and dashboards (metadata; results live in the cache, see cache.py).

An Insight is a builder state: `kind` (a registered insights.registry kind) and
`spec`, the kind's own `to_json(spec)`. A Dashboard is an ordered grid of tiles,
each pointing at one insight, with an optional date range that overrides every
tile's own range.
"""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from analytics_app.models import Project
from insights.registry import KINDS, InsightKind


def spec_text(spec: dict) -> str:
    """The canonical JSON text of a stored spec: what URLs and cache keys carry."""
    return json.dumps(spec, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def validate_kind(value: str) -> None:
    if value not in KINDS:
        raise ValidationError(f"{value!r} is not a registered insight kind.")


class Insight(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="insights")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    kind = models.CharField(max_length=64, validators=[validate_kind])
    spec = models.JSONField()
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    last_refresh_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [models.Index(fields=["project", "kind"], name="insight_project_kind")]

    def __str__(self) -> str:
        return self.name

    @property
    def kind_def(self) -> InsightKind | None:
        """The registered kind, or None when its app is not installed (any more)."""
        return KINDS.get(self.kind)

    @property
    def kind_label(self) -> str:
        return self.kind_def.label if self.kind_def else self.kind

    @property
    def spec_json(self) -> str:
        return spec_text(self.spec)

    @property
    def builder_url(self) -> str:
        """The builder reopened on this spec (`?q=<spec JSON>`): a shareable link. "" if no builder."""
        kind = self.kind_def
        if kind is None:
            return ""
        try:
            base = reverse(kind.builder_url_name, kwargs={"project_id": self.project_id})
        except NoReverseMatch:
            return ""
        return f"{base}?{urlencode({'q': self.spec_json})}"


class Dashboard(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="dashboards")
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    is_default = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    # Override of every tile's date range ("" = each insight keeps its own), in the
    # date-block syntax: -7d, -30d, -90d, mStart, all, YYYY-MM-DD.
    date_from = models.CharField(max_length=32, blank=True, default="")
    date_to = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        ordering = ["-is_default", "name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project"],
                condition=models.Q(is_default=True),
                name="one_default_dashboard_per_project",
            ),
        ]

    def __str__(self) -> str:
        return self.name


class DashboardTile(models.Model):
    class Width(models.IntegerChoices):
        ONE = 1, "1 column"
        TWO = 2, "2 columns"
        THREE = 3, "Full width"

    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, related_name="tiles")
    insight = models.ForeignKey(Insight, on_delete=models.CASCADE, related_name="tiles")
    order = models.PositiveIntegerField(default=0)
    width = models.PositiveSmallIntegerField(
        choices=Width.choices, default=Width.ONE, validators=[MinValueValidator(1), MaxValueValidator(3)]
    )

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.insight} on {self.dashboard}"
