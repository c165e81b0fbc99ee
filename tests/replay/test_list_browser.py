"""The recordings list in headless Chromium: filter with htmx, the URL keeps the
filters, sort by a column, open the player."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.conf import settings

from tests.clock import at_test_time

from .test_list import session_events
from .test_summary import send

NOW = at_test_time(lambda now: now)


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_filter_sort_and_open_a_recording(live_server, page, client, alice, project):
    specs = [("calm", 2, 60, 0), ("broken", 3, 200, 2), ("short", 1, 10, 1)]
    for name, hours, seconds, errors in specs:
        events = session_events(
            NOW - dt.timedelta(hours=hours),
            seconds=seconds,
            clicks=2,
            errors=errors,
            rage=False,
            url=f"https://shop.test/{name}",
        )
        send(project, name, [(uuid.uuid4(), events)], distinct_id=f"user-{name}")
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
    page.goto(f"{live_server.url}/project/{project.pk}/replay/")
    rows = page.locator("#results tr[data-session]")
    assert [rows.nth(i).get_attribute("data-session") for i in range(rows.count())] == [
        "short",
        "calm",
        "broken",
    ]

    page.locator("input[name=has_errors]").check()
    page.get_by_role("button", name="Apply").click()
    page.wait_for_function("() => document.querySelectorAll('#results tr[data-session]').length === 2")
    assert "has_errors=true" in page.url  # the URL is the filter state, shareable

    page.locator("#results th a", has_text="Duration").click()
    page.wait_for_function(
        "() => document.querySelector('#results tr[data-session]').dataset.session === 'broken'"
    )
    assert "order=-duration" in page.url and "has_errors=true" in page.url

    page.reload()  # a shared link shows the same list
    assert page.locator("#results tr[data-session]").first.get_attribute("data-session") == "broken"
    assert page.locator("input[name=has_errors]").is_checked()
    assert (
        page.locator("#results tr[data-session]")
        .first.get_by_role("link", name="Watch ▶")
        .get_attribute("href")
        == f"/project/{project.pk}/replay/broken"
    )
    assert not page.page_errors
