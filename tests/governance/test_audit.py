"""The audit log: each change writes one entry (who, from where, before and after), the
page and its CSV (admins only), retention, and that no one can change or delete entries."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import os
import re
from dataclasses import dataclass, field

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client, override_settings
from django.test.html import parse_html
from django.test.utils import CaptureQueriesContext
from django.urls import URLPattern, URLResolver, get_resolver, reverse

from analytics_app.models import Membership, PersonalAPIKey, Project
from cohorts.models import Cohort
from dashboards.models import Dashboard, DashboardTile, Insight
from governance.audit_log import PAGE_SIZE
from governance.models import AuditEntry
from governance.roles import Role
from governance.tasks import purge_audit_log
from paths.models import PathCleaningRule

pytestmark = pytest.mark.django_db

IP = "198.51.100.7"
TRENDS = {"kind": "TrendsQuery", "series": [{"event": "signed_up", "math": "total"}], "date_from": "-7d"}


@pytest.fixture
def things(project, alice, make_user):
    insight = Insight.objects.create(project=project, name="Signups", kind="TrendsQuery", spec=TRENDS)
    dashboard = Dashboard.objects.create(project=project, name="Board")
    DashboardTile.objects.create(dashboard=dashboard, insight=insight, order=0)
    return {
        "insight": insight,
        "dashboard": dashboard,
        "cohort": Cohort.objects.create(
            project=project, name="Static", kind=Cohort.Kind.STATIC, definition={"distinct_ids": ["u1"]}
        ),
        "rule": PathCleaningRule.objects.create(project=project, regex="^/x/.*$", alias="/x", order=0),
        "dana": make_user("dana@example.com"),
    }


@dataclass(frozen=True)
class Action:
    """A request an admin makes and the one entry it must write."""

    action: str
    url_name: str
    kwargs: dict = field(default_factory=dict)  # URL kwargs: a `things` key, or a literal
    data: dict | None = None  # POST data; None for a GET
    target: str = ""
    before: dict | None = None
    after: dict | None = None
    in_project: bool = True


ACTIONS = [
    Action(
        "member.add",
        "project_members",
        data={"email": "dana@example.com", "role": "analyst"},
        target="dana@example.com",
        after={"role": "analyst"},
    ),
    Action(
        "member.role",
        "member_update",
        {"membership_id": "bob"},
        {"role": "pm", "confirm": "1"},
        target="bob@example.com",
        before={"role": "exec"},
        after={"role": "pm"},
    ),
    Action(
        "member.remove",
        "member_update",
        {"membership_id": "bob"},
        {"action": "remove"},
        target="bob@example.com",
        before={"role": "exec"},
    ),
    Action(
        "project.settings",
        "project_settings",
        data={
            "name": "Acme 2",
            "time_zone": "Europe/Berlin",
            "recording_enabled": "on",
            "recording_retention_days": 30,
            "replay_resources": "origin",
        },
        target="Acme 2",
        before={"name": "Acme", "time_zone": "UTC"},
        after={"name": "Acme 2", "time_zone": "Europe/Berlin"},
    ),
    Action(
        "insight.delete",
        "dashboards:insight_delete",
        {"insight_id": "insight"},
        {},
        target="Signups",
        before={"name": "Signups", "kind": "TrendsQuery", "spec": TRENDS},
    ),
    Action(
        "dashboard.delete",
        "dashboards:dashboard_delete",
        {"dashboard_id": "dashboard"},
        {},
        target="Board",
        before={"name": "Board", "tiles": ["Signups"]},
    ),
    Action(
        "dashboard.filters",
        "dashboards:dashboard",
        {"dashboard_id": "dashboard"},
        {"action": "dates", "date_from": "-30d", "filter_key": "plan", "filter_value": "pro"},
        target="Board",
        before={"date_from": "", "date_to": "", "filters": []},
        after={
            "date_from": "-30d",
            "date_to": "",
            "filters": [{"key": "plan", "operator": "exact", "value": "pro", "type": "event"}],
        },
    ),
    Action(
        "share_link.create",
        "dashboards:dashboard_share",
        {"dashboard_id": "dashboard"},
        {"action": "create", "expires_at": ""},
        target="dashboard Board",
        after={"expires_at": None},
    ),
    Action(
        "cohort.delete",
        "cohorts:cohort",
        {"cohort_id": "cohort"},
        {"action": "delete"},
        target="Static",
        before={"name": "Static", "kind": "static", "definition": {"distinct_ids": ["u1"]}},
    ),
    Action(
        "path_rule.delete",
        "paths:cleaning_rule_delete",
        {"rule_id": "rule"},
        {},
        target="^/x/.*$",
        before={"regex": "^/x/.*$", "alias": "/x"},
    ),
    Action("export.csv", "explorer:events_export", target="events", after={"query": {}}),
    Action(
        "export.csv",
        "cohorts:cohort_export",
        {"cohort_id": "cohort"},
        target="cohort Static",
        after={"cohort_id": "cohort"},
    ),
    Action("audit.export", "project_audit_export", target="audit log", after={"rows": 0}),
]


def _resolve(value, project, things):
    if value == "bob":
        return Membership.objects.get(project=project, user__username="bob@example.com").pk
    if isinstance(value, str) and value in things:
        return things[value].pk
    if isinstance(value, dict):
        return {k: _resolve(v, project, things) for k, v in value.items()}
    return value


@pytest.mark.parametrize("act", ACTIONS, ids=lambda a: f"{a.action}:{a.url_name}")
def test_each_action_writes_exactly_one_entry(client, alice, project, things, act):
    client.force_login(alice)
    url = reverse(act.url_name, kwargs={"project_id": project.pk, **_resolve(act.kwargs, project, things)})
    if act.data is None:
        response = client.get(url, REMOTE_ADDR=IP)
        if response.streaming:
            b"".join(response.streaming_content)
    else:
        response = client.post(url, act.data, REMOTE_ADDR=IP)
    assert response.status_code in (200, 302), response.content[:500]
    entries = list(AuditEntry.objects.all())
    assert len(entries) == 1, [(e.action, e.target) for e in entries]
    entry = entries[0]
    assert (entry.action, entry.actor, entry.actor_label, entry.ip) == (act.action, alice, alice.username, IP)
    assert (entry.project, entry.target) == (project, act.target)
    assert entry.before == _resolve(act.before, project, things)
    assert entry.after == _resolve(act.after, project, things)


def test_rotating_the_project_token_records_its_prefixes(client, alice, project):
    client.force_login(alice)
    old = project.api_token
    client.post(reverse("project_settings", kwargs={"project_id": project.pk}), {"action": "rotate_token"})
    project.refresh_from_db()
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.before, entry.after) == (
        "project.token",
        {"api_token": old[:8] + "…"},
        {"api_token": project.api_token[:8] + "…"},
    )


def test_saving_settings_unchanged_writes_nothing(client, alice, project):
    client.force_login(alice)
    data = {"name": "Acme", "time_zone": "UTC", "recording_enabled": "on", "recording_retention_days": 30}
    data["replay_resources"] = "origin"
    assert (
        client.post(reverse("project_settings", kwargs={"project_id": project.pk}), data).status_code == 302
    )
    assert not AuditEntry.objects.exists()


def test_a_new_project_is_recorded(client, alice):
    client.force_login(alice)
    client.post(reverse("project_new"), {"name": "Fresh", "time_zone": "UTC"}, REMOTE_ADDR=IP)
    entry = AuditEntry.objects.get()
    assert (entry.action, entry.project.name, entry.ip) == ("project.create", "Fresh", IP)
    assert entry.after == {"name": "Fresh", "time_zone": "UTC", "admin": alice.username}


def test_key_create_and_revoke_are_recorded_without_the_key(client, alice, project):
    client.force_login(alice)
    page = client.post(
        reverse("api_keys"),
        {"label": "etl", "scope": "chosen", "projects": [project.pk], "access": "write"},
        REMOTE_ADDR=IP,
    )
    raw = page.content.decode().split('id="new-key">')[1].split("<")[0]
    key = PersonalAPIKey.objects.get()
    client.post(reverse("api_keys"), {"action": "revoke", "key_id": key.pk}, REMOTE_ADDR=IP)
    created, revoked = AuditEntry.objects.order_by("id")
    facts = {"label": "etl", "mask": key.mask, "scope": ["Acme"], "read_only": False, "expires_at": None}
    assert (created.action, created.after, created.before, created.ip) == ("key.create", facts, None, IP)
    assert (revoked.action, revoked.before, revoked.after) == ("key.revoke", facts, {"revoked": True})
    assert all(e.actor == alice and e.project is None for e in (created, revoked))
    assert raw not in json.dumps([created.after, revoked.before])


def test_a_refused_change_writes_nothing(client, alice, bob, project, things):
    client.force_login(bob)  # exec
    client.post(
        reverse(
            "dashboards:insight_delete", kwargs={"project_id": project.pk, "insight_id": things["insight"].pk}
        )
    )
    client.force_login(alice)
    client.post(
        reverse("project_members", kwargs={"project_id": project.pk}),
        {"email": "nobody@example.com", "role": "pm"},
    )
    assert not AuditEntry.objects.exists()


# --------------------------------------------------------------------------- the page


def audit_url(project, name="project_audit", **params):
    url = reverse(name, kwargs={"project_id": project.pk})
    return f"{url}?{'&'.join(f'{k}={v}' for k, v in params.items())}" if params else url


def entry(project, action, actor, when, **fields):
    return AuditEntry.objects.create(
        project=project,
        project_name=project.name,
        action=action,
        actor=actor,
        actor_label=actor.username if actor else "",
        created_at=when,
        **fields,
    )


def shown(response) -> list[int]:
    """The entry ids of the page's rows, in order."""
    return [int(i) for i in re.findall(r'data-entry="(\d+)"', response.content.decode())]


