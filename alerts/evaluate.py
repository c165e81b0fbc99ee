"""Evaluating a rule: judge each complete period not judged yet, move the state, notify.

`evaluate(rule, now)` is what the Celery task runs; `backtest(rule, now, days)` is what
the "Alert me" page shows before a rule is saved. Both fetch the series the same way
(alerts.metrics) and judge with the same detector call (`judge_periods`), so the
backtest shows what the scheduled evaluator would have decided for the same periods.

A period is judged once: its AlertEvent is unique per (rule, period_start), and the
evaluator only judges periods after `last_period_start`. A late event that changes an
already judged period changes nothing, so it never re-fires a resolved alert.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest

from . import detectors
from .metrics import SEASON, Series, complete_end, fetch, shift
from .models import AlertEvent, AlertRule, Notification, State

log = logging.getLogger(__name__)

# At most this many missed periods are judged in one evaluation (a worker that was down).
MAX_CATCH_UP = 48
# State changes this recent that have no notification yet are notified by the next run.
ORPHAN_WINDOW = dt.timedelta(days=1)


@dataclass(frozen=True)
class Judged:
    start: dt.datetime
    judgement: detectors.Judgement


def history_periods(rule: AlertRule) -> int:
    """How many periods before the first judged one the detector looks at."""
    season = SEASON[rule.interval]
    p = detectors.params_with_defaults(rule.detector, rule.params)
    if rule.detector == "seasonal":
        # The same period of `weeks` weeks back, for each period the spread is measured on.
        return int(p["weeks"]) * season + max(season, 28)
    if rule.detector == "relative":
        return season if p["compare_to"] == "last_week" else 1
    return 0


def judge_periods(rule: AlertRule, series: Series, first: int) -> list[Judged]:
    """Judge series periods first.. (the earlier ones are history)."""
    values = series.values
    # History counts from the first non-zero period: zero-filled time before the data began
    # is not history (min_history).
    valid_from = next((i for i, v in enumerate(values) if v), len(values))
    season = SEASON[rule.interval]
    indices = range(first, len(values))
    judgements = detectors.judge_range(
        values, indices, rule.detector, rule.params, season, valid_from=valid_from
    )
    return [Judged(series.starts[i], j) for i, j in zip(indices, judgements, strict=True)]


def fetch_window(rule: AlertRule, first_start: dt.datetime, end: dt.datetime) -> tuple[Series, int]:
    """The series from the history the detector needs up to `end`, and the index of `first_start`."""
    tz = rule.project.tz
    start = shift(first_start, rule.interval, -history_periods(rule), tz)
    series = fetch(rule, start, end)
    first = next((i for i, s in enumerate(series.starts) if s >= first_start), len(series.starts))
    return series, first


def in_cooldown(rule: AlertRule, moment: dt.datetime) -> bool:
    return rule.last_fired_at is not None and moment - rule.last_fired_at < dt.timedelta(
        minutes=rule.cooldown_minutes
    )


def evaluate(rule: AlertRule, now: dt.datetime | None = None) -> list[AlertEvent]:
    """Judge every complete period after the last judged one; returns the new events."""
    now = now or timezone.now()
    tz = rule.project.tz
    end = complete_end(rule, now)
    last_complete = shift(end, rule.interval, -1, tz)
    if rule.last_period_start is not None:
        first_start = shift(rule.last_period_start.astimezone(tz), rule.interval, 1, tz)
    else:
        first_start = last_complete
    earliest = shift(last_complete, rule.interval, -(MAX_CATCH_UP - 1), tz)
    first_start = max(first_start, earliest)
    if first_start > last_complete:
        _notify_orphans(rule, now, set())
        AlertRule.objects.filter(pk=rule.pk).update(last_evaluated_at=now)
        return []
    try:
        series, first = fetch_window(rule, first_start, end)
        judged = judge_periods(rule, series, first)
    except (BadRequest, ch.ClickHouseError) as exc:
        message = getattr(exc, "message", str(exc))
        AlertRule.objects.filter(pk=rule.pk).update(last_evaluated_at=now, last_error=str(message)[:2000])
        log.warning("Alert rule %s could not be evaluated: %s", rule.pk, message)
        return []
    created = []
    for item in judged:
        event = _record(rule, item, now)
        if event is None:  # another worker judged this period first
            continue
        created.append(event)
        if event.is_transition:
            _after_transition(rule, event, series, item.judgement.baseline)
    _notify_orphans(rule, now, {e.pk for e in created})
    AlertRule.objects.filter(pk=rule.pk).update(last_evaluated_at=now, last_error="")
    return created


def _notify_orphans(rule: AlertRule, now: dt.datetime, skip: set[int]) -> None:
    """A state change recorded by a run that died before notifying (the task is redelivered,
    but its period is judged), or whose send failed: notify it now. `notify` claims each
    channel, so this never sends twice."""
    from .notify import notify  # noqa: PLC0415

    unsent = Q(notifications__isnull=True) | Q(notifications__status=Notification.Status.FAILED)
    orphans = (
        rule.events.filter(unsent, created_at__gte=now - ORPHAN_WINDOW)
        .exclude(state_from=F("state_to"))
        .exclude(pk__in=skip)
        .distinct()
    )
    for event in orphans:
        notify(event)


def _record(rule: AlertRule, item: Judged, now: dt.datetime) -> AlertEvent | None:
    j = item.judgement
    cooldown = in_cooldown(rule, now)
    state_to = detectors.step(rule.state, j.anomalous, cooldown) if j.value is not None else rule.state
    try:
        with transaction.atomic():
            event = AlertEvent.objects.create(
                rule=rule,
                period_start=item.start,
                value=j.value,
                expected=j.expected,
                low=j.low,
                high=j.high,
                anomalous=j.anomalous,
                reason=j.reason[:300],
                state_from=rule.state,
                state_to=state_to,
                created_at=now,
            )
            changes = {"state": state_to, "last_period_start": item.start}
            if event.is_firing:
                changes["last_fired_at"] = now
            if state_to == State.RESOLVED and rule.state == State.FIRING:
                changes["snoozed_until_resolved"] = False
            AlertRule.objects.filter(pk=rule.pk).update(**changes)
    except IntegrityError:
        return None
    for name, value in changes.items():
        setattr(rule, name, value)
    return event


def _after_transition(rule: AlertRule, event: AlertEvent, series: Series, baseline: tuple[int, ...]) -> None:
    from .notify import notify  # noqa: PLC0415
    from .rootcause import root_cause  # noqa: PLC0415

    if event.is_firing:
        try:
            event.root_cause = root_cause(rule, event, series, baseline)
            event.save(update_fields=["root_cause"])
        except (BadRequest, ch.ClickHouseError) as exc:
            log.warning("Root cause of alert %s failed: %s", rule.pk, getattr(exc, "message", exc))
    notify(event)


# ------------------------------------------------------------------ backtest
@dataclass(frozen=True)
class Backtest:
    series: Series
    judged: list[Judged]
    firings: list[dt.datetime]  # periods where the state would have gone to firing


def backtest(rule: AlertRule, now: dt.datetime | None = None, days: int = 30) -> Backtest:
    """What the rule would have decided for every complete period of the last `days` days
    (cooldown applied between simulated firings; snooze and mute ignored)."""
    now = now or timezone.now()
    tz = rule.project.tz
    end = complete_end(rule, now)
    periods = days * (24 if rule.interval == "hour" else 1)
    first_start = shift(end, rule.interval, -periods, tz)
    series, first = fetch_window(rule, first_start, end)
    judged = judge_periods(rule, series, first)
    state, fired_at, firings = State.OK, None, []
    cooldown = dt.timedelta(minutes=rule.cooldown_minutes)
    for item in judged:
        if item.judgement.value is None:
            continue
        period_end = shift(item.start, rule.interval, 1, tz)
        new = detectors.step(
            state, item.judgement.anomalous, fired_at is not None and period_end - fired_at < cooldown
        )
        if new == State.FIRING and state != State.FIRING:
            firings.append(item.start)
            fired_at = period_end
        state = new
    return Backtest(series, judged, firings)


def due(rule: AlertRule, now: dt.datetime) -> bool:
    """Whether a complete period is waiting to be judged (the beat task queues only these)."""
    if rule.last_period_start is None:
        return True
    tz = rule.project.tz
    return shift(rule.last_period_start.astimezone(tz), rule.interval, 1, tz) < complete_end(rule, now)
