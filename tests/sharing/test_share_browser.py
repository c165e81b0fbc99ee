"""In headless Chromium: a dashboard filter picked with the property picker changes a tile;
a share link made through the Share panel opens in a fresh browser context (no cookies) and
draws the chart, PII masked; the embed page too; at 1280 and 390 px (every tile full width
on a phone). ``SEXTANT_SCREENSHOT_DIR=/tmp/shots`` keeps the screenshots."""

from __future__ import annotations

import datetime as dt

import pytest

from dashboards.models import Dashboard, DashboardTile, Insight, ShareLink
from tests.clock import at_test_time
from tests.dashboards.test_every_kind_browser import shoot
from tests.paths.test_paths_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = at_test_time(lambda now: now - dt.timedelta(hours=1))
PLANS = ["pro", "free", "pro", "pro", "free"]


def number(**extra) -> dict:
    return {
        "kind": "TrendsQuery",
        "series": [{"event": "signup", "math": "total"}],
        "date_from": "-7d",
        "display": "number",
        **extra,
    }


@pytest.fixture
def board(project, alice, events):
    for i, plan in enumerate(PLANS):
        events.add(
            "signup", f"p{i}", NOW - dt.timedelta(hours=i), {"plan": plan, "email": f"user{i}@example.com"}
        )
    events.flush()
    dashboard = Dashboard.objects.create(project=project, name="Growth", created_by=alice)
    total = Insight.objects.create(
        project=project, name="Signups", kind="TrendsQuery", spec=number(), created_by=alice
    )
    by_email = Insight.objects.create(
        project=project,
        name="Signups by e-mail",
        kind="TrendsQuery",
        spec=number(display="bar", breakdown={"property": "email", "type": "event", "limit": 10}),
        created_by=alice,
    )
    DashboardTile.objects.create(dashboard=dashboard, insight=total, order=0, width=1)
    DashboardTile.objects.create(dashboard=dashboard, insight=by_email, order=1, width=2, height="l")
    return dashboard, total, by_email


def stat(page) -> str:
    return page.locator(".tile .big-numbers .stat-value").first.inner_text().strip()