@pytest.fixture
def log(project, other_project, alice, bob):
    """Entries in Europe/Berlin: 2026-03-01 23:30 local is still 2026-03-01 22:30 UTC."""
    project.time_zone = "Europe/Berlin"
    project.save()
    t = dt.datetime(2026, 3, 1, 22, 30, tzinfo=dt.UTC)
    return {
        "late": entry(project, "member.add", alice, t, target="x", after={"role": "pm"}),
        "next_day": entry(
            project,
            "member.role",
            alice,
            t + dt.timedelta(hours=1),
            before={"role": "pm"},
            after={"role": "admin"},
        ),
        "bob": entry(project, "export.csv", bob, t + dt.timedelta(days=3), target="events"),
        "elsewhere": entry(other_project, "member.add", alice, t),
    }


def test_the_page_lists_the_projects_entries_newest_first(client, alice, project, log):
    client.force_login(alice)
    response = client.get(audit_url(project))
    assert response.status_code == 200
    assert shown(response) == [log["bob"].pk, log["next_day"].pk, log["late"].pk]
    html = response.content.decode()
    assert "2026-03-01 23:30:00" in html and "Member&#x27;s role changed" in html
    assert parse_html("<dt>role</dt>") in parse_html(html)


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"actor": "bob@example.com"}, ["bob"]),
        ({"action": "member.role"}, ["next_day"]),
        ({"date_from": "2026-03-02"}, ["bob", "next_day"]),  # local days: 23:30 on the 1st is excluded
        ({"date_to": "2026-03-01"}, ["late"]),
        ({"date_from": "2026-03-02", "date_to": "2026-03-02", "actor": "alice@example.com"}, ["next_day"]),
    ],
)
def test_the_page_filters_by_actor_action_and_local_days(client, alice, project, log, params, expected):
    client.force_login(alice)
    response = client.get(audit_url(project, **params))
    assert shown(response) == [log[k].pk for k in expected]


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "yesterday"},
        {"date_from": "2026-03-05", "date_to": "2026-03-01"},
        {"action": "drop.table"},
        {"actor": "mallory"},
        {"page": "0"},
        {"page": "x"},
    ],
)
def test_bad_filters_are_400_with_the_form_error(client, alice, project, log, params):
    client.force_login(alice)
    for name in ("project_audit", "project_audit_export"):
        response = client.get(audit_url(project, name, **params))
        assert response.status_code == 400
        assert 'class="form-error"' in response.content.decode()
    assert AuditEntry.objects.filter(action="audit.export").count() == 0


