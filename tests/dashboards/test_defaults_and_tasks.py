"""The default dashboard (created once, only with registered kinds) and the
refresh_dashboard Celery task."""

import pytest
from django.core.management import call_command

from dashboards import defaults
from dashboards.cache import DateOverride, compute
from dashboards.models import Dashboard, DashboardTile, Insight
from dashboards.tasks import refresh_dashboard

from .conftest import url


@pytest.fixture
def fake_defaults(monkeypatch, fake_kind):
    tiles = [
        defaults.DefaultTile("Fake A", "", "FakeQuery", {"n": 1}, width=2),
        defaults.DefaultTile("Unregistered", "", "NotInstalledQuery", {"x": 1}),
        defaults.DefaultTile("Does not parse", "", "FakeQuery", {"n": "one"}),
        defaults.DefaultTile("Fake B", "", "FakeQuery", {"n": 2}),
    ]
    monkeypatch.setattr(defaults, "DEFAULT_TILES", tiles)
    return tiles


def test_default_dashboard_is_created_once_on_first_visit(alice_client, project, fake_defaults):
    for _ in range(2):
        assert alice_client.get(url("dashboards", project)).status_code == 200
    board = Dashboard.objects.get(project=project)
    assert board.is_default
    assert [(t.insight.name, t.width, t.insight.spec) for t in board.tiles.all()] == [
        ("Fake A", 2, {"n": 1, "event": "fake_event"}),
        ("Fake B", 1, {"n": 2, "event": "fake_event"}),
    ]
    assert Insight.objects.filter(project=project).count() == 2


def test_ensure_default_dashboards_command_is_idempotent(project, other_project, fake_defaults):
    call_command("ensure_default_dashboards", verbosity=0)
    call_command("ensure_default_dashboards", verbosity=0)
    assert Dashboard.objects.filter(is_default=True, project__in=[project, other_project]).count() == 2
    assert DashboardTile.objects.filter(dashboard__project=project).count() == 2


def test_no_default_dashboard_without_a_registered_kind(alice_client, project, monkeypatch):
    monkeypatch.setattr(defaults, "DEFAULT_TILES", [defaults.DefaultTile("X", "", "NotInstalledQuery", {})])
    assert defaults.ensure_default_dashboard(project) is None
    assert alice_client.get(url("dashboards", project)).status_code == 200
    assert not Dashboard.objects.filter(project=project).exists()


def test_the_default_dashboard_cannot_be_deleted(alice_client, project, fake_defaults):
    board = defaults.ensure_default_dashboard(project)
    assert alice_client.post(url("dashboard_delete", project, dashboard_id=board.pk)).status_code == 400
    assert Dashboard.objects.filter(pk=board.pk).exists()


def test_refresh_dashboard_task_recomputes_every_tile_into_the_cache(
    project, dashboard, make_insight, fake_kind
):
    dashboard.date_from = "-30d"
    dashboard.save()
    a, b = make_insight("a", n=1), make_insight("b", n=2)
    for i, insight in enumerate((a, b, a)):  # the same insight twice is computed once
        DashboardTile.objects.create(dashboard=dashboard, insight=insight, order=i)
    outcome = refresh_dashboard.apply(args=[dashboard.pk]).get()
    assert outcome == {"dashboard_id": dashboard.pk, "refreshed": 2, "failed": 0, "missing": False}
    assert sorted(c.n for c in fake_kind.calls) == [1, 2] and {c.date_from for c in fake_kind.calls} == {
        "-30d"
    }
    hit = compute(project, "FakeQuery", {"n": 1}, DateOverride("-30d"))
    assert hit.from_cache and len(fake_kind.calls) == 2
    refresh_dashboard(dashboard.pk)  # idempotent: recomputes, same cache entries
    assert len(fake_kind.calls) == 4
    a.refresh_from_db()
    assert a.last_refresh_at is not None


def test_refresh_dashboard_task_tolerates_missing_and_broken(project, dashboard, alice, fake_kind):
    assert refresh_dashboard(987654321)["missing"] is True
    broken = Insight.objects.create(
        project=project, name="Broken", kind="FakeQuery", spec={"n": None}, created_by=alice
    )
    DashboardTile.objects.create(dashboard=dashboard, insight=broken)
    assert refresh_dashboard(dashboard.pk)["failed"] == 1
