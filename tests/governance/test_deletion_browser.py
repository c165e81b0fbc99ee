"""The deletion page in Chromium at 1280 and 390 px: find, confirm, and the request list
following the task's progress by itself (htmx polling, no script of the page's own).

``SEXTANT_SCREENSHOT_DIR=/tmp/shots`` keeps a full-page screenshot of each step."""

from __future__ import annotations

import datetime as dt

import pytest

from governance import tasks
from governance.models import DeletionRequest
from tests.conftest import EventBuilder
from tests.dashboards.test_every_kind_browser import shoot
from tests.paths.test_paths_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_find_confirm_and_watch_the_request_finish(app_live_server, page, client, alice, project):
    now = dt.datetime.now(dt.UTC)
    b = EventBuilder(project.id)
    b.merge("anon-browser", into="someone@example.com")
    for i in range(5):
        b.add("$pageview", "anon-browser" if i < 2 else "someone@example.com", now - dt.timedelta(hours=i))
    b.add("$pageview", "somebody-else", now)
    b.flush()

    base = app_live_server.url
    login(page, client, alice, base)
    url = f"{base}/project/{project.pk}/deletions/"
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        assert page.goto(url).status == 200
        page.select_option("select[name=kind]", "distinct_id")
        page.fill("input[name=identifier]", "someone@example.com")
        page.click("#find-person button[type=submit]")
        page.wait_for_selector("#confirm-deletion")
        assert page.inner_text("[data-count=events]") == "5"
        assert page.inner_text("[data-count=distinct_ids]") == "2"
        shoot(page, f"deletion-confirm-{width}")
        assert page.evaluate("document.documentElement.scrollWidth") == width

    page.click("#confirm-deletion button.danger")
    page.wait_for_selector("tr[data-status=pending]")
    shoot(page, "deletion-pending-390")
    req = DeletionRequest.objects.get(project=project)
    tasks.erase_person(req.pk, "someone@example.com")
    page.wait_for_selector("tr[data-status=done]", timeout=10_000)  # the list polled itself
    shoot(page, "deletion-done-390")
    assert not page.page_errors
