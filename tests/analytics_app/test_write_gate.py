"""The gate refuses writes: `project_page(perm, write=...)` / `project_api(perm, write=...)`.

Every endpoint that changes something is listed here; an exec and a support member (who
may read all of them) are refused with the gate's 403 and its reason, nothing changes,
and the pages they may read still open."""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pytest
from django.urls import reverse

from alerts.models import AlertRule
from analytics_app.access import lacking
from analytics_app.models import Membership, Project
from cohorts.models import Cohort
from dashboards.models import Dashboard, DashboardTile, Insight, ShareLink
from governance.roles import Permission, Role
from paths.models import PathCleaningRule
from trends.models import Annotation

pytestmark = pytest.mark.django_db

TRENDS = {"kind": "TrendsQuery", "series": [{"event": "signed_up", "math": "total"}], "date_from": "-7d"}


@dataclass(frozen=True)
class Write:
    url_name: str
    ids: tuple[str, ...] = ()  # URL kwargs, named after the `objects` fixture's keys
    data: dict = field(default_factory=dict)
    needs: Permission = Permission.EDIT_INSIGHTS
    readable: bool = False  # the same URL answers GET to every reader
    api: bool = False


WRITES = [
    Write("dashboards:insight", ("insight_id",), {"name": "Hijacked"}, readable=True),
    Write("dashboards:insight_delete", ("insight_id",)),
    Write("dashboards:insight_add_to_dashboard", ("insight_id",), {"dashboard": "dashboard_id"}),
    Write("dashboards:insight_new", (), {"kind": "TrendsQuery", "spec": json.dumps(TRENDS), "name": "Mine"}),
    Write("dashboards:dashboards", (), {"name": "Mine"}, readable=True),
    Write("dashboards:dashboard", ("dashboard_id",), {"action": "rename", "name": "Hijacked"}, readable=True),
    Write("dashboards:dashboard", ("dashboard_id",), {"action": "dates", "date_from": "-7d"}, readable=True),
    Write("dashboards:dashboard_delete", ("dashboard_id",)),
    Write("dashboards:tile_update", ("dashboard_id", "tile_id"), {"action": "remove"}),
    Write("dashboards:tile_update", ("dashboard_id", "tile_id"), {"action": "height", "height": "l"}),
    Write(
        "dashboards:dashboard",
        ("dashboard_id",),
        {"action": "dates", "filter_key": "plan", "filter_operator": "exact", "filter_value": "pro"},
        readable=True,
    ),
    Write("dashboards:insight_share", ("insight_id",), {"action": "create"}),
    Write("dashboards:dashboard_share", ("dashboard_id",), {"action": "create"}),
    Write("paths:cleaning_rules", (), {"regex": "a+", "alias": "b"}, readable=True),
    Write("paths:cleaning_rule_delete", ("rule_id",)),
    Write("cohorts:cohorts", (), {"name": "Mine", "kind": "static"}, readable=True),
    Write("cohorts:cohort", ("cohort_id",), {"action": "delete"}, readable=True),
    Write("cohorts:cohort", ("cohort_id",), {"action": "refresh"}, readable=True),
    Write("trends:annotations", (), {"date": "2026-05-01", "content": "Launch"}, readable=True),
    Write("cohorts:api_cohorts", (), {"name": "Mine", "definition": {}}, readable=True, api=True),
    Write("project_settings", (), {"name": "Hijacked", "time_zone": "UTC"}, Permission.MANAGE_PROJECT, True),
    Write(
        "project_members", (), {"email": "dana@example.com", "role": "admin"}, Permission.MANAGE_MEMBERS, True
    ),
    Write("member_update", ("membership_id",), {"role": "admin"}, Permission.MANAGE_MEMBERS),
    Write(
        "alerts:alert_new",
        (),
        {"name": "Mine", "metric": "events_per_period", "action": "save"},
        Permission.MANAGE_ALERTS,
    ),  # fmt: skip
    Write(
        "alerts:alert_edit", ("alert_id",), {"name": "Hijacked", "action": "save"}, Permission.MANAGE_ALERTS
    ),
    Write("alerts:alert_snooze", ("alert_id",), {"action": "mute"}, Permission.MANAGE_ALERTS),
    Write("alerts:alert_delete", ("alert_id",), {}, Permission.MANAGE_ALERTS),
    Write(
        "project_deletions",
        (),
        {"kind": "distinct_id", "identifier": "u1", "action": "confirm"},
        Permission.MANAGE_PROJECT,
    ),
]


