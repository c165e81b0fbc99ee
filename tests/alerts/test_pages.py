"""Alert pages: list, alert page, rule form with backtest, snooze/mute/delete, the bell.
alice is admin (manage alerts, view PII), bob an exec (views insights, no PII)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from alerts.models import AlertEvent, AlertRule, Notification
from alerts.notify import message
from dashboards.models import Insight
from governance.models import AuditEntry
from tests.clock import at_test_time

pytestmark = pytest.mark.django_db

NOW = at_test_time(lambda now: now.replace(minute=0, second=0, microsecond=0))


@pytest.fixture
def insight(project, events):
    for h in range(1, 24 * 9):
        moment = NOW - dt.timedelta(hours=h)
        for k in range(3 + moment.hour % 4):
            events.add("signup", f"u{h}-{k}", moment + dt.timedelta(minutes=k), {"$browser": "Chrome"})
    events.flush()
    spec = {"kind": "TrendsQuery", "series": [{"event": "signup", "math": "total"}], "date_from": "-7d"}
    return Insight.objects.create(project=project, name="Signups", kind="TrendsQuery", spec=spec)


@pytest.fixture
def rules(project, insight, alice):
    on_insight = AlertRule.objects.create(
        project=project,
        name="Signups drop",
        insight=insight,
        interval="hour",
        detector="seasonal",
        params={"min_history": 1},
        channels=[{"type": "inapp"}],
        created_by=alice,
        state="firing",
    )
    ingestion = AlertRule.objects.create(project=project, name="Ingestion volume", metric="events_per_period")
    firing = AlertEvent.objects.create(
        rule=on_insight,
        period_start=NOW - dt.timedelta(hours=2),
        value=1,
        expected=20,
        low=10,
        high=30,
        anomalous=True,
        state_from="ok",
        state_to="firing",
        root_cause=[
            {
                "property": "email",
                "value": "jane@example.com",
                "current": 0,
                "baseline": 9,
                "delta": -9,
                "share": 0.6,
            },
            {
                "property": "$browser",
                "value": "Chrome",
                "current": 1,
                "baseline": 11,
                "delta": -10,
                "share": 0.3,
            },
        ],
    )
    return on_insight, ingestion, firing


def url(name, project, **kw):
    return reverse(f"alerts:{name}", kwargs={"project_id": project.pk, **kw})


def test_the_list_shows_managers_every_rule_and_others_the_rules_on_insights(
    client, alice, bob, project, rules
):
    client.force_login(alice)
    page = client.get(url("alerts", project)).content.decode()
    assert "Signups drop" in page and "Ingestion volume" in page and "New ingestion alert" in page
    client.force_login(bob)
    page = client.get(url("alerts", project)).content.decode()
    assert "Signups drop" in page and "Ingestion volume" not in page and "New ingestion alert" not in page
    assert client.get(url("alert", project, alert_id=rules[1].pk)).status_code == 404


def test_the_alert_page_draws_the_band_and_masks_pii_in_the_root_cause(client, alice, bob, project, rules):
    rule = rules[0]
    client.force_login(alice)
    page = client.get(url("alert", project, alert_id=rule.pk)).content.decode()
    assert "data-alert-figure" in page and "Expected band" in page and "<script>" not in page
    assert "jane@example.com" in page  # alice may view PII
    assert "%22%24browser%22" in page  # the Chrome row links to the insight filtered to $browser = Chrome
    assert "Snooze 1 hour" in page
    client.force_login(bob)
    page = client.get(url("alert", project, alert_id=rule.pk)).content.decode()
    assert "jane@example.com" not in page and "jane" not in page
    assert "Snooze 1 hour" not in page
    # Notification texts are written as for a role without view-PII.
    subject, text = message(rules[2])
    assert "jane" not in text and "$browser = Chrome" in text and "60% of the change" in text


def test_alert_me_on_a_saved_insight_shows_a_backtest_then_saves_an_audited_rule(
    client, alice, project, insight
):
    client.force_login(alice)
    insight_page = client.get(
        reverse("dashboards:insight", kwargs={"project_id": project.pk, "insight_id": insight.pk})
    )
    assert "Alert me" in insight_page.content.decode()
    page = client.get(url("alert_new", project) + f"?insight={insight.pk}")
    assert page.status_code == 200
    body = page.content.decode()
    assert "Backtest: the last 30 days" in body and "data-alert-figure" in body and "would have fired" in body
    form = {
        "insight": insight.pk,
        "name": "Signups watch",
        "series_index": 0,
        "interval": "hour",
        "detector": "threshold",
        "op": "below",
        "threshold": 1,
        "direction": "both",
        "min_abs_change": 0,
        "email": "pm@example.com",
        "inapp": "on",
        "cooldown_minutes": 60,
    }
    preview = client.post(url("alert_new", project), {**form, "action": "backtest"})
    assert preview.status_code == 200 and not AlertRule.objects.filter(name="Signups watch").exists()
    saved = client.post(url("alert_new", project), {**form, "action": "save"})
    rule = AlertRule.objects.get(name="Signups watch")
    assert saved.status_code == 302 and saved["Location"] == url("alert", project, alert_id=rule.pk)
    assert rule.insight == insight and rule.params["op"] == "below" and rule.created_by == alice
    assert rule.channels == [{"type": "email", "to": "pm@example.com"}, {"type": "inapp"}]
    assert AuditEntry.objects.filter(project=project, action="alert.create", target="Signups watch").exists()
    bad = client.post(url("alert_new", project), {**form, "k": "x", "detector": "seasonal", "action": "save"})
    assert bad.status_code == 400 and "Enter a number" in bad.content.decode()
    edited = client.post(
        url("alert_edit", project, alert_id=rule.pk), {**form, "threshold": 5, "action": "save"}
    )
    assert edited.status_code == 302
    rule.refresh_from_db()
    assert rule.params["value"] == 5
    update = AuditEntry.objects.get(project=project, action="alert.update")
    assert update.before["params"]["value"] == 1 and update.after["params"]["value"] == 5


def test_readers_may_not_create_snooze_or_delete(client, bob, project, rules, insight):
    client.force_login(bob)
    assert client.get(url("alert_new", project) + f"?insight={insight.pk}").status_code == 403
    assert (
        client.post(url("alert_snooze", project, alert_id=rules[0].pk), {"action": "1h"}).status_code == 403
    )
    assert client.post(url("alert_delete", project, alert_id=rules[0].pk)).status_code == 403
    page = client.get(
        reverse("dashboards:insight", kwargs={"project_id": project.pk, "insight_id": insight.pk})
    )
    assert "Alert me" not in page.content.decode()


def test_snooze_mute_and_delete_are_audited(client, alice, project, rules):
    client.force_login(alice)
    rule = rules[0]
    client.post(url("alert_snooze", project, alert_id=rule.pk), {"action": "1h"})
    rule.refresh_from_db()
    assert rule.is_snoozed() and rule.snoozed_until > dt.datetime.now(dt.UTC) + dt.timedelta(minutes=59)
    client.post(url("alert_snooze", project, alert_id=rule.pk), {"action": "resolved"})
    client.post(url("alert_snooze", project, alert_id=rule.pk), {"action": "mute"})
    rule.refresh_from_db()
    assert rule.snoozed_until_resolved and rule.muted
    assert (
        client.post(url("alert_snooze", project, alert_id=rule.pk), {"action": "forever"}).status_code == 400
    )
    assert client.get(url("alert_new", project) + "?insight=abc").status_code == 400
    client.post(url("alert_delete", project, alert_id=rule.pk))
    assert not AlertRule.objects.filter(pk=rule.pk).exists()
    actions = set(AuditEntry.objects.filter(project=project).values_list("action", flat=True))
    assert {"alert.snooze", "alert.mute", "alert.delete"} <= actions


def test_the_bell_counts_unread_notifications_in_one_query_and_reading_clears_it(
    client, alice, project, rules, django_assert_num_queries
):
    firing = rules[2]
    Notification.objects.create(
        firing=firing, channel=f"inapp:{alice.pk}", user=alice, status="sent", text="x"
    )
    client.force_login(alice)
    page = client.get(url("alerts", project)).content.decode()
    assert 'class="count" aria-label="1 unread">1<' in page
    from alerts.context_processors import Bell

    with django_assert_num_queries(1):
        assert Bell(alice, project).unread == 1
    listing = client.get(url("notifications", project)).content.decode()
    assert "Signups drop" in listing
    client.post(url("notifications", project))
    assert 'class="count"' not in client.get(url("alerts", project)).content.decode()


def test_the_form_refuses_hourly_rules_on_weekly_active_series_and_needs_the_detectors_fields(project):
    from alerts.forms import AlertForm

    spec = {"kind": "TrendsQuery", "series": [{"event": "open", "math": "weekly_active"}], "interval": "day"}
    wau = Insight(project=project, name="WAU", kind="TrendsQuery", spec=spec)
    base = {
        "name": "x",
        "series_index": 0,
        "detector": "seasonal",
        "direction": "both",
        "cooldown_minutes": 60,
    }
    form = AlertForm(
        {**base, "interval": "hour", "weeks": 4, "k": 3, "min_history": 2}, project=project, insight=wau
    )
    assert not form.is_valid() and "Daily" in form.errors["interval"][0]
    form = AlertForm({**base, "interval": "day"}, project=project, insight=wau)
    assert not form.is_valid() and set(form.errors) == {"weeks", "k", "min_history"}


def test_alert_me_on_a_funnel_is_daily_and_ingestion_rules_cannot_pick_an_insight_metric(
    client, alice, project, events
):
    day = NOW - dt.timedelta(days=3)
    for i in range(6):
        events.add("view", f"f{i}", day)
        if i < 3:
            events.add("buy", f"f{i}", day + dt.timedelta(minutes=3))
    events.flush()
    spec = {
        "kind": "FunnelsQuery",
        "steps": [{"event": "view"}, {"event": "buy"}],
        "window": {"value": 1, "unit": "hour"},
    }
    funnel = Insight.objects.create(project=project, name="Checkout", kind="FunnelsQuery", spec=spec)
    client.force_login(alice)
    page = client.get(url("alert_new", project) + f"?insight={funnel.pk}")
    body = page.content.decode()
    assert page.status_code == 200 and "Overall conversion" in body and "data-alert-figure" in body
    assert 'value="hour"' not in body
    page = client.post(url("alert_new", project), {"name": "x", "metric": "insight", "action": "backtest"})
    assert page.status_code == 400 and "Select a valid choice" in page.content.decode()
