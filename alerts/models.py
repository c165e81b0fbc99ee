"""Alert rules, what each evaluation judged, and the notifications it sent (docs/alerts.md).

An AlertRule watches one metric: a saved insight's series (trends: one series, its
breakdown total; funnels: overall or one step's conversion) or a project-level
ingestion metric. Every complete period the evaluator judges is one AlertEvent
(unique per rule and period, so a period is judged once: a late event never
re-judges it). An event that changes the state (ok/resolved -> firing, firing ->
resolved) is a *firing* and notifies each channel once: a Notification row is
inserted first (unique per firing and channel), then sent.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone

from analytics_app.models import Project


class Metric(models.TextChoices):
    INSIGHT = "insight", "Saved insight"
    EVENTS = "events_per_period", "Ingestion volume (events per period)"
    FRESHNESS = "freshness_minutes", "Ingestion freshness (minutes since the last event)"
    WARNINGS = "warnings_per_period", "Ingestion warnings / quarantined (per period)"
    RECORDINGS = "recordings_per_period", "Recordings started (per period)"


class Interval(models.TextChoices):
    HOUR = "hour", "Hourly"
    DAY = "day", "Daily"


class Detector(models.TextChoices):
    THRESHOLD = "threshold", "Threshold"
    RELATIVE = "relative", "Relative change"
    SEASONAL = "seasonal", "Seasonal z-score"


class State(models.TextChoices):
    OK = "ok", "OK"
    FIRING = "firing", "Firing"
    RESOLVED = "resolved", "Resolved"


class AlertRule(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="alert_rules")
    name = models.CharField(max_length=200)
    insight = models.ForeignKey(
        "dashboards.Insight", null=True, blank=True, on_delete=models.CASCADE, related_name="alert_rules"
    )
    metric = models.CharField(max_length=32, choices=Metric.choices, default=Metric.INSIGHT)
    # Trends: which series (its breakdown total). Funnels: None = overall conversion,
    # k >= 1 = the conversion from step k-1 to step k.
    series_index = models.PositiveSmallIntegerField(default=0)
    funnel_step = models.PositiveSmallIntegerField(null=True, blank=True)
    interval = models.CharField(max_length=8, choices=Interval.choices, default=Interval.HOUR)
    detector = models.CharField(max_length=16, choices=Detector.choices, default=Detector.SEASONAL)
    # Detector parameters (alerts.detectors.PARAMS documents each; validated by alerts.forms).
    params = models.JSONField(default=dict, blank=True)
    # [{"type": "email", "to": "a@x.io"}, {"type": "webhook", "url": "...", "slack": false}, {"type": "inapp"}]
    channels = models.JSONField(default=list, blank=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.OK)
    cooldown_minutes = models.PositiveIntegerField(default=60)
    snoozed_until = models.DateTimeField(null=True, blank=True)
    snoozed_until_resolved = models.BooleanField(default=False)
    muted = models.BooleanField(default=False)
    last_evaluated_at = models.DateTimeField(null=True, blank=True)
    # The start of the last period judged (the evaluator judges each later complete period once).
    last_period_start = models.DateTimeField(null=True, blank=True)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        indexes = [models.Index(fields=["project", "state"], name="alertrule_project_state")]

    def __str__(self) -> str:
        return self.name

    def is_snoozed(self, now=None) -> bool:
        now = now or timezone.now()
        return self.snoozed_until_resolved or (self.snoozed_until is not None and self.snoozed_until > now)


class AlertEvent(models.Model):
    """One judged period: its value, what was expected, the band, and a state change if any."""

    rule = models.ForeignKey(AlertRule, on_delete=models.CASCADE, related_name="events")
    period_start = models.DateTimeField()
    value = models.FloatField(null=True)
    expected = models.FloatField(null=True)
    low = models.FloatField(null=True)
    high = models.FloatField(null=True)
    anomalous = models.BooleanField(default=False)
    reason = models.CharField(max_length=300, blank=True, default="")
    state_from = models.CharField(max_length=16, choices=State.choices)
    state_to = models.CharField(max_length=16, choices=State.choices)
    # Root cause of a firing: [{"property", "value", "current", "baseline", "delta", "share"}] (raw values;
    # masked when shown).
    root_cause = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-period_start", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["rule", "period_start"], name="alertevent_one_per_period"),
        ]

    def __str__(self) -> str:
        return f"{self.rule} @ {self.period_start:%Y-%m-%d %H:%M}: {self.state_to}"

    @property
    def is_firing(self) -> bool:
        return self.state_from != self.state_to and self.state_to == State.FIRING

    @property
    def is_transition(self) -> bool:
        return self.state_from != self.state_to


class Notification(models.Model):
    """One channel's notification of one firing (or resolution). Inserted before sending:
    the unique (firing, channel) row is the claim, so retries and racing workers send once."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SENT = "sent", "Sent"
        FAILED = "failed", "Failed"
        SUPPRESSED = "suppressed", "Suppressed (snoozed or muted)"
        # A webhook URL that resolves to a non-public address (alerts.webhooks); never retried.
        REFUSED = "refused", "Refused (not a public address)"

    firing = models.ForeignKey(AlertEvent, on_delete=models.CASCADE, related_name="notifications")
    # "email:<address>", "webhook:<url>" or "inapp:<user id>"
    channel = models.CharField(max_length=600)
    # The in-app bell's recipient (None for the other channels).
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    error = models.TextField(blank=True, default="")
    text = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now)
    sent_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["firing", "channel"], name="notification_once_per_channel"),
        ]
        indexes = [models.Index(fields=["user", "read_at"], name="notification_user_unread")]

    def __str__(self) -> str:
        return f"{self.channel}: {self.status}"
