"""Evaluating rules end to end on the real chdb engine: captured events -> the insight
runner's series -> detector -> state -> root cause -> notifications (e-mail outbox, a
webhook received by a local HTTP server, the in-app bell)."""

from __future__ import annotations

import datetime as dt
import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest
from django.core import mail

from alerts import evaluate as ev
from alerts.models import AlertEvent, AlertRule, Notification
from alerts.notify import notify
from alerts.tasks import evaluate_due_rules
from dashboards.models import Insight

pytestmark = pytest.mark.django_db

# Judged hour: Wednesday 2026-06-24 14:00 UTC; 5 weeks of history before it.
T = dt.datetime(2026, 6, 24, 14, tzinfo=dt.UTC)
START = T - dt.timedelta(days=36)
BROWSERS = {"Chrome": 6, "Firefox": 4, "Safari": 2}


def per_hour(moment: dt.datetime) -> float:
    """A daily curve: busy afternoons, quiet nights, a little quieter at weekends."""
    hod, dow = moment.hour, moment.weekday()
    return (0.4 + 0.6 * (1 if 9 <= hod <= 18 else 0)) * (0.7 if dow >= 5 else 1.0)


def write(events, start, end, *, drop_browser=None, drop_at=None, extra=0):
    """Events of `signup` per hour and browser (deterministic, +/-1 wobble)."""
    n = 0
    moment = start
    while moment < end:
        for b, base in BROWSERS.items():
            count = round(base * per_hour(moment) * 3) + (moment.day + moment.hour) % 2
            if drop_browser == b and moment == drop_at:
                count = 0
            for k in range(count):
                events.add("signup", f"{b}-{n}", moment + dt.timedelta(minutes=k), {"$browser": b})
                n += 1
        moment += dt.timedelta(hours=1)
    for k in range(extra):
        events.add("signup", f"late-{k}", drop_at + dt.timedelta(minutes=30), {"$browser": "Firefox"})
    events.flush()


@pytest.fixture
def insight(project):
    spec = {"kind": "TrendsQuery", "series": [{"event": "signup", "math": "total"}], "date_from": "-7d"}
    return Insight.objects.create(project=project, name="Signups", kind="TrendsQuery", spec=spec)


def make_rule(project, insight, alice, **fields):
    defaults = {
        "name": "Signups per hour",
        "insight": insight,
        "interval": "hour",
        "detector": "seasonal",
        "params": {"k": 3, "min_abs_change": 5},
        "channels": [{"type": "email", "to": "pm@example.com"}, {"type": "inapp"}],
        "created_by": alice,
    }
    return AlertRule.objects.create(project=project, **{**defaults, **fields})


def test_a_drop_on_one_browser_fires_once_names_the_browser_and_notifies_each_channel_once(
    project, insight, events, alice, bob
):
    write(events, START, T + dt.timedelta(hours=2), drop_browser="Firefox", drop_at=T)
    rule = make_rule(project, insight, alice)
    now = T + dt.timedelta(hours=1, minutes=5)

    [event] = ev.evaluate(rule, now)
    rule.refresh_from_db()
    assert event.period_start == T and event.state_to == "firing" and rule.state == "firing"
    expected_value = sum(
        round(b * per_hour(T) * 3) + (T.day + T.hour) % 2 for n, b in BROWSERS.items() if n != "Firefox"
    )
    assert event.value == expected_value
    assert event.value < event.low
    top = event.root_cause[0]
    assert (top["property"], top["value"]) == ("$browser", "Firefox")
    assert top["current"] == 0 and top["share"] > 0.8

    assert len(mail.outbox) == 1 and "Firefox" in mail.outbox[0].body
    assert mail.outbox[0].subject == "[Sextant] Signups per hour is firing"
    bell = Notification.objects.filter(firing=event, channel__startswith="inapp:")
    assert sorted(n.user_id for n in bell) == sorted([alice.pk, bob.pk])

    # Evaluated again (a retried task, a second beat): the hour was judged, nothing is sent.
    assert ev.evaluate(rule, now) == []
    assert notify(event) == []
    assert len(mail.outbox) == 1
    assert Notification.objects.filter(firing=event).count() == 3