def test_the_page_is_paginated(client, alice, project):
    client.force_login(alice)
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    made = [entry(project, "member.add", alice, t + dt.timedelta(minutes=i)) for i in range(PAGE_SIZE + 3)]
    first = client.get(audit_url(project))
    assert shown(first) == [e.pk for e in reversed(made)][:PAGE_SIZE]
    second = client.get(audit_url(project, page=2))
    assert shown(second) == [e.pk for e in reversed(made[:3])]
    assert client.get(audit_url(project, page=99)).status_code == 200  # the last page


def test_the_csv_is_the_filtered_set_and_is_itself_audited(client, alice, project, log):
    client.force_login(alice)
    AuditEntry.objects.create(
        project=project,
        action="member.add",
        actor_label="=HYPERLINK(1)",
        target="@x",
        created_at=dt.datetime(2026, 3, 2, tzinfo=dt.UTC),
    )
    response = client.get(
        audit_url(project, "project_audit_export", actor="alice@example.com"), REMOTE_ADDR=IP
    )
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["action"] for r in rows] == ["member.role", "member.add"]
    assert rows[0]["time"] == "2026-03-02T00:30:00+01:00"
    assert json.loads(rows[0]["before"]) == {"role": "pm"} and json.loads(rows[0]["after"]) == {
        "role": "admin"
    }
    exported = AuditEntry.objects.get(action="audit.export")
    assert (exported.actor, exported.ip, exported.after) == (
        alice,
        IP,
        {"actor": "alice@example.com", "rows": 2},
    )
    everything = client.get(audit_url(project, "project_audit_export"))
    cells = list(csv.reader(io.StringIO(b"".join(everything.streaming_content).decode())))
    assert ["'=HYPERLINK(1)", "member.add", "'@x"] in [row[1:4] for row in cells]


