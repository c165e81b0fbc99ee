"""Act on any number in headless Chromium: open the persons who converted at a funnel
step, save them as a cohort from the drill-down, land on the cohort page with exactly
those persons. Screenshots at 1280 and 390 px (var/shots/)."""

from __future__ import annotations

import datetime as dt
import json
import pathlib
from urllib.parse import quote

import pytest
from django.conf import settings

from cohorts.models import Cohort
from cohorts.queries import cohort_members
from tests.clock import at_test_time

NOW = at_test_time(lambda now: now)
SHOTS = pathlib.Path(settings.BASE_DIR) / "var" / "shots"
SPEC = {"kind": "FunnelsQuery", "date_from": "-7d", "steps": [{"event": "signup"}, {"event": "pay"}]}


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("width", [1280, 390])
def test_save_a_funnel_steps_people_as_a_cohort(live_server, page, client, alice, project, events, width):
    paid = {f"p{i}" for i in range(0, 30, 3)}
    for i in range(30):
        events.add("signup", f"p{i}", NOW - dt.timedelta(hours=3), {"email": f"p{i}@example.com"})
        if f"p{i}" in paid:
            events.add("pay", f"p{i}", NOW - dt.timedelta(hours=2))
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
    page.set_viewport_size({"width": width, "height": 900})
    page.goto(f"{live_server.url}/project/{project.pk}/funnels/?q={quote(json.dumps(SPEC))}")
    page.wait_for_selector("table.funnel-steps tbody tr:nth-child(2)")
    page.locator("table.funnel-steps tbody tr").nth(1).locator("a[data-drill=converted]").click()
    page.wait_for_selector("#drilldown form.people-cohort")
    assert "10 converted at step 2" in page.locator("#drilldown").inner_text()
    name = page.locator("#drilldown form.people-cohort input[name=name]")
    assert name.input_value() == "Funnel converted at step 2 (pay)"
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.locator("#drilldown").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / f"people-actions-{width}.png"), full_page=True)
    page.locator("#drilldown").screenshot(path=str(SHOTS / f"people-actions-drill-{width}.png"))
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"page overflows by {overflow}px at {width}"
    name.fill("Payers")
    page.locator("#drilldown [data-save-cohort]").click()
    page.wait_for_url("**/cohorts/*/")
    cohort = Cohort.objects.get(project=project, name="Payers")
    assert "Payers" in page.locator("h1").inner_text()
    page.screenshot(path=str(SHOTS / f"people-cohort-{width}.png"), full_page=True)
    size, rows = cohort_members(project, cohort, limit=1000)
    assert {r["person_id"] for r in rows} == {str(events.person_for(p)) for p in paid} and size == 10
    assert not page.page_errors


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_watch_a_steps_recordings_and_export_the_result(live_server, page, client, alice, project, events):
    for i in range(4):
        events.add("signup", f"w{i}", NOW - dt.timedelta(hours=3))
    events.add("pay", "w0", NOW - dt.timedelta(hours=2))
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
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{live_server.url}/project/{project.pk}/funnels/?q={quote(json.dumps(SPEC))}")
    page.wait_for_selector("table.funnel-steps tbody tr:nth-child(2)")
    with page.expect_download() as download:
        page.locator('[data-export-result="csv"]').click()
    text = pathlib.Path(download.value.path()).read_text()
    assert text.splitlines()[1].split(",")[:4] == ["", "1", "signup", "4"]
    page.locator("table.funnel-steps tbody tr").nth(1).locator("a[data-drill=dropped]").click()
    page.wait_for_selector("#drilldown [data-watch-recordings]")
    page.locator("#drilldown [data-watch-recordings]").click()
    page.wait_for_selector(".people-filter")
    assert "Funnel dropped before step 2 (pay)" in page.locator(".people-filter").inner_text()
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "people-recordings-1280.png"), full_page=True)
    assert not page.page_errors
