"""The quarantine page in headless Chromium: an admin follows the count on the plan page,
reads a group's examples, releases it after the confirm dialog and sees it done; support
sees the same groups masked and no buttons. Looked at 1280 and 390 px (no sideways
scrolling). ``SEXTANT_SCREENSHOT_DIR=/tmp/shots`` keeps the screenshots."""

from __future__ import annotations

import re

import pytest

from governance import enforcement, plan_views, tasks
from governance.models import PlanSettings
from governance.roles import Role
from tests.dashboards.test_every_kind_browser import shoot
from tests.ingestion.conftest import count_events, event, send
from tests.paths.test_paths_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_release_a_group_from_the_page(app_live_server, page, client, alice, make_user, project, monkeypatch):
    PlanSettings.objects.create(project=project, enforcement="quarantine")
    enforcement.clear_cache()
    batch = [
        event("newsletter_signup", f"person{i}@example.com", email=f"person{i}@example.com", source="footer")
        for i in range(4)
    ] + [event("checkout", "user-9", amount=12) for _ in range(2)]
    assert send(client, "/batch/", {"api_key": project.api_token, "batch": batch}).status_code == 200
    assert count_events(project.pk) == 0
    monkeypatch.setattr(plan_views.quarantine_action, "delay", lambda pk: tasks.quarantine_action(pk))

    base = app_live_server.url
    login(page, client, alice, base)
    page.goto(f"{base}/project/{project.pk}/plan/")
    assert page.locator("#quarantine-link .quarantine-count").inner_text() == "6"
    page.locator("#quarantine-link").click()
    page.wait_for_url(re.compile(r"/plan/quarantine/$"))
    rows = page.locator("tr.quarantine-group")
    assert rows.count() == 2
    assert rows.first.get_attribute("data-event") == "newsletter_signup"
    assert rows.first.locator(".quarantine-count").inner_text() == "4"
    page.locator("tr.quarantine-examples summary").first.click()
    assert "person" in page.locator("pre.payload").first.inner_text()
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        shoot(page, f"plan-quarantine-{width}")
        assert page.evaluate("document.documentElement.scrollWidth") == width
    page.set_viewport_size({"width": 1280, "height": 900})

    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    rows.first.get_by_role("button", name="Release").click()
    page.wait_for_selector("tr[data-kind=release][data-status=done]")
    assert asked == ["Store these 4 events into events?"]
    assert "Release of 4 newsletter_signup events started." in page.locator(".messages").inner_text()
    assert count_events(project.pk, "newsletter_signup") == 4
    assert page.locator("tr.quarantine-group").count() == 1
    assert page.locator("tr[data-kind=release] .action-progress").inner_text() == "4/4"
    shoot(page, "plan-quarantine-released-1280")

    support = make_user("support@example.com")
    project.memberships.create(user=support, role=Role.SUPPORT)
    page.context.clear_cookies()
    login(page, client, support, base)
    page.goto(f"{base}/project/{project.pk}/plan/quarantine/")
    assert page.locator("tr.quarantine-group").count() == 1
    assert page.get_by_role("button", name="Release").count() == 0
    page.set_viewport_size({"width": 390, "height": 900})
    page.locator("tr.quarantine-examples summary").first.click()
    shoot(page, "plan-quarantine-support-390")
    assert page.evaluate("document.documentElement.scrollWidth") == 390
    assert page.page_errors == []
    errors = [m for m in page.console_messages if m.type == "error" and "favicon" not in m.location["url"]]
    assert [m.text for m in errors] == []
