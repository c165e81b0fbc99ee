"""The role x URL matrix: every URL in the URLconf, requested (GET) by every kind of caller,
answers the status the access rules say.

Callers: anonymous, a stranger (signed in, admin of another project only), a member of
each built-in role, a member of a custom role, and personal API keys of each scope (all
projects, a list, read-only, another project's, expired, revoked) on the JSON API. Each URL is
declared once in MATRIX below with what it needs; a URL added to the URLconf without an
entry fails `test_every_url_is_in_the_matrix`. Writes (POST) are covered per endpoint by
tests/analytics_app/test_write_gate.py; this matrix is about who may read what.

Expected statuses, from the declaration:
- PUBLIC(status): everyone gets `status` (capture, SDK config, the replay frame, login).
- SIGNED_IN(status): signed-in users get `status`; anonymous callers go to the login page.
- Project(perm): a project's page or API. Anonymous: pages redirect to login, APIs answer 401;
  a stranger: 404 (a project you are not in does not exist for you); a member without `perm`:
  403; with it: `ok` (200 unless said).
- POST_ONLY: 405 for every caller (the method check comes before the gate and reveals nothing).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass

import pytest
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from alerts.models import AlertRule
from analytics_app.models import Membership, PersonalAPIKey
from cohorts.models import Cohort
from dashboards.models import Dashboard, DashboardTile, Insight
from governance.models import CustomRole, EventDefinition
from governance.roles import ROLE_PERMISSIONS, Permission, Role
from paths.models import PathCleaningRule
from tests.replay.test_snapshots_api import recent_events, record
from trends.models import Annotation

pytestmark = pytest.mark.django_db

P = Permission


@dataclass(frozen=True)
class Public:
    status: int
    kwargs: tuple[str, ...] = ()
    signed_in: int | None = None  # when signed-in callers get another status


@dataclass(frozen=True)
class SignedIn:
    status: int


@dataclass(frozen=True)
class Project:
    perm: Permission
    kwargs: tuple[str, ...] = ()
    api: bool = False
    ok: int = 200


@dataclass(frozen=True)
class Creator:
    """Signed-in users who may create projects (SEXTANT_PROJECT_CREATORS="admin": those who
    manage members somewhere) get 200, others 403."""


@dataclass(frozen=True)
class PostOnly:
    kwargs: tuple[str, ...] = ()
    project: bool = True  # a project's URL (has project_id)


ANY = ()  # no URL kwargs besides project_id
MATRIX: dict[str, object] = {
    "home": SignedIn(302),  # to the user's project (alice and each member) or the no-project page
    "login": Public(200, signed_in=302),  # a signed-in user is sent on
    "logout": PostOnly(project=False),
    "health": Public(200),
    "project_new": Creator(),
    "switch_project": SignedIn(302),
    "api_schema": Public(200),
    "project_overview": Project(P.VIEW_PROJECT),
    "project_settings": Project(P.VIEW_PROJECT),
    "api_query": PostOnly(),
    "project_members": Project(P.VIEW_PROJECT),
    "project_audit": Project(P.VIEW_AUDIT_LOG),
    "project_roles": Project(P.VIEW_PROJECT),
    "custom_role_update": PostOnly(("role_id",)),
    "invite_create": PostOnly(),
    "invite_update": PostOnly(("invite_id",)),
    "member_create_user": PostOnly(),
    "invite_accept": Public(404, ("invite_token",)),  # an unknown link
    "project_audit_export": Project(P.VIEW_AUDIT_LOG),
    "project_deletions": Project(P.MANAGE_PROJECT),
    "member_update": PostOnly(("membership_id",)),
    "api_keys": SignedIn(200),
    "plan": Project(P.VIEW_INSIGHTS),
    "plan_event_new": Project(P.MANAGE_PLAN),
    "plan_event": Project(P.VIEW_INSIGHTS, ("event_id",)),
    "plan_person_properties": Project(P.VIEW_INSIGHTS),
    "plan_export": Project(P.VIEW_INSIGHTS),
    "plan_import": Project(P.MANAGE_PLAN),
    "plan_discovered": Project(P.VIEW_INSIGHTS),
    "plan_quarantine": Project(P.VIEW_INSIGHTS),
    "api_property_names": Project(P.VIEW_INSIGHTS, api=True),
    "api_property_values": Project(P.VIEW_INSIGHTS, api=True, ok=400),  # no ?key=
    "account": SignedIn(200),
    "signout_everywhere": PostOnly(project=False),
    "two_factor": SignedIn(200),
    "two_factor_verify": SignedIn(302),  # nothing to verify without a device: sent on
    "password_change": SignedIn(200),
    "password_reset": Public(200),
    "password_reset_done": Public(200),
    "password_reset_confirm": Public(200, ("uidb64", "reset_token")),  # a bad link says so
    "password_reset_complete": Public(200),
    "capture": Public(400),
    "capture_snapshots": Public(400),
    "remote_config": Public(200, ("token",)),
    "remote_config_js": Public(200, ("token",)),
    "flags": Public(401),  # no project token: which project's flags?
    "decide": Public(401),
    "lazy_static": Public(200, ("version", "filename")),
    "lazy_static_unversioned": Public(200, ("filename",)),
    "ingestion_warnings": Project(P.VIEW_INSIGHTS),
    "trends:trends": Project(P.VIEW_INSIGHTS),
    "trends:trends_persons": Project(P.VIEW_INSIGHTS, ok=400),  # no series given: says which
    "trends:annotations": Project(P.VIEW_INSIGHTS),  # POST (create) needs EDIT_INSIGHTS
    "trends:annotation_delete": PostOnly(("annotation_id",)),  # its author or EDIT_INSIGHTS
    "explorer:events": Project(P.VIEW_INSIGHTS),
    "explorer:events_export": Project(P.EXPORT_DATA),
    "explorer:event": Project(P.VIEW_INSIGHTS, ("event_uuid",)),
    "explorer:persons": Project(P.VIEW_INSIGHTS),
    "explorer:person": Project(P.VIEW_INSIGHTS, ("person_id",)),
    "explorer:api_persons": Project(P.VIEW_INSIGHTS, api=True),
    "explorer:api_person": Project(P.VIEW_INSIGHTS, ("person_id",), api=True),
    "dashboards:insights": Project(P.VIEW_INSIGHTS),
    "dashboards:insight_new": Project(P.EDIT_INSIGHTS),
    "dashboards:insight": Project(P.VIEW_INSIGHTS, ("insight_id",)),
    "dashboards:insight_delete": PostOnly(("insight_id",)),
    "dashboards:insight_add_to_dashboard": PostOnly(("insight_id",)),
    "alerts:alerts": Project(P.VIEW_INSIGHTS),
    "alerts:alert_new": Project(P.MANAGE_ALERTS),
    "alerts:notifications": Project(P.VIEW_INSIGHTS),
    "alerts:alert": Project(P.VIEW_INSIGHTS, ("alert_id",)),
    "alerts:alert_edit": Project(P.MANAGE_ALERTS, ("alert_id",)),
    "alerts:alert_snooze": PostOnly(("alert_id",)),
    "alerts:alert_delete": PostOnly(("alert_id",)),
    "dashboards:dashboards": Project(P.VIEW_INSIGHTS),
    "dashboards:dashboard": Project(P.VIEW_INSIGHTS, ("dashboard_id",)),
    "dashboards:dashboard_delete": PostOnly(("dashboard_id",)),
    "dashboards:dashboard_tile": Project(P.VIEW_INSIGHTS, ("dashboard_id", "tile_id")),
    "dashboards:tile_update": PostOnly(("dashboard_id", "tile_id")),
    "dashboards:insight_share": Project(P.EDIT_INSIGHTS, ("insight_id",)),
    "dashboards:dashboard_share": Project(P.EDIT_INSIGHTS, ("dashboard_id",)),
    # Public: the token is the credential; an unknown one is 404 for everyone (a live one:
    # tests/sharing/test_share_links.py).
    "dashboards:shared": Public(404, ("token",)),
    "dashboards:embed": Public(404, ("token",)),
    "funnels:funnel": Project(P.VIEW_INSIGHTS),
    "funnels:actors": Project(P.VIEW_INSIGHTS, ok=400),
    "funnels:time_to_convert": Project(P.VIEW_INSIGHTS, ok=400),
    "funnels:conversion_trend": Project(P.VIEW_INSIGHTS, ok=400),
    "funnels:correlation": Project(P.VIEW_INSIGHTS, ok=400),
    "funnels:correlation_actors": Project(P.VIEW_INSIGHTS, ok=400),
    "cohorts:cohorts": Project(P.VIEW_INSIGHTS),
    "cohorts:cohort": Project(P.VIEW_INSIGHTS, ("cohort_id",)),
    "cohorts:cohort_export": Project(P.EXPORT_DATA, ("cohort_id",)),
    # act on a drill-down's people / export a result table (no drill-down or spec given: 400)
    "cohorts:from_people": PostOnly(("kind",)),
    "insights:people_export": Project(P.EXPORT_DATA, ("kind",), ok=400),
    "insights:result_export": Project(P.EXPORT_DATA, ("kind", "fmt"), ok=400),
    "cohorts:api_cohorts": Project(P.VIEW_INSIGHTS, api=True),
    "cohorts:api_cohort": Project(P.VIEW_INSIGHTS, ("cohort_id",), api=True),
    "cohorts:api_cohort_persons": Project(P.VIEW_INSIGHTS, ("cohort_id",), api=True),
    "retention:retention": Project(P.VIEW_INSIGHTS),
    "retention:retention_persons": Project(P.VIEW_INSIGHTS, ok=400),
    "paths:paths": Project(P.VIEW_INSIGHTS),
    "paths:top_paths": Project(P.VIEW_INSIGHTS, ok=400),
    "paths:path_nodes": Project(P.VIEW_INSIGHTS, ok=400),
    "paths:paths_sessions": Project(P.VIEW_INSIGHTS, ok=400),
    "paths:cleaning_rules": Project(P.VIEW_INSIGHTS),
    "paths:cleaning_rule_delete": PostOnly(("rule_id",)),
    "paths:cleaning_preview": Project(P.VIEW_INSIGHTS),
    "replay:list": Project(P.VIEW_RECORDINGS),
    "replay:api_list": Project(P.VIEW_RECORDINGS, api=True),
    "replay:player": Project(P.VIEW_RECORDINGS, ("session_id",)),
    "replay:frame": Public(200),
    "replay:api_snapshots": Project(P.VIEW_RECORDINGS, ("session_id",), api=True),
}


def url_names() -> list[str]:
    """Every named URL of the URLconf (namespaced), except Django's admin site."""
    names: list[str] = []

    def walk(patterns, namespace=""):
        for p in patterns:
            if isinstance(p, URLResolver):
                if p.app_name == "admin":
                    continue
                walk(p.url_patterns, namespace + (f"{p.namespace}:" if p.namespace else ""))
            elif isinstance(p, URLPattern) and p.name:
                names.append(namespace + p.name)

    walk(get_resolver().url_patterns)
    return list(dict.fromkeys(names))


