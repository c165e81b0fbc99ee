"""Every insight kind, saved, draws its plotly chart in headless Chromium: on its saved
page and as a tile of a dashboard holding all four kinds, at desktop and phone widths.
The Sankey keeps a path that ends at step 2 in column 2.

``SEXTANT_SCREENSHOT_DIR=/tmp/shots`` keeps full-page screenshots (1280 px and 390 px)
of every page the test opens.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dashboards.models import Dashboard, DashboardTile, Insight
from tests.paths.test_paths_browser import login

from .scenario import SPECS, seed

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

# Per kind: an element plotly draws only when the figure has data.
DRAWN = {
    "TrendsQuery": ".plot .main-svg .scatterlayer .trace",
    "FunnelsQuery": ".plot .main-svg .barlayer .point",
    "RetentionQuery": ".plot .main-svg .scatterlayer .trace",
    "PathsQuery": ".plot .main-svg .sankey-node",
}
WIDTHS = {"desktop": 1280, "phone": 390}


def shoot(page, name: str) -> None:
    folder = os.environ.get("SEXTANT_SCREENSHOT_DIR")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def traces_drawn(page, root: str) -> list[int]:
    """Per plot under `root`: the number of traces plotly drew (its graph div's data)."""
    return page.eval_on_selector_all(
        f"{root} .plot", "els => els.map(el => (el.data || []).filter(t => t).length)"
    )


def sankey_columns(page, root: str) -> dict[str, float]:
    """Node label -> the x of its column as drawn."""
    return page.eval_on_selector_all(
        f"{root} .sankey-node",
        """nodes => Object.fromEntries(nodes.map(n => [
            n.querySelector('.node-label').textContent,
            Math.round(n.getBoundingClientRect().left)]))""",
    )


def test_every_saved_kind_draws_on_its_page_and_on_a_dashboard(
    app_live_server, page, client, alice, project, events
):
    seed(events)
    board = Dashboard.objects.create(project=project, name="All kinds", created_by=alice)
    saved = {}
    for order, (kind, spec) in enumerate(sorted(SPECS.items())):
        saved[kind] = Insight.objects.create(
            project=project, name=f"Saved {kind}", kind=kind, spec=spec, created_by=alice
        )
        DashboardTile.objects.create(dashboard=board, insight=saved[kind], order=order, width=3)
    base = app_live_server.url
    login(page, client, alice, base)

    for label, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        for kind, insight in saved.items():
            page.goto(f"{base}/project/{project.pk}/insights/saved/{insight.pk}/")
            page.wait_for_selector(f".insight-result {DRAWN[kind]}")
            assert traces_drawn(page, ".insight-result")[0] > 0, kind
            # no page-wide horizontal scroll, also on a phone (wide tables scroll in place)
            assert page.evaluate("document.documentElement.scrollWidth") <= width + 1, kind
            shoot(page, f"insight-{kind}-{label}")
            if kind == "PathsQuery":
                x = sankey_columns(page, ".insight-result")
                assert x["2. /blog"] == x["2. /pricing"], x  # ended at step 2: still column 2
                assert x["1. /"] < x["2. /pricing"] < x["3. /signup"], x

        page.goto(f"{base}/project/{project.pk}/dashboards/{board.pk}/")
        for tile in DashboardTile.objects.filter(dashboard=board).select_related("insight"):
            root = f"#tile-{tile.pk}"
            page.wait_for_selector(f"{root} {DRAWN[tile.insight.kind]}")
            assert traces_drawn(page, root)[0] > 0, tile.insight.kind
        assert page.evaluate("document.documentElement.scrollWidth") <= width + 1
        shoot(page, f"dashboard-{label}")
    assert not page.page_errors