def test_resolved_is_notified_and_a_late_event_does_not_re_fire(project, insight, events, alice):
    write(events, START, T + dt.timedelta(hours=3), drop_browser="Firefox", drop_at=T)
    rule = make_rule(project, insight, alice, channels=[{"type": "email", "to": "pm@example.com"}])
    ev.evaluate(rule, T + dt.timedelta(hours=1, minutes=5))
    [resolved] = ev.evaluate(rule, T + dt.timedelta(hours=2, minutes=5))
    assert (resolved.state_from, resolved.state_to) == ("firing", "resolved")
    assert [m.subject for m in mail.outbox] == [
        "[Sextant] Signups per hour is firing",
        "[Sextant] Signups per hour is resolved",
    ]
    # 200 late events land in the hour that resolved: it was judged, so nothing re-fires.
    write(events, T, T, drop_at=T + dt.timedelta(hours=1), extra=200)
    assert ev.evaluate(rule, T + dt.timedelta(hours=2, minutes=30)) == []
    rule.refresh_from_db()
    assert rule.state == "resolved" and len(mail.outbox) == 2


def test_only_complete_periods_are_judged(project, insight, events, alice):
    write(events, START, T + dt.timedelta(hours=1))
    rule = make_rule(project, insight, alice)
    [event] = ev.evaluate(rule, T + dt.timedelta(minutes=59))  # 14:00 is still running
    assert event.period_start == T - dt.timedelta(hours=1)
    assert ev.evaluate(rule, T + dt.timedelta(minutes=59, seconds=30)) == []


def test_the_backtest_equals_what_the_evaluator_decides_for_the_same_hours(project, insight, events, alice):
    write(events, START, T + dt.timedelta(hours=2), drop_browser="Firefox", drop_at=T)
    rule = make_rule(project, insight, alice, channels=[])
    now = T + dt.timedelta(hours=1, minutes=5)
    test = ev.backtest(rule, now, days=1)
    assert len(test.judged) == 24 and test.judged[-1].start == T
    assert test.firings == [T]
    live = make_rule(project, insight, alice, name="live", channels=[])
    for item in test.judged:
        [event] = ev.evaluate(live, item.start + dt.timedelta(hours=1, minutes=5))
        j = item.judgement
        assert (event.period_start, event.value, event.anomalous) == (item.start, j.value, j.anomalous)
        assert event.expected == pytest.approx(j.expected) and event.high == pytest.approx(j.high)
    assert list(
        live.events.filter(state_to="firing", state_from="ok").values_list("period_start", flat=True)
    ) == [T]


def test_snoozed_and_muted_rules_record_the_firing_but_send_nothing(project, insight, events, alice):
    write(events, START, T + dt.timedelta(hours=2), drop_browser="Firefox", drop_at=T)
    rule = make_rule(project, insight, alice, muted=True)
    [event] = ev.evaluate(rule, T + dt.timedelta(hours=1, minutes=5))
    assert event.state_to == "firing" and mail.outbox == []
    assert set(Notification.objects.filter(firing=event).values_list("status", flat=True)) == {"suppressed"}


