"""Notifying a firing (or a resolution) on each of the rule's channels exactly once.

For each channel the Notification row is inserted first; the unique (firing, channel)
constraint makes that insert the claim, so a retried task or a second worker racing
on the same firing finds the row and sends nothing. Only the claimer sends, then
records sent/failed. A failed send may be claimed again by a retry (pending only via
an atomic failed -> pending update), a sent one never.

Texts are written as for a role without view-PII (the Presenter masks PII values in
the root cause), since a channel's readers are not known to the project.
"""

from __future__ import annotations

import json
import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from analytics_app.models import Membership
from governance.presenter import Presenter
from governance.roles import Permission

from . import webhooks
from .models import AlertEvent, AlertRule, Notification, State

log = logging.getLogger(__name__)


def base_url() -> str:
    return getattr(settings, "SEXTANT_BASE_URL", "").rstrip("/")


def alert_url(rule: AlertRule) -> str:
    return base_url() + reverse("alerts:alert", kwargs={"project_id": rule.project_id, "alert_id": rule.pk})


def masked_presenter(project) -> Presenter:
    """The Presenter of a role without view-PII: what notification texts are written with."""
    return Presenter.for_request(project, frozenset({Permission.VIEW_PROJECT, Permission.VIEW_INSIGHTS}))


def shown_causes(event: AlertEvent, presenter: Presenter) -> list[dict]:
    """The root-cause rows with their values as `presenter` shows them."""
    out = []
    for row in event.root_cause or []:
        shown = presenter.label(row["property"], row["value"])
        out.append(
            {**row, "value": shown, "masked": shown != row["value"],
             "shown_baseline": _cause_number(row, "baseline"), "shown_current": _cause_number(row, "current")}
        )  # fmt: skip
    return out


def _cause_number(row: dict, key: str) -> str:
    """A root-cause number as shown: a funnel's conversion as a percentage, else a count."""
    if row.get("unit") == "rate":
        return f"{row[key] * 100:.1f}%"
    return _number(row[key])


def _number(value) -> str:
    if value is None:
        return "-"
    return f"{value:,.4g}" if abs(value) < 10 else f"{value:,.0f}"


def message(event: AlertEvent) -> tuple[str, str]:
    """(subject, text) of a notification, PII masked."""
    rule = event.rule
    tz = rule.project.tz
    when = event.period_start.astimezone(tz).strftime(
        "%Y-%m-%d %H:%M" if rule.interval == "hour" else "%Y-%m-%d"
    )
    period = f"{'hour' if rule.interval == 'hour' else 'day'} {when} ({rule.project.time_zone})"
    if event.state_to == State.FIRING:
        subject = f"[Sextant] {rule.name} is firing"
        lines = [
            f"{rule.name} ({rule.project.name}) is firing for the {period}.",
            f"Value {_number(event.value)}, expected {_number(event.expected)}"
            + (
                f" (band {_number(event.low)} to {_number(event.high)})"
                if event.low is not None or event.high is not None
                else ""
            )
            + (f": {event.reason}." if event.reason else "."),
        ]
        causes = shown_causes(event, masked_presenter(rule.project))[:3]
        if causes:
            lines.append("Likely cause:")
            for c in causes:
                lines.append(
                    f"- {c['property']} = {c['value']}: {c['shown_baseline']} -> {c['shown_current']}"
                    f" ({c['share'] * 100:.0f}% of the change)"
                )
    else:
        subject = f"[Sextant] {rule.name} is resolved"
        lines = [
            f"{rule.name} ({rule.project.name}) is back within its band for the {period}: "
            f"value {_number(event.value)}, expected {_number(event.expected)}."
        ]
    lines.append(alert_url(rule))
    return subject, "\n".join(lines)


def recipients(rule: AlertRule) -> list[int]:
    """In-app bell recipients: members who may see the rule (view insights)."""
    members = Membership.objects.filter(project_id=rule.project_id).select_related("custom_role")
    return sorted(m.user_id for m in members if Permission.VIEW_INSIGHTS in m.permission_set)


def channel_keys(rule: AlertRule) -> list[tuple[str, dict, int | None]]:
    """(channel key, channel config, in-app user id) for each destination of the rule."""
    out = []
    for c in rule.channels or []:
        if c.get("type") == "email" and c.get("to"):
            out.append((f"email:{c['to']}", c, None))
        elif c.get("type") == "webhook" and c.get("url"):
            out.append((f"webhook:{c['url']}"[:600], c, None))
        elif c.get("type") == "inapp":
            out.extend((f"inapp:{uid}", c, uid) for uid in recipients(rule))
    return out


def webhook_body(event: AlertEvent, subject: str, text: str, slack: bool) -> dict:
    if slack:
        return {"text": f"*{subject}*\n{text}"}
    rule = event.rule
    return {
        "text": text,
        "subject": subject,
        "alert": {"id": rule.pk, "name": rule.name, "project_id": rule.project_id, "url": alert_url(rule)},
        "state": event.state_to,
        "period_start": event.period_start.isoformat(),
        "value": event.value,
        "expected": event.expected,
        "low": event.low,
        "high": event.high,
        "root_cause": [
            {k: c[k] for k in ("property", "value", "current", "baseline", "share")}
            for c in shown_causes(event, masked_presenter(rule.project))[:3]
        ],
    }


def send(channel: dict, event: AlertEvent, subject: str, text: str) -> None:
    kind = channel.get("type")
    if kind == "email":
        send_mail(subject, text, None, [channel["to"]])
    elif kind == "webhook":
        body = json.dumps(webhook_body(event, subject, text, bool(channel.get("slack")))).encode()
        webhooks.post(channel["url"], body)  # public addresses only, unless allowed (alerts.webhooks)
    # in-app: the row is the notification (the bell reads it).


def _claim(event: AlertEvent, key: str, user_id, text: str, suppressed: bool) -> Notification | None:
    status = Notification.Status.SUPPRESSED if suppressed else Notification.Status.PENDING
    try:
        with transaction.atomic():
            return Notification.objects.create(
                firing=event, channel=key, user_id=user_id, text=text, status=status
            )
    except IntegrityError:
        pass
    # Already claimed: a failed send may be retried by whoever flips it back to pending.
    existing = Notification.objects.filter(firing=event, channel=key, status=Notification.Status.FAILED)
    if not suppressed and existing.update(status=Notification.Status.PENDING):
        return Notification.objects.get(firing=event, channel=key)
    return None


def notify(event: AlertEvent) -> list[Notification]:
    """Send the firing/resolution on every channel not sent yet; returns those sent now."""
    rule = event.rule
    suppressed = rule.muted or rule.is_snoozed()
    subject, text = message(event)
    sent = []
    for key, channel, user_id in channel_keys(rule):
        n = _claim(event, key, user_id, text, suppressed)
        if n is None or n.status == Notification.Status.SUPPRESSED:
            continue
        try:
            send(channel, event, subject, text)
        except webhooks.UnsafeWebhook as exc:
            # Refused, not failed: not retried (the same URL would be refused again).
            log.warning("Alert %s: %s refused: %s", rule.pk, key, exc)
            n.status, n.error = Notification.Status.REFUSED, f"Refused: {exc}"[:2000]
        except Exception as exc:  # noqa: BLE001 - any transport error is recorded on the row
            log.warning("Alert %s: %s failed: %s", rule.pk, key, exc)
            n.status, n.error = Notification.Status.FAILED, str(exc)[:2000]
        else:
            n.status, n.sent_at = Notification.Status.SENT, timezone.now()
            sent.append(n)
        n.save(update_fields=["status", "error", "sent_at"])
    return sent