@pytest.mark.parametrize("role", [Role.ANALYST, Role.PM, Role.EXEC, Role.SUPPORT])
def test_only_admins_see_the_audit_log(client, make_user, project, log, role):
    user = make_user(f"{role}@example.com")
    Membership.objects.create(user=user, project=project, role=role)
    client.force_login(user)
    for name in ("project_audit", "project_audit_export"):
        response = client.get(audit_url(project, name))
        assert response.status_code == 403
        assert "does not allow: View the audit log." in response.content.decode()
    assert (
        reverse("project_audit", kwargs={"project_id": project.pk})
        not in client.get(reverse("project_overview", kwargs={"project_id": project.pk})).content.decode()
    )
    assert not AuditEntry.objects.filter(action="audit.export").exists()


def test_strangers_get_404_and_anonymous_the_login(client, charlie, project, alice):
    for name in ("project_audit", "project_audit_export"):
        assert client.get(audit_url(project, name)).status_code == 302
    client.force_login(charlie)
    for name in ("project_audit", "project_audit_export"):
        assert client.get(audit_url(project, name)).status_code == 404
    client.force_login(alice)
    menu = client.get(reverse("project_overview", kwargs={"project_id": project.pk})).content.decode()
    assert f'href="{reverse("project_audit", kwargs={"project_id": project.pk})}"' in menu


# ---------------------------------------------------------------- append-only


