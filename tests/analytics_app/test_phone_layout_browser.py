"""On a 390 px phone, no page of the app scrolls sideways: wide tables scroll in their
own box, long values (times with their zone, uuids, distinct ids) wrap, and a select
with long option texts stays inside its card. Found by QA on the demo at 390 px: the
overview, events list, event page, person page, funnels, members, recordings and
ingestion warnings pages were 396-629 px wide.
At 1280 px the recordings list was 1,310 px wide (a visually-hidden header outside its
table's scroll box) and the player's side cards stuck out of the page's right margin.

``SEXTANT_SCREENSHOT_DIR=/tmp/shots`` keeps a full-page screenshot of each page.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from analytics_app.models import Membership
from governance.roles import Role
from tests.dashboards.test_every_kind_browser import shoot
from tests.explorer.conftest import insert_person
from tests.ingestion.conftest import event, send
from tests.paths.test_paths_browser import login
from tests.replay.test_list import session_events
from tests.replay.test_summary import send as send_recording

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = 390


def test_no_page_scrolls_sideways_on_a_phone(
    app_live_server, page, client, alice, make_user, project, events
):
    project.time_zone = "Europe/Berlin"  # the longest labels: "2026-12-02T14:06:55.536157+01:00"
    project.save(update_fields=["time_zone"])
    for i in range(3):  # a members table with several rows and role forms
        Membership.objects.create(
            user=make_user(f"member-{i}@example.com"), project=project, role=Role.SUPPORT
        )
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    anon = str(uuid.uuid4())  # an anonymous distinct id as long as posthog-js's
    event_uuid = str(uuid.uuid4())
    url = "https://shop.example.com/products/a-rather-long-product-slug?utm_source=newsletter"
    events.add("$pageview", anon, now, {"$current_url": url, "$browser": "Chrome"}, uuid=event_uuid)
    events.merge(anon, "user-1")
    events.add("$identify", "user-1", now, {"$anon_distinct_id": anon, "$set": {"email": "ann@example.com"}})
    events.add("purchase", "user-1", now + dt.timedelta(minutes=1), {"$current_url": url})
    events.flush()
    person = events.person_for("user-1")
    insert_person(project.pk, person, {"email": "ann@example.com", "name": "Ann"}, created_at=now)
    bad = event("late_signup", "user-1", plan="pro")  # kept, with a warning that has a long detail
    bad["timestamp"] = "not-a-time"
    assert send(client, "/e/", {"api_key": project.api_token, "batch": [bad]}).status_code == 200
    # a recordings table wider than the phone: its visually-hidden "Player" header must not
    # widen the page (an absolutely placed span outside the table's scroll box did, at 1280 px too)
    recording = session_events(now, seconds=90, clicks=3, errors=1, rage=False, url=url)
    session_id = str(uuid.uuid4())
    send_recording(project, session_id, [(uuid.uuid4(), recording)], distinct_id="user-1")
    events.add("$pageview", "user-1", now, {"$current_url": url, "$session_id": session_id})
    events.flush()

    base = app_live_server.url
    login(page, client, alice, base)
    page.set_viewport_size({"width": PHONE, "height": 900})
    pages = {
        "overview": f"/project/{project.pk}/",
        "events": f"/project/{project.pk}/events/",
        "event": f"/project/{project.pk}/events/{event_uuid}/",
        "person": f"/project/{project.pk}/persons/{person}/",
        "funnels": f"/project/{project.pk}/funnels/?step_event=%24pageview&step_event=purchase",
        "members": f"/project/{project.pk}/members/",
        "recordings": f"/project/{project.pk}/replay/?date_from=-30d",
        "api-keys": "/account/api-keys/",
        "ingestion-warnings": f"/project/{project.pk}/ingestion/warnings/",
    }
    widths, tab_rows = {}, {}
    for name, path in pages.items():
        response = page.goto(base + path)
        assert response.status == 200, name
        page.wait_for_load_state("networkidle")
        shoot(page, f"phone-{name}")
        widths[name] = page.evaluate("document.documentElement.scrollWidth")
        tab_rows[name] = page.evaluate(
            "(document.querySelector('.sidebar') || {getBoundingClientRect: () => ({height: 0})})"
            ".getBoundingClientRect().height"
        )
    assert widths == dict.fromkeys(pages, PHONE)
    # the section tabs are one row of one-line tabs, however short the page (a short page
    # such as a 403 stretched the tab row to 280 px of white)
    assert {name: h for name, h in tab_rows.items() if h > 60} == {}

    # the player's side column (person, events with their URLs) stays in its column at 1280 px
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/project/{project.pk}/replay/{session_id}")
    page.wait_for_load_state("networkidle")
    shoot(page, "desktop-player")
    overhang = page.evaluate(
        """() => { const main = document.querySelector('main.content');
          const inner = main.getBoundingClientRect().right - parseFloat(getComputedStyle(main).paddingRight);
          return Math.max(...[...document.querySelectorAll('.rp-side .card')].map(
            c => Math.round(c.getBoundingClientRect().right - inner))); }"""
    )
    assert overhang <= 0
    assert not page.page_errors
