"""The paths page in headless Chromium: type a start point, see the Sankey, click a node
(plotly Sankey click -> the sessions behind it), open a session's recording at that moment.

The recorded session is a real posthog-js recording stored through the ingestion path
(tests/replay helpers); its page views are placed inside the recording, so the replay
link (`?at=<epoch ms>` of the node's first event) opens the player.

``SEXTANT_PATHS_SCREENSHOT=/tmp/paths.png`` saves a full-page screenshot of the result.
"""

from __future__ import annotations

import datetime as dt
import os

import pytest
from django.conf import settings

from tests.replay.test_snapshots_api import recent_events, record

URL = "https://shop.example.com"
pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def visit(events, person, session, pages, start: dt.datetime, step_ms: int = 400) -> list[dt.datetime]:
    times = [start + dt.timedelta(milliseconds=i * step_ms) for i in range(len(pages))]
    for page, ts in zip(pages, times, strict=True):
        events.add(
            "$pageview", person, ts, {"$current_url": URL + page, "$session_id": session}, session_id=session
        )
    return times


def login(page, client, user, base_url: str) -> None:
    client.force_login(user)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": base_url,
            }
        ]
    )


def test_pick_a_start_point_click_a_node_and_open_the_recording(
    app_live_server, page, client, alice, project, events
):
    recorded = recent_events()
    sid = record(project, recorded, distinct_id="visitor-1")
    start = dt.datetime.fromtimestamp(recorded[0]["timestamp"] / 1000, dt.UTC)
    times = visit(
        events, "visitor-1", sid, ["/", "/pricing", "/signup"], start + dt.timedelta(milliseconds=100)
    )
    visit(events, "u2", "s-two", ["/", "/pricing"], start - dt.timedelta(minutes=5))
    visit(events, "u3", "s-three", ["/", "/blog/hello"], start - dt.timedelta(minutes=9))
    visit(events, "u4", "s-four", ["/docs", "/pricing"], start - dt.timedelta(minutes=12))  # never at "/"
    events.flush()
    base = app_live_server.url
    login(page, client, alice, base)

    page.goto(f"{base}/project/{project.pk}/paths/")
    # The picker offers the frequent nodes (loaded after the page); type one and update.
    page.wait_for_selector('#path-nodes option[value="/"]', state="attached")
    assert page.locator('#path-nodes option[value="/"]').count() == 1
    page.locator("input[name=point]").fill("/")
    page.get_by_role("button", name="Update").click()
    page.wait_for_url("**point=%2F**")
    page.wait_for_selector("#result .paths-chart .plot .main-svg")
    page.wait_for_selector("#result g.sankey-node")
    labels = page.locator("#result g.sankey-node text.node-label").all_text_contents()
    assert "1. /" in labels and "2. /pricing" in labels and "2. /blog/hello" in labels
    assert not any("/docs" in label for label in labels)  # that session never started at "/"
    assert "3 sessions" in page.locator("#result .result-head").inner_text()
    # The top paths load after the Sankey.
    page.wait_for_selector("#top-paths table.top-paths")
    assert "/ → /pricing" in page.locator("#top-paths").inner_text()

    # Click the node "2. /pricing": the plotly click lists the sessions behind it.
    node = page.locator("#result g.sankey-node", has_text="2. /pricing").locator("rect.node-rect")
    node.click()
    page.wait_for_selector("#drilldown table.paths-sessions")
    drill = page.locator("#drilldown")
    assert "2. /pricing" in drill.locator("h3").inner_text() and "(2)" in drill.locator("h3").inner_text()
    assert drill.locator("table.paths-sessions tbody tr").count() == 2
    if os.environ.get("SEXTANT_PATHS_SCREENSHOT"):
        page.screenshot(path=os.environ["SEXTANT_PATHS_SCREENSHOT"], full_page=True)

    # The recording link points at the moment the session reached /pricing (epoch ms).
    link = drill.locator(f'a.replay-link[href*="/replay/{sid}"]')
    at_ms = int(times[1].timestamp() * 1000)
    assert link.get_attribute("href") == f"/project/{project.pk}/replay/{sid}?at={at_ms}"
    person = drill.locator(f'a[href="/project/{project.pk}/persons/{events.person_for("visitor-1")}/"]')
    assert person.count() == 1
    with page.expect_navigation() as navigation:
        link.click()
    assert navigation.value.status == 200
    assert page.url.endswith(f"/replay/{sid}?at={at_ms}")
    page.wait_for_selector("#replay-frame")
    assert not page.page_errors