def test_every_url_is_in_the_matrix():
    assert sorted(set(url_names()) - set(MATRIX)) == [], "declare each new URL in MATRIX"
    assert sorted(set(MATRIX) - set(url_names())) == [], "MATRIX names URLs that no longer exist"


@pytest.fixture
def world(project, other_project, alice, make_user, events):
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    event_uuid = uuid.uuid4()
    events.add("signup", "u1", now, {"plan": "pro"}, uuid=event_uuid)
    events.flush()
    session_id = record(project, recent_events(), distinct_id="u1")
    dashboard = Dashboard.objects.create(project=project, name="Board")
    spec = {"kind": "TrendsQuery", "series": [{"event": "signup", "math": "total"}], "date_from": "-7d"}
    insight = Insight.objects.create(project=project, name="Signups", kind="TrendsQuery", spec=spec)
    tile = DashboardTile.objects.create(dashboard=dashboard, insight=insight, order=0)
    alert = AlertRule.objects.create(
        project=project, name="Signups alert", insight=insight, detector="threshold"
    )
    cohort = Cohort.objects.create(project=project, name="Static", kind=Cohort.Kind.STATIC)
    rule = PathCleaningRule.objects.create(project=project, regex="^/x/.*$", alias="/x", order=0)
    event_definition = EventDefinition.objects.create(project=project, name="signup")
    members = {}
    for role in Role:
        user = make_user(f"matrix-{role}@example.com")
        Membership.objects.create(user=user, project=project, role=role)
        members[role.value] = user
    custom = CustomRole.objects.create(project=project, name="Support lead", permissions=sorted(CUSTOM))
    members["custom"] = make_user("matrix-custom@example.com")
    Membership.objects.create(user=members["custom"], project=project, role="", custom_role=custom)
    return {
        "project_id": project.pk,
        "token": project.api_token,
        "version": "1.200.0",
        "filename": "recorder.js",
        "uidb64": "MQ",
        "reset_token": "not-a-token",
        "invite_token": "never-issued",
        "role_id": custom.pk,
        "invite_id": 1,
        "event_uuid": event_uuid,
        "person_id": events.person_for("u1"),
        "session_id": session_id,
        "insight_id": insight.pk,
        "alert_id": alert.pk,
        "dashboard_id": dashboard.pk,
        "tile_id": tile.pk,
        "cohort_id": cohort.pk,
        "kind": "funnels",
        "fmt": "csv",
        "rule_id": rule.pk,
        "event_id": event_definition.pk,
        "annotation_id": Annotation.objects.create(project=project, date_marker=now, content="Launch").pk,
        "membership_id": Membership.objects.get(user=alice, project=project).pk,
        "members": members,
    }


