"""Funnel correlation in headless Chromium: open a funnel, scroll to the correlation
section (it loads then), see the planted event on top, open the persons who converted
after doing it, switch to a person property; the page fits 1280 and 390 px.
``SEXTANT_SCREENSHOT_DIR=/tmp/shots`` keeps full-page screenshots."""

from __future__ import annotations

import datetime as dt
import json
import os
from pathlib import Path
from urllib.parse import quote

import pytest
from django.conf import settings

from analytics_app import clickhouse as ch
from tests.clock import at_test_time

NOW = at_test_time(lambda now: now)
SPEC = {"kind": "FunnelsQuery", "date_from": "-7d", "steps": [{"event": "signup"}, {"event": "pay"}]}


def shoot(page, name: str) -> None:
    folder = os.environ.get("SEXTANT_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=f"{folder}/{name}.png", full_page=True)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_correlation_section_loads_and_lists_converted_persons(
    live_server, page, client, alice, project, events
):
    t = NOW - dt.timedelta(hours=5)
    for i in range(8):
        events.add("signup", f"p{i}", t)
        if i < 4:
            events.add("viewed_pricing_faq", f"p{i}", t + dt.timedelta(minutes=1))
        if i in (0, 1, 2, 5):
            events.add("pay", f"p{i}", t + dt.timedelta(minutes=2))
        if i in (5, 6, 7):
            events.add("error_shown", f"p{i}", t + dt.timedelta(minutes=1))
    events.flush()
    ch.insert(
        "persons",
        {
            "project_id": [project.id] * 8,
            "id": [str(events.person_for(f"p{i}")) for i in range(8)],
            "created_at": [NOW] * 8,
            "properties": [
                json.dumps({"email": f"person{i}@example.com", "plan": "pro" if i < 3 else "free"})
                for i in range(8)
            ],
            "version": [1] * 8,
        },
    )
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
    page.goto(f"{live_server.url}/project/{project.pk}/funnels/?q={quote(json.dumps(SPEC))}")
    page.wait_for_selector("table.funnel-steps tbody tr")
    # Not loaded with the first numbers: only once scrolled to.
    assert page.locator("#correlation").inner_text() == "Loading…"
    page.wait_for_selector("#conversion-trend .funnel-chart .plot .main-svg")
    page.locator("#correlation").scroll_into_view_if_needed()
    page.wait_for_selector("table[data-correlation-table=positive] tbody tr", timeout=60_000)
    top = page.locator("table[data-correlation-table=positive] tbody tr").first
    assert "viewed_pricing_faq" in top.inner_text()
    negative = page.locator("table[data-correlation-table=negative] tbody tr").first
    assert "error_shown" in negative.inner_text()
    top.locator("a[data-drill=converted]").click()
    page.wait_for_selector("#correlation-people table.correlation-people")
    names = sorted(page.locator("#correlation-people .person-name").all_inner_texts())
    assert names == ["person0@example.com", "person1@example.com", "person2@example.com"]
    assert page.locator("#correlation-people [data-save-cohort]").count() == 1
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        page.wait_for_function("(w) => document.documentElement.scrollWidth === w", arg=width)
        shoot(page, f"funnel-correlation-{width}")
    page.set_viewport_size({"width": 1280, "height": 900})
    # Properties: pick the person property "plan"
    page.locator("[data-correlation-tab=properties]").click()
    page.wait_for_selector("#correlation input[name=property]")
    page.locator("#correlation input[name=property]").fill("plan")
    page.locator("#correlation .correlation-form button[type=submit]").click()
    page.wait_for_selector("table[data-correlation-table] td.correlation-candidate")
    cells = page.locator("table[data-correlation-table] td.correlation-candidate").all_inner_texts()
    assert sorted(cells) == ["free", "pro"]
    shoot(page, "funnel-correlation-properties-1280")
    assert not page.page_errors
