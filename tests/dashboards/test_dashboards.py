"""Dashboards: list/create/rename/delete, the tile grid, lazy tiles, date override,
the result cache, tile editing and permissions."""

import datetime as dt

import pytest

from dashboards.models import Dashboard, DashboardTile
from tests.html import parse

from .conftest import url

HX = {"HX-Request": "true"}


def only_child(response):
    """The one element an htmx partial consists of."""
    doc = parse(response)
    assert doc.is_fragment
    (element,) = [c for c in doc.children if not isinstance(c, str)]
    return element


def tile_meta(response) -> str:
    return parse(response).one(".tile-meta span.muted").text


def tile_url(project, tile, **params):
    return url("dashboard_tile", project, dashboard_id=tile.dashboard_id, tile_id=tile.pk), params


def test_create_rename_and_delete_a_dashboard(alice_client, project, fake_kind):
    response = alice_client.post(url("dashboards", project), {"name": "Marketing", "description": ""})
    created = Dashboard.objects.get(project=project, name="Marketing")
    assert response.status_code == 302 and response.url == url("dashboard", project, dashboard_id=created.pk)
    assert alice_client.post(url("dashboards", project), {"name": ""}).status_code == 400
    assert (
        alice_client.post(
            url("dashboard", project, dashboard_id=created.pk), {"action": "rename", "name": ""}
        ).status_code
        == 400
    )
    renamed = alice_client.post(
        url("dashboard", project, dashboard_id=created.pk),
        {"action": "rename", "name": "Growth", "description": "x"},
    )
    assert renamed.status_code == 302
    created.refresh_from_db()
    assert created.name == "Growth"
    assert (
        alice_client.post(
            url("dashboard", project, dashboard_id=created.pk), {"action": "explode"}
        ).status_code
        == 400
    )
    assert alice_client.post(url("dashboard_delete", project, dashboard_id=created.pk)).status_code == 302
    assert not Dashboard.objects.filter(pk=created.pk).exists()


def test_add_insight_to_dashboard_appends_a_tile(alice_client, project, dashboard, make_insight):
    first, second = make_insight("First"), make_insight("Second")
    for insight in (first, second):
        response = alice_client.post(
            url("insight_add_to_dashboard", project, insight_id=insight.pk),
            {"dashboard": dashboard.pk, "width": 2},
            headers=HX,
        )
        assert response.status_code == 200
        assert parse(response).one("p.message.success[role=status]").text == f"Added to {dashboard.name}."
    tiles = list(dashboard.tiles.all())
    assert [(t.insight.name, t.order, t.width) for t in tiles] == [("First", 0, 2), ("Second", 1, 2)]
    plain = alice_client.post(
        url("insight_add_to_dashboard", project, insight_id=first.pk), {"dashboard": dashboard.pk, "width": 1}
    )
    assert plain.status_code == 302 and plain.url == url("dashboard", project, dashboard_id=dashboard.pk)


def test_add_to_another_projects_dashboard_is_rejected(alice_client, project, other_project, make_insight):
    foreign = Dashboard.objects.create(project=other_project, name="Globex board")
    insight = make_insight()
    response = alice_client.post(
        url("insight_add_to_dashboard", project, insight_id=insight.pk),
        {"dashboard": foreign.pk, "width": 1},
        headers=HX,
    )
    assert response.status_code == 400 and not foreign.tiles.exists()
    assert (
        alice_client.post(
            url("insight_add_to_dashboard", project, insight_id=insight.pk), {"dashboard": "x", "width": 9}
        ).status_code
        == 400
    )


def test_dashboard_page_lazy_loads_each_tile(alice_client, project, tile, fake_kind):
    page = alice_client.get(url("dashboard", project, dashboard_id=tile.dashboard_id))
    assert page.status_code == 200
    doc = parse(page)
    tile_path = url("dashboard_tile", project, dashboard_id=tile.dashboard_id, tile_id=tile.pk)
    (body,) = doc.select(f"#tile-{tile.pk} .tile-body")
    assert body.attrs["hx-get"].startswith(tile_path + "?") and body.attrs["hx-trigger"] == "load"
    assert doc.texts(f"#tile-{tile.pk} .tile-title") == ["Fake insight"]
    assert not doc.has(".fake-tile")  # nothing computed yet
    assert fake_kind.calls == []
    partial = alice_client.get(url("dashboard", project, dashboard_id=tile.dashboard_id), headers=HX)
    assert partial.status_code == 200 and only_child(partial).attrs["id"] == "dashboard-body"


