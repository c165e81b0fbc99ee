"""Every page under the Content-Security-Policy in headless Chromium: no violation reported,
on load and after the interactions that swap content in (builder forms, drill-downs, the
persons search, the snippet tabs, lazy secondary views), and the behaviours that moved from
inline handlers to static/js/ui.js still work (project switcher, confirm, range output,
drill-down reveal, tabs)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from analytics_app.models import Membership, Project
from governance.roles import Role
from tests.paths.test_paths_browser import login
from tests.replay.test_list import session_events
from tests.replay.test_summary import send as send_recording

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LISTEN = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', function (e) {
  window.__csp.push(e.violatedDirective + ' blocked ' + e.blockedURI + ' ' + (e.sample || ''));
});
"""


def until(page, expression: str, timeout_s: float = 10.0) -> None:
    """Poll `expression` with evaluate (wait_for_function would need eval in the page)."""
    for _ in range(int(timeout_s / 0.05)):
        if page.evaluate(expression):
            return
        page.wait_for_timeout(50)
    raise AssertionError(f"never true: {expression}")


def violations(page) -> list[str]:
    seen = page.evaluate("window.__csp || []")
    logged = [m.text for m in page.console_messages if "Content Security Policy" in m.text]
    return seen + logged


@pytest.fixture
def seeded(project, events, alice, make_user):
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=2)
    url = "https://shop.example.com/pricing"
    for i, did in enumerate(("u1", "u2", "u3")):
        t = now - dt.timedelta(days=i)
        events.add("$pageview", did, t, {"$current_url": url, "$pathname": "/pricing"})
        events.add("signup", did, t + dt.timedelta(minutes=1), {"$current_url": url, "plan": "pro"})
        events.add("purchase", did, t + dt.timedelta(minutes=2), {"$pathname": "/done"})
    events.flush()
    session_id = str(uuid.uuid4())
    send_recording(
        project,
        session_id,
        [(uuid.uuid4(), session_events(now, seconds=30, clicks=2, errors=0, rage=False, url=url))],
        "u1",
    )
    events.add("$pageview", "u1", now, {"$current_url": url, "$session_id": session_id})
    events.flush()
    Membership.objects.create(user=make_user("sam@example.com"), project=project, role=Role.SUPPORT)
    other = Project.objects.create(name="Second shop")
    Membership.objects.create(user=alice, project=other, role=Role.ADMIN)
    return session_id, other


def test_no_page_violates_the_policy(app_live_server, page, client, alice, project, seeded):
    session_id, other = seeded
    base, pk = app_live_server.url, project.pk
    page.add_init_script(LISTEN)
    login(page, client, alice, base)
    pages = [
        "/",
        f"/project/{pk}/",
        f"/project/{pk}/settings/",
        f"/project/{pk}/events/",
        f"/project/{pk}/persons/",
        f"/project/{pk}/insights/trends/?series_event=signup&series_math=total&date_from=-7d",
        f"/project/{pk}/funnels/?step_event=%24pageview&step_event=signup&step_event=purchase&date_from=-7d",
        f"/project/{pk}/retention/?period=day&date_from=-6d&target_event=%24pageview&total_intervals=7",
        f"/project/{pk}/paths/?date_from=-7d",
        f"/project/{pk}/insights/saved/",
        f"/project/{pk}/dashboards/",
        f"/project/{pk}/cohorts/",
        f"/project/{pk}/members/",
        f"/project/{pk}/replay/?date_from=-30d",
        f"/project/{pk}/replay/{session_id}",
        f"/project/{pk}/ingestion/warnings/",
        f"/project/{pk}/audit/",
        "/account/",
        "/account/api-keys/",
        "/account/password/",
        "/account/two-factor/",
    ]
    found = {}
    for path in pages:
        response = page.goto(base + path)
        assert response.status == 200, path
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        page.wait_for_load_state("networkidle")
        if v := violations(page):
            found[path] = v
    assert found == {}

    # interactions that swap content in or used inline handlers
    page.goto(
        f"{base}/project/{pk}/retention/?period=day&date_from=-6d&target_event=%24pageview&total_intervals=7"
    )
    page.locator("table.retention-matrix a.cell").first.click()
    page.wait_for_selector("#drilldown table.retention-persons")  # visible: data-reveal un-hid it

    page.goto(f"{base}/project/{pk}/paths/?date_from=-7d")
    page.locator("input[name=step_limit]").fill("3")
    until(page, "document.getElementById('depth-out').value === '3'")

    page.goto(f"{base}/project/{pk}/persons/")
    page.locator("input[name=search]").fill("u1")
    page.wait_for_load_state("networkidle")

    page.goto(f"{base}/project/{pk}/")
    tab = page.locator("[data-tabs] [data-tab=python]")
    if tab.count():
        tab.click()
        assert page.locator("[data-panel=python]").is_visible()

    page.goto(f"{base}/project/{pk}/settings/")
    page.once("dialog", lambda dialog: dialog.dismiss())  # the confirm() of "Rotate token"
    token = page.locator("#project-token").inner_text()
    page.get_by_role("button", name="Rotate token").click()
    page.wait_for_load_state("networkidle")
    assert page.locator("#project-token").inner_text() == token  # dismissed: not rotated

    page.select_option("#project-switcher", str(other.pk))  # submits on change
    page.wait_for_url(f"**/project/{other.pk}/")
    assert violations(page) == []
    assert not page.page_errors

    # the listener does hear a violation (so the empty lists above mean something)
    page.evaluate(
        "() => { const i = new Image(); i.src = 'https://blocked.example/x.png'; document.body.append(i); }"
    )
    until(page, "window.__csp.length > 0")
    assert "img-src" in violations(page)[0]