class Receiver(BaseHTTPRequestHandler):
    received: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Receiver.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def receiver(settings):
    settings.SEXTANT_ALERT_WEBHOOK_ALLOW_PRIVATE = True  # the receiver listens on loopback
    Receiver.received = []
    server = HTTPServer(("127.0.0.1", 0), Receiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/hook", Receiver.received
    server.shutdown()


def test_webhooks_reach_a_local_receiver_once_json_and_slack_bodies(
    project, insight, events, alice, receiver
):
    url, received = receiver
    write(events, START, T + dt.timedelta(hours=2), drop_browser="Firefox", drop_at=T)
    rule = make_rule(
        project,
        insight,
        alice,
        channels=[{"type": "webhook", "url": url}, {"type": "webhook", "url": url + "?slack", "slack": True}],
    )
    [event] = ev.evaluate(rule, T + dt.timedelta(hours=1, minutes=5))
    notify(event)  # a retry
    assert len(received) == 2
    full = next(r for r in received if "alert" in r)
    slack = next(r for r in received if "alert" not in r)
    assert full["state"] == "firing" and full["value"] == event.value and full["alert"]["id"] == rule.pk
    assert full["root_cause"][0]["value"] == "Firefox"
    assert set(slack) == {"text"} and "Signups per hour is firing" in slack["text"]


def test_a_failed_send_is_retried_once_and_a_claimed_channel_is_not_sent_again(
    project, insight, alice, settings
):
    settings.SEXTANT_ALERT_WEBHOOK_ALLOW_PRIVATE = True  # a closed loopback port: a failed send
    rule = make_rule(
        project, insight, alice, channels=[{"type": "webhook", "url": "http://127.0.0.1:9/nothing"}]
    )
    event = AlertEvent.objects.create(
        rule=rule, period_start=T, value=1, expected=10, state_from="ok", state_to="firing"
    )
    assert notify(event) == []
    n = Notification.objects.get(firing=event)
    assert n.status == "failed" and n.error
    # Another worker holds the claim (pending): this one sends nothing.
    Notification.objects.filter(pk=n.pk).update(status="pending")
    assert notify(event) == []
    assert Notification.objects.filter(firing=event).count() == 1


def test_the_unique_constraint_refuses_a_second_notification_of_a_firing_on_a_channel(
    project, insight, alice
):
    from django.db import IntegrityError, transaction

    rule = make_rule(project, insight, alice)
    event = AlertEvent.objects.create(rule=rule, period_start=T, value=1, state_from="ok", state_to="firing")
    Notification.objects.create(firing=event, channel="email:pm@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Notification.objects.create(firing=event, channel="email:pm@example.com")


def test_project_level_events_per_hour_and_freshness(project, events, alice):
    write(events, START, T + dt.timedelta(hours=1))
    volume = AlertRule.objects.create(
        project=project, name="Volume", metric="events_per_period", interval="hour"
    )
    series, first = ev.fetch_window(volume, T - dt.timedelta(hours=2), T + dt.timedelta(hours=1))
    got = dict(zip(series.starts, series.values, strict=True))
    reference = sum(round(b * per_hour(T) * 3) + (T.day + T.hour) % 2 for b in BROWSERS.values())
    assert got[T] == reference
    fresh = AlertRule.objects.create(
        project=project, name="Fresh", metric="freshness_minutes", interval="hour"
    )
    series, _ = ev.fetch_window(fresh, T + dt.timedelta(hours=2), T + dt.timedelta(hours=3))
    # The last event is at 14:xx (at most +11 minutes); the hour 16:00-17:00 ends 2h48m+ later.
    last_minute = max(round(b * per_hour(T) * 3) + (T.day + T.hour) % 2 for b in BROWSERS.values()) - 1
    assert series.values[-1] == pytest.approx(180 - last_minute)


def test_funnel_overall_and_step_conversion_by_day(project, events, alice):
    day = dt.datetime(2026, 6, 20, 10, tzinfo=dt.UTC)
    for i in range(10):
        events.add("view", f"u{i}", day)
        if i < 6:
            events.add("cart", f"u{i}", day + dt.timedelta(minutes=5))
        if i < 3:
            events.add("buy", f"u{i}", day + dt.timedelta(minutes=9))
    events.flush()
    spec = {
        "kind": "FunnelsQuery",
        "steps": [{"event": "view"}, {"event": "cart"}, {"event": "buy"}],
        "window": {"value": 1, "unit": "hour"},
    }
    funnel = Insight.objects.create(project=project, name="Checkout", kind="FunnelsQuery", spec=spec)
    overall = AlertRule.objects.create(project=project, name="Checkout", insight=funnel, interval="day")
    step2 = AlertRule.objects.create(
        project=project, name="Buy", insight=funnel, interval="day", funnel_step=2
    )
    now = day + dt.timedelta(days=1, hours=2)
    assert ev.complete_end(overall, now) == dt.datetime(2026, 6, 21, tzinfo=project.tz)
    s1, _ = ev.fetch_window(overall, day.replace(hour=0), dt.datetime(2026, 6, 21, tzinfo=dt.UTC))
    s2, _ = ev.fetch_window(step2, day.replace(hour=0), dt.datetime(2026, 6, 21, tzinfo=dt.UTC))
    assert s1.values[-1] == pytest.approx(0.3) and s2.values[-1] == pytest.approx(0.5)


def test_daily_rules_are_due_after_local_midnight_in_the_project_zone(make_project, alice, monkeypatch):
    from alerts import tasks

    tokyo = make_project("Tokyo", time_zone="Asia/Tokyo")
    rule = AlertRule.objects.create(
        project=tokyo,
        name="Daily volume",
        metric="events_per_period",
        interval="day",
        last_period_start=dt.datetime(2026, 6, 23, tzinfo=tokyo.tz),
    )
    queued = []
    monkeypatch.setattr(tasks.evaluate_rule, "delay", lambda *a: queued.append(a[0]))
    # 14:05 UTC on the 24th is 23:05 in Tokyo: the 24th is not over there.
    assert evaluate_due_rules("2026-06-24T14:05:00+00:00") == [] and queued == []
    # 15:05 UTC is 00:05 on the 25th in Tokyo: the 24th is complete.
    assert evaluate_due_rules("2026-06-24T15:05:00+00:00") == [rule.pk] and queued == [rule.pk]


def test_the_beat_runs_the_alert_evaluation_five_minutes_after_every_hour():
    from django.conf import settings

    entry = next(
        v for v in settings.CELERY_BEAT_SCHEDULE.values() if v["task"] == "alerts.evaluate_due_rules"
    )
    assert entry["schedule"].minute == {5} and len(entry["schedule"].hour) == 24


def test_old_periods_that_changed_nothing_are_pruned_and_state_changes_kept(project, insight, alice):
    from alerts.tasks import prune_history

    rule = make_rule(project, insight, alice)
    old = T - dt.timedelta(days=100)
    AlertEvent.objects.create(rule=rule, period_start=old, value=1, state_from="ok", state_to="ok")
    kept = AlertEvent.objects.create(
        rule=rule, period_start=old + dt.timedelta(hours=1), value=1, state_from="ok", state_to="firing"
    )
    recent = AlertEvent.objects.create(rule=rule, period_start=T, value=1, state_from="ok", state_to="ok")
    assert prune_history(T) == 1
    assert set(rule.events.values_list("pk", flat=True)) == {kept.pk, recent.pk}


def test_the_daily_backtest_equals_the_evaluator_too(project, insight, events, alice):
    write(events, START, T)
    rule = make_rule(project, insight, alice, interval="day", channels=[], params={"min_history": 1})
    now = T + dt.timedelta(hours=1)
    test = ev.backtest(rule, now, days=7)
    assert [j.start.date() for j in test.judged] == [
        dt.date(2026, 6, 17) + dt.timedelta(days=d) for d in range(7)
    ]
    live = make_rule(
        project, insight, alice, name="live", interval="day", channels=[], params={"min_history": 1}
    )
    for item in test.judged:
        [event] = ev.evaluate(live, item.start + dt.timedelta(days=1, minutes=5))
        j = item.judgement
        assert (event.period_start, event.value, event.anomalous) == (item.start, j.value, j.anomalous)
        assert event.expected == pytest.approx(j.expected) and event.low == pytest.approx(j.low)


def test_a_state_change_recorded_by_a_run_that_died_before_notifying_is_notified_by_the_next(
    project, insight, events, alice
):
    write(events, START, T + dt.timedelta(hours=2))
    rule = make_rule(project, insight, alice, channels=[{"type": "email", "to": "pm@example.com"}])
    now = T + dt.timedelta(hours=1, minutes=5)
    # The dead run: it judged the hour and recorded the firing, then stopped.
    AlertEvent.objects.create(
        rule=rule, period_start=T, value=1, expected=30, state_from="ok", state_to="firing", created_at=now
    )
    AlertRule.objects.filter(pk=rule.pk).update(state="firing", last_period_start=T)
    rule.refresh_from_db()
    assert ev.evaluate(rule, now + dt.timedelta(minutes=1)) == []
    assert [m.subject for m in mail.outbox] == ["[Sextant] Signups per hour is firing"]
    ev.evaluate(rule, now + dt.timedelta(minutes=2))
    assert len(mail.outbox) == 1


def test_a_failed_send_is_retried_by_the_next_evaluation_until_it_succeeds(project, insight, events, alice):
    write(events, START, T + dt.timedelta(hours=2))
    rule = make_rule(project, insight, alice, channels=[{"type": "email", "to": "pm@example.com"}])
    now = T + dt.timedelta(hours=1, minutes=5)
    event = AlertEvent.objects.create(
        rule=rule, period_start=T, value=1, expected=30, state_from="ok", state_to="firing", created_at=now
    )
    Notification.objects.create(
        firing=event, channel="email:pm@example.com", status="failed", error="timeout"
    )
    AlertRule.objects.filter(pk=rule.pk).update(state="firing", last_period_start=T)
    rule.refresh_from_db()
    ev.evaluate(rule, now + dt.timedelta(minutes=1))
    ev.evaluate(rule, now + dt.timedelta(minutes=2))
    assert len(mail.outbox) == 1
    assert Notification.objects.get(firing=event).status == "sent"


@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_on_one_firing_send_one_webhook(project, insight, alice, receiver):
    from django.db import connection

    if connection.vendor == "sqlite":
        pytest.skip(
            "concurrent writers need PostgreSQL (CI's second pass); the test DB is shared-cache SQLite"
        )
    url, received = receiver
    rule = make_rule(project, insight, alice, channels=[{"type": "webhook", "url": url}])
    event = AlertEvent.objects.create(rule=rule, period_start=T, value=1, state_from="ok", state_to="firing")
    start = threading.Barrier(4)
    errors = []

    def worker():
        try:
            start.wait()
            notify(AlertEvent.objects.select_related("rule__project").get(pk=event.pk))
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == [] and len(received) == 1
    assert Notification.objects.get(firing=event).status == "sent"