def _patterns(resolver=None, prefix=""):
    for p in (resolver or get_resolver()).url_patterns:
        if isinstance(p, URLResolver):
            yield from _patterns(p, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def _fill(route: str, project, entry_id: int) -> str:
    """A concrete path for a route: the project's id, the entry's id for every other int."""
    path = re.sub(r"<int:project_id>", str(project.pk), route)
    path = re.sub(r"<int:\w+>", str(entry_id), path)
    path = re.sub(r"<uuid:\w+>", "00000000-0000-0000-0000-000000000001", path)
    path = re.sub(r"<(?:str|slug|path):\w+>", str(entry_id), path)
    return "/" + path.lstrip("^").rstrip("$").replace("\\", "")


def _frozen():
    return list(AuditEntry.objects.order_by("id").values())


def test_no_url_changes_or_deletes_an_entry_even_for_an_admin_superuser(project, alice, log):
    alice.is_staff = alice.is_superuser = True
    alice.save()
    api_key = PersonalAPIKey.issue(alice, "rw", read_only=False)[1]
    before = _frozen()
    mine = log["late"]
    client = Client(raise_request_exception=False)
    client.force_login(alice)
    assert client.get("/admin/").status_code == 200  # she is a superuser there too
    assert client.get(f"/admin/governance/auditentry/{mine.pk}/delete/").status_code == 404  # not registered
    assert client.get("/admin/").status_code == 200  # she is a superuser there too
    assert client.get(f"/admin/governance/auditentry/{mine.pk}/delete/").status_code == 404  # not registered
    data = {
        "action": "delete",
        "id": mine.pk,
        "pk": mine.pk,
        "entry_id": mine.pk,
        "key_id": mine.pk,
        "action_name": "nothing",
        "target": "changed",
    }
    # Django admin's last: its delete views may delete alice herself
    routes = sorted(set(_patterns()), key=lambda r: (r.startswith("admin/"), r))
    assert any("audit" in r for r in routes)
    to_login = []
    for route in routes:
        path = _fill(route, project, mine.pk)
        for method in ("post", "put", "patch", "delete"):
            if get_user_model().objects.filter(pk=alice.pk).exists():  # admin's delete views may remove her
                client.force_login(alice)  # again: one of the URLs is /logout/
            response = getattr(client, method)(
                path,
                data if method == "post" else json.dumps(data),
                **({} if method == "post" else {"content_type": "application/json"}),
            )
            if response.get("Location", "").startswith(("/login/", "/admin/login/")):
                to_login.append((method, path))
            getattr(client, method)(
                path,
                json.dumps(data),
                content_type="application/json",
                headers={"Authorization": f"Bearer {api_key}"},
            )
    assert [(m, p) for m, p in to_login if not p.startswith(("/admin/", "/logout/"))] == []  # all hers
    after = _frozen()
    users = set(get_user_model().objects.values_list("pk", flat=True))
    projects = set(Project.objects.values_list("pk", flat=True))
    for old, new in zip(before, after, strict=False):
        # the one change allowed: a reference cleared when its user or project was deleted
        # (Django admin's delete views are among the URLs), the labels kept
        if new["actor_id"] is None and old["actor_id"] not in users:
            new = {**new, "actor_id": old["actor_id"]}
        if new["project_id"] is None and old["project_id"] not in projects:
            new = {**new, "project_id": old["project_id"]}
        assert new == old, f"entry {old['id']} changed"
    assert [e["id"] for e in after[: len(before)]] == [e["id"] for e in before]


@pytest.mark.parametrize("role", list(Role))
def test_the_audit_urls_only_answer_get(client, make_user, project, log, role):
    user = make_user(f"{role}@example.com")
    Membership.objects.create(user=user, project=project, role=role)
    client.force_login(user)
    for name in ("project_audit", "project_audit_export"):
        for method in ("post", "put", "patch", "delete"):
            assert getattr(client, method)(audit_url(project, name)).status_code == 405
    assert AuditEntry.objects.count() == 4


def test_the_orm_refuses_bulk_updates_and_deletes(log):
    with pytest.raises(PermissionError):
        AuditEntry.objects.all().delete()
    with pytest.raises(PermissionError):
        AuditEntry.objects.filter(pk=log["late"].pk).update(action="nothing")
    with pytest.raises(PermissionError):
        AuditEntry.objects.update(actor=None, target="x")
    assert AuditEntry.objects.count() == 4


def test_deleting_a_user_or_project_keeps_their_entries_by_name(log, bob, other_project):
    bob.delete()
    entry_ = AuditEntry.objects.get(pk=log["bob"].pk)
    assert (entry_.actor, entry_.actor_label) == (None, "bob@example.com")
    other_project.delete()
    gone = AuditEntry.objects.get(pk=log["elsewhere"].pk)
    assert (gone.project, gone.project_name) == (None, "Globex")


# ---------------------------------------------------------------- retention


@override_settings(AUDIT_RETENTION_DAYS=30)
def test_the_purge_deletes_only_entries_past_retention_and_records_itself(project, alice):
    from django.utils import timezone  # noqa: PLC0415

    now = timezone.now()
    old = entry(project, "member.add", alice, now - dt.timedelta(days=31))
    kept = entry(project, "member.add", alice, now - dt.timedelta(days=29))
    assert purge_audit_log() == 1
    assert set(AuditEntry.objects.values_list("action", flat=True)) == {"member.add", "audit.purge"}
    assert (
        not AuditEntry.objects.filter(pk=old.pk).exists() and AuditEntry.objects.filter(pk=kept.pk).exists()
    )
    assert AuditEntry.objects.get(action="audit.purge").after["deleted"] == 1
    assert purge_audit_log() == 0  # again: nothing more


@override_settings(AUDIT_RETENTION_DAYS=0)
def test_retention_zero_keeps_everything(project, alice):
    entry(project, "member.add", alice, dt.datetime(2000, 1, 1, tzinfo=dt.UTC))
    assert purge_audit_log() == 0
    assert AuditEntry.objects.count() == 1


def test_the_purge_runs_daily_from_beat():
    from django.conf import settings  # noqa: PLC0415

    schedule = {v["task"]: v["schedule"] for v in settings.CELERY_BEAT_SCHEDULE.values()}
    assert schedule["governance.purge_audit_log"] == 86400.0
    assert settings.AUDIT_RETENTION_DAYS == int(os.environ.get("AUDIT_RETENTION_DAYS", "365"))


# ---------------------------------------------------------------- PostgreSQL trigger

on_postgres = pytest.mark.skipif(
    not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")),
    reason="the append-only trigger exists on PostgreSQL only (DATABASE_URL=postgres://...)",
)


@on_postgres
def test_postgres_refuses_update_and_delete_in_sql(log):
    from django.db import DatabaseError, transaction  # noqa: PLC0415

    assert connection.vendor == "postgresql"
    pk = log["late"].pk
    for sql in (
        "UPDATE governance_auditentry SET action = 'nothing' WHERE id = %s",
        "UPDATE governance_auditentry SET after = NULL WHERE id = %s",
        "UPDATE governance_auditentry SET project_id = NULL, target = 'y' WHERE id = %s",
        "DELETE FROM governance_auditentry WHERE id = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as c,
        ):
            c.execute(sql, [pk])
    assert AuditEntry.objects.get(pk=pk).action == "member.add"


@on_postgres
def test_postgres_lets_the_purge_setting_delete_only_older_rows(log):
    from django.db import DatabaseError, transaction  # noqa: PLC0415

    cutoff = dt.datetime(2026, 3, 1, 23, tzinfo=dt.UTC)  # after "late" (22:30 UTC), before "next_day"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
        c.execute("SELECT set_config('sextant.audit_purge_before', %s, true)", [cutoff.isoformat()])
        c.execute("DELETE FROM governance_auditentry WHERE id = %s", [log["bob"].pk])
    # the setting ended with its transaction: without it, even an old row stays
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
        c.execute("DELETE FROM governance_auditentry WHERE id = %s", [log["late"].pk])
    assert AuditEntry.objects.purge_before(cutoff) == 2  # "late" and "elsewhere"
    assert set(AuditEntry.objects.values_list("pk", flat=True)) == {log["next_day"].pk, log["bob"].pk}


@on_postgres
def test_postgres_lets_a_deleted_user_clear_the_actor(log, bob):
    bob.delete()
    assert AuditEntry.objects.get(pk=log["bob"].pk).actor_label == "bob@example.com"


def test_only_admins_have_view_audit_log():
    from governance.roles import ROLE_PERMISSIONS, Permission  # noqa: PLC0415

    assert {r for r in Role if Permission.VIEW_AUDIT_LOG in ROLE_PERMISSIONS[r]} == {Role.ADMIN}


@pytest.mark.django_db(transaction=True)
def test_the_migration_grants_view_audit_log_to_existing_admins():
    from django.db.migrations.executor import MigrationExecutor  # noqa: PLC0415
    from guardian.models import UserObjectPermission  # noqa: PLC0415

    before = [("analytics_app", "0003_api_key_scopes")]
    after = [("analytics_app", "0004_view_audit_log_permission")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        project = old.get_model("analytics_app", "Project").objects.create(name="Acme")
        users = {}
        for role in Role:
            users[role] = old.get_model("auth", "User").objects.create(username=f"{role}@example.com")
            old.get_model("analytics_app", "Membership").objects.create(
                user=users[role], project=project, role=role
            )
        executor.loader.build_graph()
        executor.migrate(after)
        granted = set(
            UserObjectPermission.objects.filter(
                permission__codename="view_audit_log", object_pk=str(project.pk)
            ).values_list("user_id", flat=True)
        )
        assert granted == {users[Role.ADMIN].pk}
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def test_the_page_costs_the_same_queries_for_5_or_50_entries(client, alice, project):
    client.force_login(alice)
    t = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    url = audit_url(project)
    for i in range(5):
        entry(project, "member.role", alice, t + dt.timedelta(minutes=i), before={"role": "pm"})
    client.get(url)  # warm the session and content types
    with CaptureQueriesContext(connection) as few:
        client.get(url)
    for i in range(45):
        entry(project, "member.add", alice, t + dt.timedelta(hours=1, minutes=i), after={"role": "pm"})
    with CaptureQueriesContext(connection) as many:
        assert len(shown(client.get(url))) == 50
    assert len(many.captured_queries) == len(few.captured_queries)
