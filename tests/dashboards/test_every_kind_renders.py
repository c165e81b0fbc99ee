"""Every insight kind, saved from its builder, shows the builder's chart and numbers on
its saved page and as a dashboard tile (server side; the drawing itself is checked in
headless Chromium by test_every_kind_browser.py)."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from django.contrib.staticfiles import finders

from dashboards.models import Dashboard, DashboardTile, Insight
from insights.registry import KINDS
from tests.html import parse

from .conftest import url
from .scenario import BUILDERS, SPECS, figure, seed, table_text, trace_numbers

# What each kind must show for the scenario, from the figure's numbers (hand-counted).
EXPECTED = {
    "TrendsQuery": lambda traces: sum(traces[0][2]) == 3,  # three signups this week
    "FunnelsQuery": lambda traces: traces[0][1] == [3, 1],  # signed_up 3 -> pay 1
    "RetentionQuery": lambda traces: traces[0][2][0] == 100.0,  # day 0 is the whole cohort
    # / -> /pricing 3, / -> /blog 1, /pricing -> /signup 1
    "PathsQuery": lambda traces: sorted(traces[0][3]) == [1, 1, 3],
}
# The numbers table each kind puts under its tile's chart, and the row of the scenario.
NUMBERS = {
    "FunnelsQuery": ("funnel-steps", ["1. signed_up", "3", "100.0%"]),
    "PathsQuery": ("paths-edges", ["1", "/", "/pricing", "3"]),
}


def builder_page(client, project, kind: str) -> str:
    path = f"/project/{project.pk}/{BUILDERS[kind]}?q={quote(json.dumps(SPECS[kind]))}"
    response = client.get(path)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_saved_page_and_tile_show_the_builders_chart_and_numbers(alice_client, project, alice, events, kind):
    seed(events)
    built = builder_page(alice_client, project, kind)
    numbers = trace_numbers(figure(built, kind))
    assert EXPECTED[kind](numbers), numbers

    response = alice_client.post(
        url("insight_new", project),
        {"kind": kind, "spec": json.dumps(SPECS[kind]), "name": f"Saved {kind}"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200, response.content[:500]
    insight = Insight.objects.get(project=project, name=f"Saved {kind}")

    saved = alice_client.get(url("insight", project, insight_id=insight.pk)).content.decode()
    assert not parse(saved).has(".form-error")
    assert trace_numbers(figure(saved, kind)) == numbers

    board = Dashboard.objects.create(project=project, name="All kinds", created_by=alice)
    tile = DashboardTile.objects.create(dashboard=board, insight=insight)
    response = alice_client.get(url("dashboard_tile", project, dashboard_id=board.pk, tile_id=tile.pk))
    assert response.status_code == 200
    body = response.content.decode()
    assert trace_numbers(figure(body, kind)) == numbers
    # the host pages load the scripts that draw this kind's figures and the styles its tiles use
    grid = alice_client.get(url("dashboard", project, dashboard_id=board.pk)).content.decode()
    for page in (saved, grid):
        doc = parse(page)
        loaded = [s.attrs["src"] for s in doc.find_all("script", src=True)]
        loaded += [link.attrs["href"] for link in doc.find_all("link", rel="stylesheet")]
        for static in KINDS[kind].scripts + KINDS[kind].styles:
            assert any(path.endswith("/" + static) for path in loaded), (static, loaded)

    if kind == "RetentionQuery":  # the matrix: same cells as the builder's, today's cohort of 4
        matrix = table_text(built, "retention-matrix")
        assert table_text(body, "retention-matrix") == matrix == table_text(saved, "retention-matrix")
        today = [row for row in matrix if len(row) > 2 and row[1] == "4"]
        assert today and today[0][2] == "100.0%"
    if kind in NUMBERS:
        css, row = NUMBERS[kind]
        assert row in [r[: len(row)] for r in table_text(body, css)]
        assert table_text(body, css) == table_text(saved, css)


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_tile_html_needs_no_inline_script_and_its_scripts_exist(project, events, kind):
    """Host pages load plotly with defer, so an inline script in a tile would run before
    it (the empty saved funnel); a kind's figures are drawn by its declared scripts."""
    seed(events)
    registered = KINDS[kind]
    assert registered.scripts, f"{kind} declares no script to draw its tiles"
    for static in registered.scripts + registered.styles:
        assert finders.find(static), f"{static} is not a static file"
    spec = registered.parse(SPECS[kind], project)
    html = registered.render_tile(None, project, spec, registered.run(project, spec))
    scripts = parse(html).find_all("script")
    assert scripts and all(s.attrs.get("type") == "application/json" for s in scripts), scripts