def path_of(name: str, access, world) -> str:
    kwargs = {
        k.removeprefix("reset_").removeprefix("invite_"): world[k] for k in getattr(access, "kwargs", ())
    }
    if "invite_id" in getattr(access, "kwargs", ()):
        kwargs = {"invite_id": world["invite_id"]}
    if isinstance(access, Project) or (isinstance(access, PostOnly) and access.project):
        kwargs["project_id"] = world["project_id"]
    return reverse(name, kwargs=kwargs)


# The custom role of the matrix: support who may also export and read PII.
CUSTOM = frozenset({P.VIEW_PROJECT, P.VIEW_INSIGHTS, P.VIEW_RECORDINGS, P.VIEW_PII, P.EXPORT_DATA})
PERMISSIONS = {**ROLE_PERMISSIONS, "custom": CUSTOM}


def expected(access, caller: str) -> int:
    """`caller`: "anonymous", "stranger" (admin of another project), a role name or "custom"."""
    if isinstance(access, PostOnly):
        return 405
    if isinstance(access, Public):
        if access.signed_in is not None and caller != "anonymous":
            return access.signed_in
        return access.status
    if caller == "anonymous":
        return 401 if isinstance(access, Project) and access.api else 302
    if isinstance(access, SignedIn):
        return access.status
    if isinstance(access, Creator):
        return 200 if caller == "stranger" or P.MANAGE_MEMBERS in PERMISSIONS[caller] else 403
    if caller == "stranger":
        return 404
    return access.ok if access.perm in PERMISSIONS[caller] else 403


