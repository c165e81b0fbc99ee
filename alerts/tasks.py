"""Celery entry points for alerts. Tasks take ids and are idempotent (docs/alerts.md).

The beat schedule (analytics_app/settings.py) runs `alerts.evaluate_due_rules` five
minutes after every hour; it queues `alerts.evaluate_rule` for each rule with a complete
period waiting: every hour for hourly rules, after local midnight in the project's zone
for daily ones. Evaluating twice judges nothing twice (one AlertEvent per period) and
notifies each channel of a firing once (one Notification per firing and channel).
"""

from __future__ import annotations

from celery import shared_task
from django.utils import timezone

# Judged periods that changed nothing are kept this long; state changes (firings, which
# notifications point at) are kept with their rule.
HISTORY_DAYS = 90


def prune_history(now) -> int:
    import datetime as dt  # noqa: PLC0415

    from django.db.models import F  # noqa: PLC0415

    from .models import AlertEvent  # noqa: PLC0415

    old = AlertEvent.objects.filter(
        period_start__lt=now - dt.timedelta(days=HISTORY_DAYS), state_from=F("state_to")
    )
    return old.delete()[0]


@shared_task(name="alerts.evaluate_rule", acks_late=True)
def evaluate_rule(rule_id: int, now: str | None = None) -> list[int]:
    """Judge the rule's complete periods not judged yet; returns the new AlertEvent ids."""
    import datetime as dt  # noqa: PLC0415

    from .evaluate import evaluate  # noqa: PLC0415
    from .models import AlertRule  # noqa: PLC0415

    rule = AlertRule.objects.select_related("project", "insight").filter(pk=rule_id).first()
    if rule is None:
        return []
    moment = dt.datetime.fromisoformat(now) if now else None
    return [e.pk for e in evaluate(rule, moment)]


@shared_task(name="alerts.evaluate_due_rules")
def evaluate_due_rules(now: str | None = None) -> list[int]:
    """Queue an evaluation of every rule with a complete period waiting. For the beat schedule."""
    import datetime as dt  # noqa: PLC0415

    from .evaluate import due  # noqa: PLC0415
    from .models import AlertRule  # noqa: PLC0415

    moment = dt.datetime.fromisoformat(now) if now else timezone.now()
    prune_history(moment)
    ids = [r.pk for r in AlertRule.objects.select_related("project", "insight") if due(r, moment)]
    for rule_id in ids:
        evaluate_rule.delay(rule_id, now)
    return ids
