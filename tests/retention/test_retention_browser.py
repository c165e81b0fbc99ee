"""The retention builder in headless Chromium: pick events, see the matrix and the
curve, switch to counts, open a cell's persons."""

from __future__ import annotations

import datetime as dt

import pytest
from django.conf import settings

from tests.clock import at_test_time

TODAY = at_test_time(lambda now: now.replace(hour=12, minute=0, second=0, microsecond=0))


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_build_a_daily_matrix_and_open_a_cell(live_server, page, client, alice, project, events):
    for did, days in (("p1", (5, 4, 2)), ("p2", (5, 3))):
        for ago in days:
            events.add("open", did, TODAY - dt.timedelta(days=ago))
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
        f"{live_server.url}/project/{project.pk}/retention/?period=day&date_from=-6d&target_event=open&total_intervals=7"
    )
    page.wait_for_selector("#result table.retention-matrix")
    page.wait_for_selector("[data-retention-figure] .plot .main-svg")  # plotly drew the mean curve
    page.select_option("select[name=show]", "count")
    page.wait_for_function("() => location.href.includes('show=count')")  # the URL is the builder state
    page.wait_for_selector("#result table.retention-matrix td[title*='of 2 persons']")
    first_row = page.locator("table.retention-matrix tbody tr").nth(1)
    assert first_row.locator("td").nth(1).inner_text() == "2", page.locator(
        "table.retention-matrix"
    ).inner_text()
    first_row.locator("a.cell").nth(1).click()  # day 1 of the first cohort: p1
    page.wait_for_selector("#drilldown table.retention-persons")
    assert "1 person" in page.locator("#drilldown").inner_text()
    assert not page.page_errors
