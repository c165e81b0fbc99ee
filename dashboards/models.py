"""Saved insights and dashboards (metadata; results live in the cache, see cache.py).

An Insight is a builder state: `kind` (a registered insights.registry kind) and
`spec`, the kind's own `to_json(spec)`. A Dashboard is an ordered grid of tiles,
each pointing at one insight, with an optional date range that overrides every
tile's own range.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
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
    # Property filters ANDed to every tile's own (insights.blocks.filters JSON, validated with
    # the saving editor's permissions), [] = none.
    filters = models.JSONField(default=list, db_default=[], blank=True)

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
        # Stored values kept from the 3-column grid (1, 2, 3); a half was added as 4. The
        # grid has 6 tracks: 1 -> 2 tracks, 4 -> 3, 2 -> 4, 3 -> all (docs/dashboards.md).
        ONE = 1, "1/3 width"
        HALF = 4, "1/2 width"
        TWO = 2, "2/3 width"
        THREE = 3, "Full width"

    class Height(models.TextChoices):
        SMALL = "s", "Small"
        MEDIUM = "m", "Medium"
        LARGE = "l", "Large"

    dashboard = models.ForeignKey(Dashboard, on_delete=models.CASCADE, related_name="tiles")
    insight = models.ForeignKey(Insight, on_delete=models.CASCADE, related_name="tiles")
    order = models.PositiveIntegerField(default=0)
    width = models.PositiveSmallIntegerField(
        choices=Width.choices, default=Width.ONE, validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    height = models.CharField(max_length=1, choices=Height.choices, default=Height.MEDIUM, db_default="m")

    class Meta:
        ordering = ["order", "id"]

    def __str__(self) -> str:
        return f"{self.insight} on {self.dashboard}"


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class ShareLink(models.Model):
    """A read-only public link to one saved insight or one dashboard of a project.

    Whoever holds the token sees that object's results, PII masked as for a role without
    view-PII, and nothing else. The token is looked up by its SHA-256 digest (indexed) and
    then compared in constant time; it is also kept so editors can copy the link again.
    Revoked or expired links answer 404 exactly as unknown ones do (docs/dashboards.md)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="share_links")
    insight = models.ForeignKey(
        Insight, null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    dashboard = models.ForeignKey(
        Dashboard, null=True, blank=True, on_delete=models.CASCADE, related_name="share_links"
    )
    token = models.CharField(max_length=64)
    token_digest = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(insight__isnull=False, dashboard__isnull=True)
                | models.Q(insight__isnull=True, dashboard__isnull=False),
                name="share_link_one_target",
            ),
        ]

    def __str__(self) -> str:
        return f"share link to {self.target}"

    @classmethod
    def issue(cls, target, user, expires_at=None) -> ShareLink:
        token = secrets.token_urlsafe(32)
        kind = "dashboard" if isinstance(target, Dashboard) else "insight"
        return cls.objects.create(
            project_id=target.project_id,
            token=token,
            token_digest=token_digest(token),
            expires_at=expires_at,
            created_by=user,
            **{kind: target},
        )

    @classmethod
    def resolve(cls, token: str) -> ShareLink | None:
        """The live link this token opens, or None (unknown, revoked and expired alike)."""
        if not token or len(token) > 64:
            return None
        link = (
            cls.objects.select_related("project", "insight", "dashboard")
            .filter(token_digest=token_digest(token))
            .first()
        )
        if link is None or not hmac.compare_digest(link.token.encode(), token.encode()):
            return None
        return link if link.is_live else None

    @property
    def target(self):
        return self.dashboard if self.dashboard_id else self.insight

    @property
    def is_live(self) -> bool:
        if self.revoked_at is not None:
            return False
        return self.expires_at is None or self.expires_at > timezone.now()

    @property
    def status(self) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= timezone.now():
            return "expired"
        return "active"