def test_tile_endpoint_renders_just_the_tile_body(alice_client, project, tile, events):
    now = dt.datetime.now(dt.UTC)
    events.add("fake_event", "u1", now).add("fake_event", "u2", now).add("fake_event", "u3", now).flush()
    path, _ = tile_url(project, tile)
    response = alice_client.get(path, headers=HX)
    assert response.status_code == 200
    body = only_child(response)
    assert body.classes == ["tile-body"]
    assert body.one(".tile-content .fake-tile").text == "value=42 events=3 from="
    assert body.one(".tile-meta span.muted").text.startswith("Computed")
    assert body.one("a.refresh").attrs["hx-get"].endswith("refresh=1")


def test_tiles_are_cached_and_refresh_bypasses_the_cache(alice_client, project, tile, fake_kind):
    path, _ = tile_url(project, tile)
    first = alice_client.get(path)
    second = alice_client.get(path)
    assert len(fake_kind.calls) == 1
    assert not tile_meta(first).endswith("cached") and tile_meta(second).endswith("· cached")
    refreshed = alice_client.get(path, {"refresh": "1"})
    assert len(fake_kind.calls) == 2 and not tile_meta(refreshed).endswith("cached")
    alice_client.get(path)
    assert len(fake_kind.calls) == 2  # the refresh wrote the new result back


def test_cache_is_per_project_and_per_override(
    client, alice, charlie, project, other_project, tile, fake_kind
):
    from dashboards.cache import DateOverride, compute

    compute(project, "FakeQuery", {"n": 21})
    compute(other_project, "FakeQuery", {"n": 21})
    compute(project, "FakeQuery", {"n": 21}, DateOverride("-7d"))
    compute(project, "FakeQuery", {"n": 21})
    assert len(fake_kind.calls) == 3


def test_date_override_changes_the_spec_passed_to_run(alice_client, project, tile, fake_kind):
    path, _ = tile_url(project, tile)
    response = alice_client.get(path, {"date_from": "-7d", "date_to": ""})
    assert response.status_code == 200 and parse(response).one(".fake-tile").text.endswith("from=-7d")
    assert fake_kind.calls[-1].date_from == "-7d" and fake_kind.calls[-1].date_to is None
    alice_client.get(path, {"date_from": "-30d"})
    assert fake_kind.calls[-1].date_from == "-30d"
    alice_client.get(path)  # no override stored: the insight's own range
    assert fake_kind.calls[-1].date_from is None


def test_stored_date_range_applies_to_tiles_and_the_query_param_wins(alice_client, project, tile, fake_kind):
    dashboard = tile.dashboard
    saved = alice_client.post(
        url("dashboard", project, dashboard_id=dashboard.pk),
        {"action": "dates", "date_from": "-90d", "date_to": ""},
    )
    assert saved.status_code == 302
    dashboard.refresh_from_db()
    assert (dashboard.date_from, dashboard.date_to) == ("-90d", "")
    page = alice_client.get(url("dashboard", project, dashboard_id=dashboard.pk))
    assert (
        parse(page)
        .one(f"#tile-{tile.pk} .tile-body")
        .attrs["hx-get"]
        .endswith("?date_from=-90d&date_to=&fs=1")
    )
    path, _ = tile_url(project, tile)
    alice_client.get(path)
    assert fake_kind.calls[-1].date_from == "-90d"
    shared = alice_client.get(url("dashboard", project, dashboard_id=dashboard.pk), {"date_from": "mStart"})
    assert shared.status_code == 200
    assert (
        parse(shared)
        .one(f"#tile-{tile.pk} .tile-body")
        .attrs["hx-get"]
        .endswith("?date_from=mStart&date_to=&fs=1")
    )
    alice_client.get(path, {"date_from": ""})  # explicitly the insight's own range
    assert fake_kind.calls[-1].date_from is None


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "yesterday-ish"},
        {"date_from": "-7d", "date_to": "2020-13-45"},
        {"date_to": "2024-01-01"},
    ],
)
def test_invalid_date_override_is_400_not_500(alice_client, project, tile, fake_kind, params):
    path, _ = tile_url(project, tile)
    assert alice_client.get(path, params).status_code == 400
    page = alice_client.get(url("dashboard", project, dashboard_id=tile.dashboard_id), params)
    assert page.status_code == 400 and parse(page).find_all(class_="form-error", role="alert")
    stored = alice_client.post(
        url("dashboard", project, dashboard_id=tile.dashboard_id), {"action": "dates", **params}
    )
    assert stored.status_code == 400
    assert fake_kind.calls == []


def test_a_failing_insight_shows_an_error_in_its_tile(alice_client, project, dashboard, alice, fake_kind):
    from dashboards.models import Insight

    broken = Insight.objects.create(
        project=project, name="Broken", kind="FakeQuery", spec={"n": "x"}, created_by=alice
    )
    bad_tile = DashboardTile.objects.create(dashboard=dashboard, insight=broken)
    path, _ = tile_url(project, bad_tile)
    response = alice_client.get(path)
    assert response.status_code == 200 and "must be an integer" in parse(response).one(".tile-body").text


