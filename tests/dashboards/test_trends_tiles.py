"""A real TrendsQuery saved from the builder state and rendered as a tile, and the
default dashboard's specs checked against the real trends parser."""

import datetime as dt
import json

import pytest

from dashboards.defaults import DEFAULT_TILES, ensure_default_dashboard
from dashboards.models import DashboardTile, Insight
from insights.registry import KINDS
from tests.html import parse

from .conftest import url

pytestmark = pytest.mark.skipif("TrendsQuery" not in KINDS, reason="the trends app is not registered")


def test_saved_trends_insight_renders_its_tile_with_the_right_number(
    alice_client, project, dashboard, events
):
    now = dt.datetime.now(dt.UTC)
    for i in range(3):
        events.add("signed_up", f"u{i}", now - dt.timedelta(hours=1 + i))
    events.add("signed_up", "old", now - dt.timedelta(days=20)).add(
        "$pageview", "u1", now - dt.timedelta(hours=1)
    ).flush()
    spec = {
        "kind": "TrendsQuery",
        "series": [{"event": "signed_up", "math": "total"}],
        "date_from": "-7d",
        "display": "number",
    }
    response = alice_client.post(
        url("insight_new", project),
        {"kind": "TrendsQuery", "spec": json.dumps(spec), "name": "Signups"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200, response.content
    insight = Insight.objects.get(project=project, name="Signups")
    assert insight.builder_url.startswith(f"/project/{project.pk}/insights/trends/?q=")
    tile = DashboardTile.objects.create(dashboard=dashboard, insight=insight)
    tile_path = url("dashboard_tile", project, dashboard_id=dashboard.pk, tile_id=tile.pk)

    def number(**params) -> str:
        return parse(alice_client.get(tile_path, params)).one(".stat-value").text

    assert number() == "3"
    assert number(date_from="-30d") == "4"  # the dashboard override widens the range


def test_invalid_trends_spec_is_a_form_error(alice_client, project):
    bad = {"kind": "TrendsQuery", "series": [], "date_from": "-7d"}
    response = alice_client.post(
        url("insight_new", project),
        {"kind": "TrendsQuery", "spec": json.dumps(bad), "name": "Bad"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 400
    assert any("series" in e for e in parse(response).texts(".form-error[role=alert]"))


def test_default_dashboard_specs_parse_and_render_with_trends(alice_client, project, events):
    now = dt.datetime.now(dt.UTC)
    events.add("$pageview", "u1", now - dt.timedelta(hours=2)).add(
        "signed_up", "u1", now - dt.timedelta(hours=1)
    ).flush()
    board = ensure_default_dashboard(project)
    assert board is not None and board.tiles.count() == len(DEFAULT_TILES)
    for tile in board.tiles.all():
        response = alice_client.get(url("dashboard_tile", project, dashboard_id=board.pk, tile_id=tile.pk))
        assert response.status_code == 200 and not parse(response).has(".form-error"), tile.insight.name
