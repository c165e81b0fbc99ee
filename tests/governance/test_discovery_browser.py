"""Discovery end to end in headless Chromium: the overview loads the drift counts, the
discovered page shows the flags and an event's properties, and "Add to plan" defines the
event. Looked at 1280 and 390 px wide (no sideways scrolling).

``SEXTANT_SCREENSHOT_DIR=/tmp/shots`` keeps the screenshots."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.utils import timezone

from governance.models import EventDefinition, PlanSettings, PropertyDefinition
from tests.dashboards.test_every_kind_browser import shoot
from tests.paths.test_paths_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_overview_counts_then_add_a_discovered_event_to_the_plan(
    app_live_server, page, client, alice, project, events
):
    now = timezone.now()
    PlanSettings.objects.create(project=project, naming="snake_case")
    signed_up = EventDefinition.objects.create(project=project, name="signed_up", status="live")
    PropertyDefinition.objects.create(project=project, event=signed_up, name="plan", type="string")
    events.add("signed_up", "u1", now - dt.timedelta(days=2), {"plan": "free", "$browser": "Chrome"})
    events.add("signed_up", "u2", now - dt.timedelta(days=1), {"plan": 2, "coupon": "X1"})
    events.add("Order Paid", "u1", now, {"amount": 9.5, "items": [1, 2]})
    events.add("$pageview", "u1", now, {"$current_url": "https://shop.test/a-rather-long-path/with/segments"})
    events.flush()
    base = app_live_server.url
    login(page, client, alice, base)

    page.goto(f"{base}/project/{project.pk}/")
    page.wait_for_selector("#drift .drift-unplanned-events")
    assert (
        page.locator("#drift").inner_text().startswith("1 unplanned event, 1 type change in the last 30 days")
    )
    page.locator("#drift a").first.click()
    page.wait_for_url(re.compile(r"/plan/discovered/$"))

    order = page.locator("tr.discovered-event[data-event='Order Paid']")
    assert "unplanned" in order.inner_text() and "breaks convention" in order.inner_text()
    assert "type drift" in page.locator("tr.discovered-event[data-event='signed_up']").inner_text()
    page.locator("tr.discovered-properties-row[data-event='signed_up'] summary").click()
    plan_row = page.locator(
        "tr.discovered-properties-row[data-event='signed_up'] tr.discovered-property[data-key='plan']"
    )
    assert plan_row.locator(".observed-types").inner_text() == "number, string"
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        shoot(page, f"plan-discovered-{width}")
        assert page.evaluate("document.documentElement.scrollWidth") == width
    page.set_viewport_size({"width": 1280, "height": 900})

    order.get_by_role("button", name="Add to plan").click()
    page.wait_for_url(re.compile(r"/plan/discovered/$"))
    assert "Event Order Paid added to the plan" in page.locator(".messages").inner_text()
    event = EventDefinition.objects.get(project=project, name="Order Paid")
    assert sorted(event.properties.values_list("name", "type")) == [("amount", "number"), ("items", "array")]
    assert "Live" in page.locator("tr.discovered-event[data-event='Order Paid']").inner_text()
    assert page.page_errors == []
    errors = [m for m in page.console_messages if m.type == "error" and "favicon" not in m.location["url"]]
    assert [m.text for m in errors] == []
