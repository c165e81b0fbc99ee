"""Dashboard-wide property filters (ANDed to each tile's own), the date range that replaces
each tile's, "computed N minutes ago", refresh, and tile sizes, with a real insight kind
(trends) on real ClickHouse: each tile's numbers equal a direct runner call with the
effective spec, and a plain Python count over the seeded events."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache

from dashboards.cache import DateOverride, compute_insight, filters_text
from dashboards.models import Dashboard, DashboardTile, Insight
from governance.models import AuditEntry
from insights.registry import KINDS
from tests.clock import at_test_time
from tests.html import parse

from .conftest import url
from .scenario import SPECS, seed

pytestmark = pytest.mark.django_db

NOW = at_test_time(lambda now: now.replace(microsecond=0))
ROWS = [  # (distinct_id, days ago, plan, browser)
    ("u1", 1, "pro", "Chrome"),
    ("u2", 2, "free", "Chrome"),
    ("u3", 3, "pro", "Firefox"),
    ("u4", 20, "pro", "Chrome"),
    ("u5", 40, "free", "Safari"),
    ("u6", 50, "pro", "Chrome"),
]


def spec(**extra) -> dict:
    return {
        "kind": "TrendsQuery",
        "series": [{"event": "signed_up", "math": "total"}],
        "date_from": "-7d",
        "display": "table",
        **extra,
    }


def reference(days: int, **props) -> int:
    return sum(
        1
        for _, ago, plan, browser in ROWS
        if ago <= days and all({"plan": plan, "$browser": browser}[k] == v for k, v in props.items())
    )


def total_of(result_html: str) -> int:
    doc = parse(result_html)
    return sum(int(tr.select("td")[-1].text) for tr in doc.select(".trends-table tbody tr"))


@pytest.fixture
def board(project, alice, events):
    for distinct_id, ago, plan, browser in ROWS:
        events.add(
            "signed_up",
            distinct_id,
            NOW - dt.timedelta(days=ago, hours=1),
            {"plan": plan, "$browser": browser},
        )
    events.flush()
    dashboard = Dashboard.objects.create(project=project, name="Board", created_by=alice)
    chrome = Insight.objects.create(
        project=project,
        name="Chrome signups",
        kind="TrendsQuery",
        spec=spec(properties=[{"key": "$browser", "operator": "exact", "value": "Chrome", "type": "event"}]),
    )
    tile = DashboardTile.objects.create(dashboard=dashboard, insight=chrome, order=0)
    return dashboard, tile


def tile_total(client, project, tile, **params) -> int:
    response = client.get(
        url("dashboard_tile", project, dashboard_id=tile.dashboard_id, tile_id=tile.pk), params
    )
    assert response.status_code == 200
    return total_of(response.content.decode())


def test_stored_filters_and_range_override_every_tile(alice_client, project, board):
    dashboard, tile = board
    assert tile_total(alice_client, project, tile) == reference(7, **{"$browser": "Chrome"}) == 2
    saved = alice_client.post(
        url("dashboard", project, dashboard_id=dashboard.pk),
        {
            "action": "dates",
            "date_from": "-30d",
            "filter_type": "event",
            "filter_key": "plan",
            "filter_operator": "exact",
            "filter_value": "pro",
        },
    )
    assert saved.status_code == 302
    dashboard.refresh_from_db()
    assert dashboard.filters == [{"key": "plan", "operator": "exact", "value": "pro", "type": "event"}]
    expected = reference(30, plan="pro", **{"$browser": "Chrome"})
    assert expected == 2  # u1 and u4: the tile's Chrome AND the dashboard's plan=pro, over 30 days
    assert tile_total(alice_client, project, tile) == expected
    # the same as the runner on the effective spec, and as the cache's entry for it
    effective = spec(
        date_from="-30d",
        properties=[
            {"key": "$browser", "operator": "exact", "value": "Chrome", "type": "event"},
            {"key": "plan", "operator": "exact", "value": "pro", "type": "event"},
        ],
    )
    kind = KINDS["TrendsQuery"]
    direct_html = kind.render_tile(
        None, project, kind.parse(effective, project), kind.run(project, kind.parse(effective, project))
    )
    assert total_of(direct_html) == expected
    override = DateOverride("-30d", "", filters_text(dashboard.filters))
    assert compute_insight(tile.insight, override).from_cache
    entry = AuditEntry.objects.get(action="dashboard.filters")
    assert entry.after["filters"] == dashboard.filters


def test_query_string_overrides_filters_for_this_view_only(alice_client, project, board):
    dashboard, tile = board
    assert (
        tile_total(alice_client, project, tile, fs="1", date_from="-90d")
        == reference(90, **{"$browser": "Chrome"})
        == 4
    )
    params = {
        "fs": "1",
        "date_from": "-90d",
        "filter_type": "event",
        "filter_key": "plan",
        "filter_operator": "is_not",
        "filter_value": "pro",
    }
    assert tile_total(alice_client, project, tile, **params) == 1  # u2
    page = alice_client.get(url("dashboard", project, dashboard_id=dashboard.pk), params)
    doc = parse(page)
    hx = doc.one(f"#tile-{tile.pk} .tile-body").attrs["hx-get"]
    assert "filter_key=plan" in hx and "filter_operator=is_not" in hx
    assert doc.has(".dash-saved .pill")  # "Unsaved view"
    assert [i.attrs.get("value") for i in doc.select("#filter-rows input")][:1] == ["plan"]
    dashboard.refresh_from_db()
    assert dashboard.filters == []


@pytest.mark.parametrize(
    "params",
    [
        {"fs": "1", "filter_key": "plan", "filter_operator": "gt", "filter_value": "many"},
        {"fs": "1", "filter_key": "plan", "filter_operator": "between", "filter_value": "1"},
        {"fs": "1", "filter_key": "plan", "filter_operator": "regex", "filter_value": "("},
    ],
)
def test_bad_filters_are_400_with_the_reason(alice_client, project, board, params):
    dashboard, tile = board
    response = alice_client.get(url("dashboard", project, dashboard_id=dashboard.pk), params)
    assert response.status_code == 400
    assert "Invalid dashboard filter" in response.content.decode()
    saved = alice_client.post(
        url("dashboard", project, dashboard_id=dashboard.pk), {"action": "dates", **params}
    )
    assert saved.status_code == 400
    dashboard.refresh_from_db()
    assert dashboard.filters == []


def test_a_role_without_view_pii_may_not_filter_on_pii(client, bob, project, board):
    dashboard, tile = board
    client.force_login(bob)  # exec: sees PII masked
    params = {"fs": "1", "filter_key": "email", "filter_operator": "exact", "filter_value": "ann@example.com"}
    response = client.get(url("dashboard", project, dashboard_id=dashboard.pk), params)
    assert response.status_code == 403
    assert "view-PII" in response.content.decode()


def test_a_stored_pii_filter_shows_masked_to_a_role_without_view_pii(client, bob, project, board):
    dashboard, tile = board
    dashboard.filters = [{"key": "email", "operator": "exact", "value": "ann@example.com", "type": "event"}]
    dashboard.save()
    client.force_login(bob)
    response = client.get(url("dashboard", project, dashboard_id=dashboard.pk))
    assert response.status_code == 200
    assert "ann@example.com" not in response.content.decode()


def test_cache_key_includes_the_effective_filters(project, board):
    _, tile = board
    cache.clear()
    a = compute_insight(tile.insight, DateOverride("-90d", "", ""))
    b = compute_insight(
        tile.insight,
        DateOverride(
            "-90d", "", filters_text([{"key": "plan", "operator": "exact", "value": "pro", "type": "event"}])
        ),
    )
    assert not a.from_cache and not b.from_cache
    assert compute_insight(tile.insight, DateOverride("-90d", "", "")).from_cache


def test_refresh_recomputes_and_updates_the_computed_time(alice_client, project, board, monkeypatch):
    dashboard, tile = board
    page = url("dashboard", project, dashboard_id=dashboard.pk)
    assert "Computing the tiles now" in parse(alice_client.get(page)).one(".dash-computed").text
    tile_total(alice_client, project, tile)
    # age the cached entry by 10 minutes
    from dashboards import cache as insight_cache  # noqa: PLC0415

    override = DateOverride()
    computed = compute_insight(tile.insight, override)
    key = insight_cache.cache_key(project, "TrendsQuery", computed.spec_json, override)
    entry = cache.get(key)
    entry["computed_at"] = computed.computed_at - dt.timedelta(minutes=10)
    cache.set(key, entry)
    assert parse(alice_client.get(page)).one(".dash-computed").text == "Computed 10 minutes ago"
    body = parse(alice_client.get(url("dashboard_tile", project, dashboard_id=dashboard.pk, tile_id=tile.pk)))
    assert "10 minutes ago" in body.one(".tile-meta span.muted").text
    refreshed = alice_client.get(page, {"refresh": "1"}, headers={"HX-Request": "true"})
    doc = parse(refreshed)
    assert "refresh=1" in doc.one(f"#tile-{tile.pk} .tile-body").attrs["hx-get"]
    fresh = parse(
        alice_client.get(
            url("dashboard_tile", project, dashboard_id=dashboard.pk, tile_id=tile.pk), {"refresh": "1"}
        )
    )
    assert fresh.one(".tile-meta span.muted").text.startswith("Computed just now")
    assert parse(alice_client.get(page)).one(".dash-computed").text == "Computed just now"


def test_tile_width_and_height_persist(alice_client, project, board):
    dashboard, tile = board
    edit = url("tile_update", project, dashboard_id=dashboard.pk, tile_id=tile.pk)
    hx = {"HX-Request": "true"}
    assert alice_client.post(edit, {"action": "width", "width": 4}, headers=hx).status_code == 200
    response = alice_client.post(edit, {"action": "height", "height": "l"}, headers=hx)
    assert response.status_code == 200
    tile.refresh_from_db()
    assert (tile.width, tile.height) == (4, "l")
    assert parse(response).has(f"#tile-{tile.pk}.w4.hl")
    assert alice_client.post(edit, {"action": "height", "height": "xl"}).status_code == 400
    assert alice_client.post(edit, {"action": "height"}).status_code == 400
    tile.refresh_from_db()
    assert tile.height == "l"


def numbers(result) -> dict:
    """A result without the moments it was computed at (a range ending "now")."""
    import dataclasses  # noqa: PLC0415

    out = dataclasses.asdict(result)
    return {k: v for k, v in out.items() if not isinstance(v, dt.datetime)}


@pytest.mark.parametrize("kind_name", sorted(SPECS))
def test_every_kind_takes_the_dashboard_filters(project, alice, events, kind_name):
    """The dashboard's filters reach every kind's query (its top-level `properties`): the
    tile's result equals the kind's runner on the effective spec, and differs from the
    unfiltered one where the filter removes someone (u3's session)."""
    seed(events)
    insight = Insight.objects.create(project=project, name=kind_name, kind=kind_name, spec=SPECS[kind_name])
    flt = [{"key": "$session_id", "operator": "is_not", "value": "s-u3", "type": "event"}]
    override = DateOverride("", "", filters_text(flt))
    kind = KINDS[kind_name]
    effective = {**SPECS[kind_name], "properties": flt}
    filtered = numbers(compute_insight(insight, override).result)
    assert filtered == numbers(kind.run(project, kind.parse(effective, project)))
    unfiltered = numbers(compute_insight(insight, DateOverride()).result)
    assert unfiltered == numbers(kind.run(project, kind.parse(SPECS[kind_name], project)))
    if kind_name in ("RetentionQuery", "PathsQuery"):  # u3 only ever views pages
        assert filtered != unfiltered
