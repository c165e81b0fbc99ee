"""Every page a signed-in admin can reach fits a 1280 px screen and a 390 px phone: the
page itself never scrolls sideways (wide tables scroll inside their own box).

The pages are the URL matrix's (tests/governance/test_url_matrix.py): every named URL a
project admin or a signed-in user GETs as an HTML page, on a demo-like project (the demo
generator's journeys, demo recordings, and the matrix's saved insight, dashboard, alert,
cohort, plan event, cleaning rule, annotation). A screenshot of each page at each width
goes to ``SEXTANT_SCREENSHOT_DIR`` (default: a fresh temporary directory, printed), to
be looked at.
"""

from __future__ import annotations

import os
import tempfile
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
    folder = Path(os.environ.get("SEXTANT_SCREENSHOT_DIR") or tempfile.mkdtemp(prefix="page-fit-"))
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
            page.screenshot(path=str(folder / f"{width}-{name.replace(':', '-')}.png"), full_page=True)
            wide = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            if wide > 1:
                overflow[f"{name} @ {width}"] = (path, wide)
    assert failed == {}
    assert overflow == {}
    assert not page.page_errors