def test_dashboard_filter_through_the_picker_and_a_share_link_without_a_session(
    app_live_server, page, browser, client, alice, project, board
):
    dashboard, total, by_email = board
    base = app_live_server.url
    login(page, client, alice, base)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/project/{project.pk}/dashboards/{dashboard.pk}/")
    page.locator(".tile .big-numbers .stat-value").first.wait_for()
    assert stat(page) == "5"
    page.locator(".tile .plot .main-svg .barlayer").first.wait_for()

    # a dashboard filter through the property picker: plan = pro
    page.get_by_role("button", name="+ Add filter").click()
    key = page.locator("#filter-rows .filter-row input[name=filter_key]").last
    key.fill("pla")
    # the list narrowed to what was typed (a pick made before the typing's debounce fires
    # would have its value list dropped by the late name query: static/js/picker.js)
    page.wait_for_function(
        "() => { const m = document.querySelector('.picker-menu');"
        " return m && m.textContent.includes('plan') && !m.textContent.includes('email'); }"
    )
    page.locator(".picker-menu .picker-item", has_text="plan").click()
    page.locator(".picker-menu .picker-value", has_text="pro").click()
    page.wait_for_function(
        "() => { const s = document.querySelector('.tile .big-numbers .stat-value');"
        " return s && s.textContent.trim() === '3'; }"
    )
    assert "filter_key=plan" in page.url and "filter_value=pro" in page.url
    assert page.locator(".dash-saved .pill", has_text="Unsaved view").count() == 1
    page.locator(".tile .plot .main-svg .barlayer").first.wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= 1281
    shoot(page, "dashboard-filtered-1280")
    page.get_by_role("button", name="Save for everyone").click()
    page.wait_for_url(f"{base}/project/{project.pk}/dashboards/{dashboard.pk}/")
    dashboard.refresh_from_db()
    assert dashboard.filters == [{"key": "plan", "operator": "exact", "value": "pro", "type": "event"}]

    # phone: every tile full width
    page.set_viewport_size({"width": 390, "height": 900})
    page.reload()
    page.locator(".tile .big-numbers .stat-value").first.wait_for()
    grid = page.locator("#dashboard-grid").bounding_box()
    for box in [t.bounding_box() for t in page.locator("#dashboard-grid .tile").all()]:
        assert abs(box["width"] - grid["width"]) < 2
    assert page.evaluate("document.documentElement.scrollWidth") <= 391
    shoot(page, "dashboard-filtered-390")

    # share the dashboard through its Share panel
    page.set_viewport_size({"width": 1280, "height": 900})
    page.locator("details.share-box summary").click()
    page.get_by_role("button", name="Create link").click()
    page.locator("code[id^=share-url-]").first.wait_for()
    link_url = page.locator("code[id^=share-url-]").first.inner_text().strip()
    embed_snippet = page.locator("code[id^=share-embed-]").first.inner_text()
    assert link_url.startswith(base + "/shared/") and "<iframe src=" in embed_snippet
    shoot(page, "dashboard-share-panel-1280")
    assert ShareLink.objects.get(dashboard=dashboard).token in link_url

    # a fresh browser context: no cookies, no session
    stranger = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        anon = stranger.new_page()
        errors = []
        anon.on("pageerror", lambda e: errors.append(e))
        # a CSP refusal (an inline script or style the policy blocks) is a console error
        anon.on("console", lambda m: "Content Security Policy" in m.text and errors.append(m.text))
        anon.goto(link_url)
        anon.locator(".tile .plot .main-svg .barlayer").first.wait_for()
        assert anon.locator(".tile .big-numbers .stat-value").first.inner_text().strip() == "3"
        html = anon.content()
        assert "@example.com" not in html and "Log out" not in html
        assert anon.locator("nav").count() == 0
        assert stranger.cookies() == []
        shoot(anon, "shared-dashboard-1280")
        anon.set_viewport_size({"width": 390, "height": 900})
        anon.reload()
        anon.locator(".tile .plot .main-svg .barlayer").first.wait_for()
        assert anon.evaluate("document.documentElement.scrollWidth") <= 391
        shoot(anon, "shared-dashboard-390")
        embed_url = embed_snippet.split('src="', 1)[1].split('"', 1)[0]
        anon.set_viewport_size({"width": 1280, "height": 900})
        anon.goto(embed_url)
        anon.locator(".tile .plot .main-svg .barlayer").first.wait_for()
        shoot(anon, "embed-dashboard-1280")
        assert errors == []
    finally:
        stranger.close()

    # revoke in the panel: the link is dead
    page.once("dialog", lambda d: d.accept())
    page.get_by_role("button", name="Revoke").click()
    page.locator(".share-link .pill", has_text="Revoked").wait_for()
    stranger = browser.new_context()
    try:
        assert stranger.new_page().goto(link_url).status == 404
    finally:
        stranger.close()


def test_share_a_saved_insight_and_open_it_without_cookies(
    app_live_server, page, browser, client, alice, project, board
):
    _, _, by_email = board
    base = app_live_server.url
    login(page, client, alice, base)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{base}/project/{project.pk}/insights/saved/{by_email.pk}/")
    page.locator("details.share-box summary").click()
    page.locator("input[name=expires_at]").fill("2099-12-31T23:59")
    page.get_by_role("button", name="Create link").click()
    page.locator("code[id^=share-url-]").first.wait_for()
    assert "expires 2099-12-31 23:59" in page.locator(".share-link").first.inner_text()
    link_url = page.locator("code[id^=share-url-]").first.inner_text().strip()
    shoot(page, "insight-share-panel-1280")
    for width in (1280, 390):
        stranger = browser.new_context(viewport={"width": width, "height": 900})
        try:
            anon = stranger.new_page()
            anon.goto(link_url)
            anon.locator(".plot .main-svg .barlayer").first.wait_for()
            assert "@example.com" not in anon.content()
            assert anon.evaluate("document.documentElement.scrollWidth") <= width + 1
            shoot(anon, f"shared-insight-{width}")
        finally:
            stranger.close()
