"""Every page a signed-in admin can reach fits a 1280 px screen and a 390 px phone: the
page itself never scrolls sideways (wide tables scroll inside their own box).

The pages are the URL matrix's (tests/governance/test_url_matrix.py): every named URL a
project admin or a signed-in user GETs as an HTML page, on a demo-like project (the demo
generator's journeys, demo recordings, and the matrix's saved insight, dashboard, alert,
cohort, plan event, cleaning rule, annotation). With ``SEXTANT_SCREENSHOT_DIR`` set, a
full-page screenshot of each page at each width goes there, to be looked at (CI sets
none: the screenshots were half of this test's 93 s).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from analytics_app import clickhouse as ch
from analytics_app.demo import generate
from replay import synthetic
from tests.governance.test_url_matrix import MATRIX, Project, SignedIn, path_of
from tests.governance.test_url_matrix import world as world  # noqa: F401 (the fixture)
from tests.paths.test_paths_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTHS = (1280, 390)
# GETs that are not pages: downloads, fragments a page loads, JSON.
NOT_PAGES = {
    "explorer:events_export",
    "project_audit_export",
    "plan_export",
    "cohorts:cohort_export",
    "plan_discovered",
    "trends:annotations",
    "dashboards:dashboard_tile",
    "paths:cleaning_preview",
    "two_factor_verify",
    "home",
    "switch_project",
}


def page_names() -> list[str]:
    return [
        name
        for name, access in MATRIX.items()
        if name not in NOT_PAGES
        and (
            (isinstance(access, Project) and not access.api and access.ok == 200)
            or (isinstance(access, SignedIn) and access.status == 200)
        )
    ]


def test_every_page_fits_1280_and_390(app_live_server, page, client, alice, project, world):  # noqa: F811
    generate(project.pk, persons=120, days=10, seed=3)
    synthetic.demo_recordings(project, count=4, days=10)
    demo_session = ch.query(
        "SELECT session_id FROM session_replay_summaries WHERE project_id = {project_id:UInt32} "
        "AND session_id != {other:String} ORDER BY session_id LIMIT 1",
        {"project_id": project.pk, "other": world["session_id"]},
    ).scalar()
    paths = {name: path_of(name, MATRIX[name], world) for name in page_names()}
    pid = project.pk
    paths |= {
        "funnels (demo steps)": f"/project/{pid}/funnels/?step_event=%24pageview&step_event=signed_up"
        "&step_event=activated&breakdown=%24browser",
        "trends (breakdown)": f"/project/{pid}/insights/trends/?series_event=%24pageview&breakdown=%24browser",
        "player (demo)": f"/project/{pid}/replay/{demo_session}",
        "recordings (30 days)": f"/project/{pid}/replay/?date_from=-30d",
    }
    folder = Path(os.environ["SEXTANT_SCREENSHOT_DIR"]) if os.environ.get("SEXTANT_SCREENSHOT_DIR") else None
    if folder is not None:
        folder.mkdir(parents=True, exist_ok=True)
        print(f"screenshots: {folder}")

    base = app_live_server.url
    login(page, client, alice, base)
    overflow, failed = {}, {}
    for width in WIDTHS:
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in paths.items():
            response = page.goto(base + path)
            if response.status != 200:
                failed[f"{name} @ {width}"] = response.status
                continue
            page.wait_for_load_state("networkidle")
            if folder is not None:
                page.screenshot(path=str(folder / f"{width}-{name.replace(':', '-')}.png"), full_page=True)
            wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if wide > 1:
                overflow[f"{name} @ {width}"] = (path, wide)
    assert failed == {}
    assert overflow == {}
    assert not page.page_errors


def test_properties_table_sorts_by_a_header_and_shows_the_json(
    app_live_server, page, client, alice, project, events
):
    import datetime as dt  # noqa: PLC0415
    import uuid  # noqa: PLC0415

    event_uuid = uuid.uuid4()
    props = {"b_count": 10, "a_name": "zeta", "c_count": 9, "d_flag": True}
    events.add("purchase", "u1", dt.datetime.now(dt.UTC) - dt.timedelta(hours=1), props, uuid=event_uuid)
    events.flush()
    login(page, client, alice, app_live_server.url)
    page.goto(f"{app_live_server.url}/project/{project.pk}/events/{event_uuid}/")
    box = page.locator("#event-properties")

    def keys():
        return [k.strip() for k in box.locator("tbody td.prop-key").all_inner_texts()]

    assert keys() == ["a_name", "b_count", "c_count", "d_flag"]
    box.get_by_role("button", name="Key").click()  # sorted by key already: reversed
    assert keys() == ["d_flag", "c_count", "b_count", "a_name"]
    box.get_by_role("button", name="Type").click()
    assert [t.strip() for t in box.locator("tbody td.prop-type").all_inner_texts()] == [
        "boolean",
        "number",
        "number",
        "string",
    ]
    box.get_by_role("button", name="Value").click()  # numbers first, numerically
    assert keys()[:2] == ["c_count", "b_count"]
    assert not box.locator("details.props-json pre").is_visible()
    box.locator("details.props-json summary").click()
    assert '"a_name": "zeta"' in box.locator("details.props-json pre").inner_text()
    assert not page.page_errors


def test_a_running_query_shows_computing_over_the_result(app_live_server, page, client, alice, project):
    login(page, client, alice, app_live_server.url)
    for path in ("insights/trends/", "funnels/", "retention/", "paths/"):
        page.goto(f"{app_live_server.url}/project/{project.pk}/{path}")
        page.wait_for_selector("#result")
        label = page.evaluate(
            """() => { const r = document.getElementById('result'); r.classList.add('htmx-request');
                 const s = getComputedStyle(r, '::after'); return [s.content, s.display]; }"""
        )
        assert label[0] == '"Computing…"' and label[1] != "none", path


def test_an_unknown_event_replaces_the_chart_with_the_form_error(
    app_live_server, page, client, alice, project, events
):
    import datetime as dt  # noqa: PLC0415

    now = dt.datetime.now(dt.UTC)
    for i in range(3):
        events.add("signup", f"u{i}", now - dt.timedelta(hours=3))
        events.add("purchase", f"u{i}", now - dt.timedelta(hours=2))
    events.flush()
    login(page, client, alice, app_live_server.url)
    page.goto(
        f"{app_live_server.url}/project/{project.pk}/funnels/?step_event=signup&step_event=purchase&date_from=-7d"
    )
    page.wait_for_selector("#result [data-funnel-figure]")
    second = page.locator("#step-rows input[name=step_event]").nth(1)
    second.fill("purchse")
    second.press("Tab")  # a change: htmx re-runs the funnel
    page.wait_for_selector("#result [role=alert]")
    alert = page.locator("#result [role=alert]").inner_text()
    assert "purchse" in alert and "did you mean “purchase”" in alert
    assert page.locator("#result [data-funnel-figure]").count() == 0  # the old chart is gone
    assert not page.page_errors
