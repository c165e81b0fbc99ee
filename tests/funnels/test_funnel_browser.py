"""The funnel builder in headless Chromium: build a 3-step funnel by clicking, see the
bars and the secondary views it loads after them, open the persons who dropped off at step 2."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from tests.clock import at_test_time

NOW = at_test_time(lambda now: now)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_build_a_three_step_funnel_and_open_dropped_persons(
    live_server, page, client, alice, project, events
):
    for person in ("p1", "p2", "p3"):
        events.add("signup", person, NOW - dt.timedelta(hours=3))
    events.add("pay", "p1", NOW - dt.timedelta(hours=2)).add("watch", "p1", NOW - dt.timedelta(hours=1))
    events.add("pay", "p2", NOW - dt.timedelta(hours=2))
    events.flush()
    client.force_login(alice)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )
    page.goto(f"{live_server.url}/project/{project.pk}/funnels/")
    steps = page.locator("#step-rows input[name=step_event]")
    steps.nth(0).fill("signup")
    steps.nth(1).fill("pay")
    page.get_by_role("button", name="+ Add step").click()
    steps.nth(2).fill("watch")
    page.get_by_role("button", name="Update").click()
    page.wait_for_selector("table.funnel-steps tbody tr:nth-child(3)")
    rows = page.locator("table.funnel-steps tbody tr")
    assert rows.count() == 3
    assert "watch" in rows.nth(2).inner_text()
    page.wait_for_selector("#result .funnel-chart .plot .main-svg")
    assert "step_event=watch" in page.url  # the URL is the builder state
    # The secondary views load after the steps and draw their charts.
    page.wait_for_selector("#time-to-convert .funnel-chart .plot .main-svg")
    page.wait_for_selector("#conversion-trend .funnel-chart .plot .main-svg")
    assert "1 converted" in page.locator("#time-to-convert").inner_text()
    rows.nth(1).locator("a[data-drill=dropped]").click()
    page.wait_for_selector("#drilldown table.funnel-actors")
    assert "1 dropped off before step 2" in page.locator("#drilldown").inner_text()
    assert not page.page_errors
