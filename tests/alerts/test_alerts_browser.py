"""The alert pages in headless Chromium: the alert page's band chart (drawn by static JS
under the real CSP), root cause and history; the "Alert me" form with its backtest.
Screenshots at 1280 and 390 px go to $SEXTANT_SCREENSHOTS (default /tmp)."""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.conf import settings

from alerts.evaluate import evaluate
from alerts.models import AlertRule
from dashboards.models import Insight
from tests.clock import at_test_time

NOW = at_test_time(lambda now: now.replace(minute=0, second=0, microsecond=0))
SHOTS = os.environ.get("SEXTANT_SCREENSHOTS", "/tmp")


def _login(page, client, user, live_server):
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_alert_page_and_the_alert_me_backtest(live_server, page, client, alice, project, events):
    last = NOW - dt.timedelta(hours=1)
    for h in range(1, 24 * 30):
        moment = NOW - dt.timedelta(hours=h)
        for browser, n in (("Chrome", 5), ("Firefox", 8)):
            count = n + (2 if 9 <= moment.hour <= 18 else 0) + moment.day % 2
            if moment == last and browser == "Firefox":
                count = 0
            for k in range(count):
                events.add(
                    "signup", f"{browser}{h}-{k}", moment + dt.timedelta(minutes=k), {"$browser": browser}
                )
    events.flush()
    spec = {"kind": "TrendsQuery", "series": [{"event": "signup", "math": "total"}], "date_from": "-7d"}
    insight = Insight.objects.create(project=project, name="Signups", kind="TrendsQuery", spec=spec)
    rule = AlertRule.objects.create(
        project=project,
        name="Signups per hour",
        insight=insight,
        params={"min_history": 2, "min_abs_change": 2},
        channels=[{"type": "inapp"}],
    )
    [event] = evaluate(rule, NOW + dt.timedelta(minutes=5))
    assert event.state_to == "firing" and event.root_cause[0]["value"] == "Firefox"

    _login(page, client, alice, live_server)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/project/{project.pk}/alerts/{rule.pk}/")
        page.wait_for_selector("[data-alert-figure] .plot .main-svg")  # plotly drew the band chart
        assert "Firefox" in page.locator("table").first.inner_text()
        page.screenshot(path=f"{SHOTS}/alert-page-{width}.png", full_page=True)
        page.goto(f"{live_server.url}/project/{project.pk}/alerts/")
        page.wait_for_selector("table.alert-rules")
        assert page.locator(".bell .count").inner_text() == "1"
        page.screenshot(path=f"{SHOTS}/alerts-list-{width}.png", full_page=True)
        page.goto(f"{live_server.url}/project/{project.pk}/alerts/new/?insight={insight.pk}")
        page.wait_for_selector(".backtest [data-alert-figure] .plot .main-svg")
        page.screenshot(path=f"{SHOTS}/alert-form-{width}.png", full_page=True)
    page.select_option("select[name=detector]", "threshold")
    page.fill("input[name=threshold]", "5")
    page.select_option("select[name=op]", "below")
    page.click("button[value=backtest]")
    page.wait_for_selector(".backtest [data-alert-figure] .plot .main-svg")
    assert "would have fired" in page.locator(".backtest").inner_text()
    assert not page.page_errors


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_the_alert_page_of_a_funnel_rule_shows_conversion_causes_with_links(
    live_server, page, client, alice, project, events
):
    from tests.alerts.test_rootcause import _write_funnel

    # A recent even day of the month, as test_rootcause judges (2026-06-24): the data
    # alternate with the day's parity, and on an odd day the drop stays inside the band.
    judged = NOW.replace(hour=10) - dt.timedelta(days=1)
    while judged.day % 2:  # (the 1st follows an odd 31st)
        judged -= dt.timedelta(days=1)
    _write_funnel(events, judged)
    spec = {
        "kind": "FunnelsQuery",
        "steps": [{"event": "view"}, {"event": "cart"}, {"event": "buy"}],
        "window": {"value": 1, "unit": "hour"},
    }
    funnel = Insight.objects.create(project=project, name="Checkout", kind="FunnelsQuery", spec=spec)
    rule = AlertRule.objects.create(
        project=project, name="Checkout conversion", insight=funnel, interval="day", channels=[]
    )
    [event] = evaluate(rule, judged.replace(hour=0) + dt.timedelta(days=1, hours=2))
    assert event.state_to == "firing" and event.root_cause[0]["value"] == "Firefox"

    _login(page, client, alice, live_server)
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.goto(f"{live_server.url}/project/{project.pk}/alerts/{rule.pk}/")
        page.wait_for_selector("[data-alert-figure] .plot .main-svg")
        causes = page.locator("section.card table").first
        assert "Firefox" in causes.inner_text() and "% → 0.0%" in causes.inner_text()
        page.screenshot(path=f"{SHOTS}/alert-funnel-{width}.png", full_page=True)
    link = page.locator("section.card table a", has_text="Firefox")
    assert f"/project/{project.pk}/" in link.get_attribute("href")
    link.click()
    page.wait_for_load_state()
    assert "Firefox" in page.content()  # the funnel builder, filtered to the value
    assert not page.page_errors