def test_reorder_resize_and_remove_tiles(alice_client, project, dashboard, make_insight):
    a, b, c = (
        DashboardTile.objects.create(dashboard=dashboard, insight=make_insight(n), order=i)
        for i, n in enumerate("abc")
    )

    def edit(tile, **data):
        return alice_client.post(
            url("tile_update", project, dashboard_id=dashboard.pk, tile_id=tile.pk), data, headers=HX
        )

    response = edit(c, action="up")
    assert response.status_code == 200 and only_child(response).attrs["id"] == "dashboard-body"
    assert [t.insight.name for t in dashboard.tiles.all()] == ["a", "c", "b"]
    edit(a, action="up")  # already first: no change
    edit(a, action="down")
    assert [t.insight.name for t in dashboard.tiles.all()] == ["c", "a", "b"]
    assert edit(b, action="width", width=3).status_code == 200
    b.refresh_from_db()
    assert b.width == 3
    assert edit(b, action="width", width=7).status_code == 400
    assert edit(b, action="width").status_code == 400
    assert edit(b, action="fly").status_code == 400
    assert (
        alice_client.post(
            url("tile_update", project, dashboard_id=dashboard.pk, tile_id=a.pk), {"action": "remove"}
        ).status_code
        == 302
    )
    assert [t.insight.name for t in dashboard.tiles.all()] == ["c", "b"]


def test_exec_can_view_and_refresh_but_not_change(client, bob, project, tile, fake_kind):
    client.force_login(bob)
    dashboard = tile.dashboard
    assert client.get(url("dashboards", project)).status_code == 200
    page = client.get(url("dashboard", project, dashboard_id=dashboard.pk))
    doc = parse(page)
    assert page.status_code == 200 and not doc.has(".tile-controls")
    assert not doc.find("button", text="Save range")
    path, _ = tile_url(project, tile)
    assert client.get(path, {"refresh": "1"}).status_code == 200
    assert client.post(url("dashboards", project), {"name": "Mine"}).status_code == 403
    assert (
        client.post(
            url("dashboard", project, dashboard_id=dashboard.pk), {"action": "rename", "name": "X"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            url("dashboard", project, dashboard_id=dashboard.pk), {"action": "dates", "date_from": "-7d"}
        ).status_code
        == 403
    )
    assert client.post(url("dashboard_delete", project, dashboard_id=dashboard.pk)).status_code == 403
    assert (
        client.post(
            url("tile_update", project, dashboard_id=dashboard.pk, tile_id=tile.pk), {"action": "remove"}
        ).status_code
        == 403
    )
    assert (
        client.post(
            url("insight_add_to_dashboard", project, insight_id=tile.insight_id), {"dashboard": dashboard.pk}
        ).status_code
        == 403
    )
    assert (
        DashboardTile.objects.filter(pk=tile.pk).exists()
        and Dashboard.objects.filter(name="Mine").count() == 0
    )


def test_strangers_get_404_everywhere(client, charlie, project, other_project, tile):
    client.force_login(charlie)
    dashboard = tile.dashboard
    for path in (
        url("dashboards", project),
        url("dashboard", project, dashboard_id=dashboard.pk),
        url("dashboard_tile", project, dashboard_id=dashboard.pk, tile_id=tile.pk),
        url("dashboard", other_project, dashboard_id=dashboard.pk),
        url("dashboard_tile", other_project, dashboard_id=dashboard.pk, tile_id=tile.pk),
    ):
        assert client.get(path).status_code == 404, path
    assert (
        client.post(
            url("tile_update", other_project, dashboard_id=dashboard.pk, tile_id=tile.pk),
            {"action": "remove"},
        ).status_code
        == 404
    )
    assert client.post(url("dashboard_delete", other_project, dashboard_id=dashboard.pk)).status_code == 404


def test_pages_need_login(client, project, tile):
    response = client.get(url("dashboard", project, dashboard_id=tile.dashboard_id))
    assert response.status_code == 302 and "/login/" in response.url


def test_dashboard_page_query_count_does_not_grow_with_tiles(
    alice_client, project, dashboard, make_insight, django_assert_max_num_queries
):
    for i in range(8):
        DashboardTile.objects.create(dashboard=dashboard, insight=make_insight(f"i{i}"), order=i)
    # 13: the gate's Presenter reads the tracking plan's PII-classified property names once;
    # 14: the top bar's alert bell counts the unread notifications (one query)
    # 15: the Share panel lists the dashboard's share links (one query)
    with django_assert_max_num_queries(15):
        assert alice_client.get(url("dashboard", project, dashboard_id=dashboard.pk)).status_code == 200