@pytest.fixture
def objects(project, alice, make_user):
    dashboard = Dashboard.objects.create(project=project, name="Board")
    insight = Insight.objects.create(project=project, name="Signups", kind="TrendsQuery", spec=TRENDS)
    tile = DashboardTile.objects.create(dashboard=dashboard, insight=insight, order=0)
    cohort = Cohort.objects.create(project=project, name="Static", kind=Cohort.Kind.STATIC)
    rule = PathCleaningRule.objects.create(project=project, regex="^/x/.*$", alias="/x", order=0)
    make_user("dana@example.com")
    alert = AlertRule.objects.create(
        project=project, name="Signups alert", insight=insight, detector="threshold"
    )
    return {
        "alert_id": alert.pk,
        "insight_id": insight.pk,
        "dashboard_id": dashboard.pk,
        "tile_id": tile.pk,
        "cohort_id": cohort.pk,
        "rule_id": rule.pk,
        "membership_id": Membership.objects.get(user=alice, project=project).pk,
    }


@pytest.fixture
def support(make_user, project):
    user = make_user("sam@example.com")
    Membership.objects.create(user=user, project=project, role=Role.SUPPORT)
    return user


def snapshot(project) -> list:
    """What any of the writes would change."""
    return [
        list(Insight.objects.filter(project=project).values_list("pk", "name")),
        list(Dashboard.objects.filter(project=project).values_list("pk", "name", "date_from", "filters")),
        list(
            DashboardTile.objects.filter(dashboard__project=project).values_list(
                "pk", "order", "width", "height"
            )
        ),
        list(ShareLink.objects.filter(project=project).values_list("pk", "revoked_at")),
        list(Cohort.objects.filter(project=project).values_list("pk", "name", "status")),
        list(PathCleaningRule.objects.filter(project=project).values_list("pk", "regex")),
        list(AlertRule.objects.filter(project=project).values_list("pk", "name", "muted")),
        list(Membership.objects.filter(project=project).values_list("pk", "user_id", "role")),
        list(Project.objects.filter(pk=project.pk).values_list("name", "api_token")),
        list(Annotation.objects.filter(project=project).values_list("pk", "content")),
    ]


def target(write: Write, project, objects) -> str:
    return reverse(write.url_name, kwargs={"project_id": project.pk, **{k: objects[k] for k in write.ids}})


@pytest.mark.parametrize("role", ["exec", "support"])
@pytest.mark.parametrize("write", WRITES, ids=lambda w: f"{w.url_name}:{json.dumps(w.data)[:40]}")
def test_the_gate_refuses_writes_of_read_only_roles_and_readers_still_read(
    client, bob, support, project, objects, role, write
):
    user, role_label = (bob, "Executive") if role == "exec" else (support, "Support")
    client.force_login(user)
    path = target(write, project, objects)
    data = {k: objects.get(v, v) if isinstance(v, str) else v for k, v in write.data.items()}
    before = snapshot(project)
    reason = f"Your role ({role_label}) in Acme does not allow: {write.needs.label}."
    if write.api:
        response = client.post(path, json.dumps(data), content_type="application/json")
        assert response.status_code == 403
        assert response.json() == {"error": reason}
    else:
        response = client.post(path, data)
        assert response.status_code == 403
        assert reason in response.content.decode()
    assert snapshot(project) == before
    if write.readable:
        assert client.get(path).status_code == 200


def test_saving_from_a_builder_needs_edit_insights_to_open_the_form(client, bob, project):
    client.force_login(bob)
    response = client.get(reverse("dashboards:insight_new", kwargs={"project_id": project.pk}))
    assert response.status_code == 403
    assert f"does not allow: {Permission.EDIT_INSIGHTS.label}." in response.content.decode()


def test_writers_pass_the_gate(client, alice, project, objects):
    client.force_login(alice)
    path = reverse("paths:cleaning_rules", kwargs={"project_id": project.pk})
    assert client.post(path, {"regex": "b+", "alias": "c"}).status_code == 200
    api = reverse("cohorts:api_cohorts", kwargs={"project_id": project.pk})
    body = {"name": "By API", "kind": "static", "definition": {"distinct_ids": ["u1"]}}
    assert client.post(api, json.dumps(body), content_type="application/json").status_code == 201


@pytest.mark.parametrize(
    ("method", "missing"),
    [
        ("GET", None),
        ("HEAD", None),
        ("OPTIONS", None),
        ("POST", Permission.EDIT_INSIGHTS),
        ("PUT", Permission.EDIT_INSIGHTS),
        ("PATCH", Permission.EDIT_INSIGHTS),
        ("DELETE", Permission.EDIT_INSIGHTS),
    ],
)
def test_write_applies_to_unsafe_methods_only(method, missing):
    reader = frozenset({Permission.VIEW_PROJECT, Permission.VIEW_INSIGHTS})
    assert lacking(reader, Permission.VIEW_INSIGHTS, Permission.EDIT_INSIGHTS, method) == missing
    assert (
        lacking(
            reader | {Permission.EDIT_INSIGHTS}, Permission.VIEW_INSIGHTS, Permission.EDIT_INSIGHTS, method
        )
        is None
    )
    assert (
        lacking(frozenset(), Permission.VIEW_INSIGHTS, Permission.EDIT_INSIGHTS, method)
        == Permission.VIEW_INSIGHTS
    )
