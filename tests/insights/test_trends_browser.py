"""The trends builder in headless Chromium: the chart is drawn (static/js/figures.js) and a
click on a point opens the persons behind it (trends/static/trends/trends.js)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from tests.clock import at_test_time

NOW = at_test_time(lambda now: now)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_trends_chart_draws_and_a_point_click_opens_its_persons(
    live_server, page, client, alice, project, events
):
    # yesterday at noon (UTC, the project's zone): the second-to-last daily point, whatever
    # the time of day the test runs at
    noon = (NOW - dt.timedelta(days=1)).replace(hour=12, minute=0, second=0, microsecond=0)
    for person in ("p1", "p2", "p3"):
        events.add("signup", person, noon)
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
    page.goto(
        f"{live_server.url}/project/{project.pk}/insights/trends/?series_event=signup&series_math=total&date_from=-7d"
    )
    page.wait_for_selector("#result [data-trends-figure][data-drawn] .plot .main-svg")
    points = page.locator("#result .plot .scatterlayer .point")
    assert points.count() >= 2
    points.nth(points.count() - 2).click(force=True)
    page.wait_for_selector("#drilldown:not([hidden]) h3")
    assert "3 persons" in page.locator("#drilldown h3").inner_text()
    assert not page.page_errors