CALLERS = ["anonymous", "stranger", *[r.value for r in Role], "custom"]


@pytest.mark.parametrize("caller", CALLERS)
def test_each_caller_gets_what_the_matrix_says(client, charlie, world, caller):
    if caller == "stranger":
        client.force_login(charlie)  # admin of another project only
    elif caller != "anonymous":
        client.force_login(world["members"][caller])
    wrong = {}
    for name, access in MATRIX.items():
        path = path_of(name, access, world)
        status = client.get(path).status_code
        want = expected(access, caller)
        if status != want:
            wrong[name] = f"GET {path}: {status}, expected {want}"
    assert wrong == {}


def test_a_redirect_to_sign_in_keeps_where_the_caller_was_going(client, world):
    path = reverse("retention:retention", kwargs={"project_id": world["project_id"]})
    response = client.get(path)
    assert response.status_code == 302 and response["Location"].startswith(reverse("login"))
    assert "next=" in response["Location"]


def _bearer(raw: str) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {raw}"}


API = [name for name, access in MATRIX.items() if isinstance(access, Project) and access.api]


@pytest.mark.parametrize("role", [Role.ADMIN, Role.EXEC, Role.SUPPORT])
def test_a_personal_key_acts_with_its_owners_role(client, world, role):
    _, raw = PersonalAPIKey.issue(world["members"][role.value], "matrix")
    wrong = {}
    for name in API:
        access = MATRIX[name]
        path = path_of(name, access, world)
        status = client.get(path, **_bearer(raw)).status_code
        want = expected(access, role.value)
        if status != want:
            wrong[name] = f"GET {path}: {status}, expected {want}"
    assert wrong == {}


@pytest.mark.parametrize(
    ("scope", "want"),
    [
        ("all projects, read-only", "role"),
        ("this project, read-only", "role"),
        ("another project only", 404),
        ("expired", 401),
    ],
)
def test_each_key_scope_on_every_api_url(client, other_project, world, scope, want):
    owner = world["members"]["admin"]
    Membership.objects.create(user=owner, project=other_project, role=Role.ADMIN)
    this = world["project_id"]
    kwargs = {
        "all projects, read-only": {},
        "this project, read-only": {"projects": [this]},
        "another project only": {"projects": [other_project.pk], "read_only": False},
        "expired": {"read_only": False, "expires_at": dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)},
    }[scope]
    _, raw = PersonalAPIKey.issue(owner, "matrix", **kwargs)
    statuses = {
        name: client.get(path_of(name, MATRIX[name], world), **_bearer(raw)).status_code for name in API
    }
    assert statuses == {name: expected(MATRIX[name], "admin") if want == "role" else want for name in API}


def test_a_key_is_worth_nothing_in_a_project_its_owner_is_not_in(client, charlie, world):
    _, raw = PersonalAPIKey.issue(charlie, "matrix")
    statuses = {
        name: client.get(path_of(name, MATRIX[name], world), **_bearer(raw)).status_code for name in API
    }
    assert statuses == dict.fromkeys(API, 404)


def test_a_revoked_or_unknown_key_is_401(client, world):
    key, raw = PersonalAPIKey.issue(world["members"]["admin"], "matrix")
    key.revoke()
    path = path_of("explorer:api_persons", MATRIX["explorer:api_persons"], world)
    for token in (raw, "phx_never-issued"):
        response = client.get(path, **_bearer(token))
        assert response.status_code == 401, token
        assert json.loads(response.content)["error"]
