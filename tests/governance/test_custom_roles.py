"""Custom roles per project (governance/custom_roles.py): created, changed and deleted on
the roles page, given to members on the members page; their permissions are the guardian
object permissions; the confirmation and last-admin rules hold for them too; the role x
permission matrix shows every role in words."""

from __future__ import annotations

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_app.models import Membership
from governance.models import AuditEntry, CustomRole, Invite
from governance.roles import ROLE_DESCRIPTIONS, Permission, Role

from .pages import select_options, text, texts

pytestmark = pytest.mark.django_db


def roles_url(project) -> str:
    return reverse("project_roles", kwargs={"project_id": project.pk})


def role_url(project, role) -> str:
    return reverse("custom_role_update", kwargs={"project_id": project.pk, "role_id": role.pk})


def update_url(project, membership) -> str:
    return reverse("member_update", kwargs={"project_id": project.pk, "membership_id": membership.pk})


def perms_of(user, project) -> set[str]:
    from guardian.shortcuts import get_perms  # noqa: PLC0415

    return set(get_perms(user, project))


def make_role(project, name="Viewer", permissions=("view_insights",)) -> CustomRole:
    return CustomRole.objects.create(project=project, name=name, permissions=list(permissions))


def test_an_admin_creates_a_custom_role_and_it_is_in_the_matrix(alice_client, project):
    response = alice_client.post(
        roles_url(project), {"name": "  Data  steward ", "permissions": ["view_insights", "manage_plan"]}
    )
    assert response.status_code == 302
    role = CustomRole.objects.get(project=project)
    assert role.name == "Data steward"
    assert role.permissions == ["view_project", "view_insights", "manage_plan"]  # view_project always
    entry = AuditEntry.objects.get(project=project, action="role.create")
    assert (entry.target, entry.after) == ("Data steward", {"permissions": role.permissions})

    html = alice_client.get(roles_url(project)).content.decode()
    header = texts(html, "class", "role-col")
    assert header == ["Admin", "Analyst", "Product manager", "Executive", "Support", "Data steward custom"]
    rows = texts(html, "class", "matrix-row")
    plan = next(r for r in rows if r.startswith("Manage the tracking plan"))
    assert plan.endswith("✓ yes ✓ yes – no – no – no ✓ yes")
    pii = next(r for r in rows if r.startswith("View PII properties unmasked"))
    assert pii.endswith("✓ yes ✓ yes – no – no – no – no")
    descriptions = text(html, "class", "role-descriptions")
    for r in Role:
        assert ROLE_DESCRIPTIONS[r] in descriptions
    assert "Custom role, held by 0 members." in descriptions


@pytest.mark.parametrize(
    ("data", "error"),
    [
        ({"name": "", "permissions": ["view_insights"]}, "This field is required."),
        ({"name": "Admin", "permissions": []}, "name of a built-in role"),
        ({"name": "product manager", "permissions": []}, "name of a built-in role"),
        ({"name": "Viewer", "permissions": []}, "already has a role with this name"),
        ({"name": "Root", "permissions": ["sudo"]}, "Select a valid choice."),
    ],
)
def test_custom_role_form_errors(alice_client, project, data, error):
    make_role(project)
    response = alice_client.post(roles_url(project), data)
    assert response.status_code == 400
    assert error in text(response.content.decode(), "id", "new-role")
    assert CustomRole.objects.filter(project=project).count() == 1


def test_a_member_holds_a_custom_role_and_gets_exactly_its_permissions(alice_client, bob, project):
    role = make_role(project, permissions=["view_insights", "export_data"])
    member = Membership.objects.get(user=bob, project=project)
    html = alice_client.get(reverse("project_members", kwargs={"project_id": project.pk})).content.decode()
    assert (f"custom:{role.pk}", "Viewer (custom)", False) in select_options(html)[f"Role of {bob}"]

    assert alice_client.post(update_url(project, member), {"role": f"custom:{role.pk}"}).status_code == 302
    member.refresh_from_db()
    assert (member.role, member.custom_role) == ("", role)
    assert perms_of(bob, project) == {"view_project", "view_insights", "export_data"}
    entry = AuditEntry.objects.get(project=project, action="member.role")
    assert (entry.before, entry.after) == ({"role": "exec"}, {"role": "Viewer (custom)"})
    html = alice_client.get(reverse("project_members", kwargs={"project_id": project.pk})).content.decode()
    assert (f"custom:{role.pk}", "Viewer (custom)", True) in select_options(html)[f"Role of {bob}"]

    # back to a built-in role
    assert alice_client.post(update_url(project, member), {"role": Role.EXEC}).status_code == 302
    member.refresh_from_db()
    assert (member.role, member.custom_role) == (Role.EXEC, None)
    assert perms_of(bob, project) == {"view_project", "view_insights"}


def test_another_projects_custom_role_is_not_a_choice(alice_client, bob, project, other_project):
    foreign = make_role(other_project, name="Foreign", permissions=["view_pii"])
    member = Membership.objects.get(user=bob, project=project)
    response = alice_client.post(
        update_url(project, member), {"role": f"custom:{foreign.pk}", "confirm": "1"}
    )
    assert response.status_code == 400
    assert (
        alice_client.post(
            roles_url(project).replace("/roles/", f"/roles/{foreign.pk}/"), {"action": "delete"}
        ).status_code
        == 404
    )
    assert CustomRole.objects.filter(pk=foreign.pk).exists()


def test_granting_pii_or_recordings_through_a_custom_role_asks_for_confirmation(alice_client, bob, project):
    role = make_role(project, permissions=["view_insights", "view_recordings"])
    member = Membership.objects.get(user=bob, project=project)
    response = alice_client.post(update_url(project, member), {"role": f"custom:{role.pk}"})
    assert response.status_code == 200
    section = text(response.content.decode(), "class", "confirm-role")
    assert "Watch session recordings" in section and "Viewer" in section
    assert Membership.objects.get(pk=member.pk).custom_role is None
    assert (
        alice_client.post(
            update_url(project, member), {"role": f"custom:{role.pk}", "confirm": "1"}
        ).status_code
        == 302
    )
    assert "view_recordings" in perms_of(bob, project)


def test_editing_a_role_resyncs_its_members_and_confirms_new_sensitive_grants(
    alice_client, bob, make_user, project
):
    role = make_role(project, permissions=["view_insights"])
    dana = make_user("dana@example.com")
    for user in (bob, dana):
        Membership.objects.update_or_create(
            user=user, project=project, defaults={"role": "", "custom_role": role}
        )
        Membership.objects.get(user=user, project=project).save()

    # a grant of PII to its members is shown first
    response = alice_client.post(
        role_url(project, role), {"name": "Viewer", "permissions": ["view_insights", "view_pii"]}
    )
    assert response.status_code == 200
    section = text(response.content.decode(), "class", "confirm-role")
    assert (
        "View PII properties unmasked" in section
        and "bob@example.com" in section
        and "dana@example.com" in section
    )
    assert "view_pii" not in perms_of(bob, project)

    data = {"name": "Reader", "permissions": ["view_insights", "view_pii"], "confirm": "1"}
    assert alice_client.post(role_url(project, role), data).status_code == 302
    for user in (bob, dana):
        assert perms_of(user, project) == {"view_project", "view_insights", "view_pii"}
    # taking a permission away needs no confirmation and re-syncs too
    assert (
        alice_client.post(role_url(project, role), {"name": "Reader", "permissions": []}).status_code == 302
    )
    for user in (bob, dana):
        assert perms_of(user, project) == {"view_project"}
    updates = AuditEntry.objects.filter(project=project, action="role.update").order_by("id")
    assert [
        (e.before["name"], e.before["permissions"], e.after["name"], e.after["permissions"]) for e in updates
    ] == [
        (
            "Viewer",
            ["view_project", "view_insights"],
            "Reader",
            ["view_project", "view_insights", "view_pii"],
        ),
        ("Reader", ["view_project", "view_insights", "view_pii"], "Reader", ["view_project"]),
    ]


def test_a_role_in_use_cannot_be_deleted(alice_client, bob, project):
    role = make_role(project)
    member = Membership.objects.get(user=bob, project=project)
    member.role, member.custom_role = "", role
    member.save()
    response = alice_client.post(role_url(project, role), {"action": "delete"}, follow=True)
    assert "is in use (1 member)" in response.content.decode()
    assert CustomRole.objects.filter(pk=role.pk).exists()

    alice_client.post(
        reverse("invite_create", kwargs={"project_id": project.pk}),
        {"email": "x@example.com", "role": f"custom:{role.pk}"},
    )
    member.role, member.custom_role = Role.EXEC, None
    member.save()
    response = alice_client.post(role_url(project, role), {"action": "delete"}, follow=True)
    assert "is in use (1 pending invite)" in response.content.decode()
    Invite.objects.update(revoked_at="2026-01-01T00:00Z")
    assert alice_client.post(role_url(project, role), {"action": "delete"}).status_code == 302
    assert not CustomRole.objects.filter(pk=role.pk).exists()
    entry = AuditEntry.objects.get(project=project, action="role.delete")
    assert (entry.target, entry.before) == ("Viewer", {"permissions": ["view_project", "view_insights"]})


def test_a_custom_role_with_manage_members_counts_as_admin(alice_client, alice, bob, project):
    managers = make_role(project, name="Managers", permissions=["view_insights", "manage_members"])
    me = Membership.objects.get(user=alice, project=project)
    # alice is the only admin: she cannot move to a role without manage_members ...
    response = alice_client.post(update_url(project, me), {"role": Role.PM}, follow=True)
    assert "A project needs at least one admin" in response.content.decode()
    # ... but may move to a custom role that has it
    assert alice_client.post(update_url(project, me), {"role": f"custom:{managers.pk}"}).status_code == 302
    me.refresh_from_db()
    assert me.custom_role == managers
    html = alice_client.get(reverse("project_members", kwargs={"project_id": project.pk})).content.decode()
    assert "the only admin" in html
    # the role may not lose manage_members while its holders are the only admins
    response = alice_client.post(
        role_url(project, managers), {"name": "Managers", "permissions": ["view_insights"]}, follow=True
    )
    assert "no admin left" in response.content.decode()
    managers.refresh_from_db()
    assert "manage_members" in managers.permissions
    assert alice_client.post(update_url(project, me), {"action": "remove"}, follow=True).status_code == 200
    assert Membership.objects.filter(pk=me.pk).exists()
    # bob, given a built-in admin role, makes alice's role optional
    Membership.objects.filter(user=bob, project=project).update(role=Role.ADMIN)
    assert (
        alice_client.post(
            role_url(project, managers), {"name": "Managers", "permissions": ["view_insights"]}
        ).status_code
        == 302
    )
    assert "manage_members" not in perms_of(alice, project)


def test_roles_page_gate(client, bob, charlie, project):
    role = make_role(project)
    client.force_login(bob)  # exec: reads the matrix, changes nothing
    page = client.get(roles_url(project))
    assert page.status_code == 200
    assert texts(page.content.decode(), "id", "new-role") == []
    assert client.post(roles_url(project), {"name": "X", "permissions": []}).status_code == 403
    assert client.post(role_url(project, role), {"action": "delete"}).status_code == 403
    client.force_login(charlie)
    assert client.get(roles_url(project)).status_code == 404
    assert client.post(role_url(project, role), {"action": "delete"}).status_code == 404
    assert CustomRole.objects.filter(pk=role.pk).exists()


def test_denial_names_the_custom_role(client, bob, project):
    role = make_role(project, name="Readers")
    Membership.objects.filter(user=bob, project=project).update(role="", custom_role=role)
    Membership.objects.get(user=bob, project=project).save()
    client.force_login(bob)
    response = client.get(reverse("replay:list", kwargs={"project_id": project.pk}))
    assert response.status_code == 403
    assert (
        "Your role (Readers) in Acme does not allow: Watch session recordings." in response.content.decode()
    )


def test_permission_labels_are_the_matrix_rows(alice_client, project):
    rows = texts(alice_client.get(roles_url(project)).content.decode(), "class", "matrix-row")
    assert [r.split(f" {p.value} ")[0] for r, p in zip(rows, Permission, strict=True)] == list(
        Permission.labels
    )


def test_a_project_whose_members_hold_custom_roles_can_be_deleted(bob, project):
    role = make_role(project)
    Membership.objects.filter(user=bob, project=project).update(role="", custom_role=role)
    project.delete()
    assert not CustomRole.objects.filter(pk=role.pk).exists()
    assert not Membership.objects.filter(user=bob).exists()


def test_a_custom_role_refuses_unknown_permissions_and_always_has_view_project(project):
    from django.core.exceptions import ValidationError  # noqa: PLC0415

    role = CustomRole(project=project, name="X", permissions=["export_data", "sudo"])
    with pytest.raises(ValidationError):
        role.clean()
    role = CustomRole.objects.create(project=project, name="Y", permissions=["export_data", "view_insights"])
    assert role.permissions == ["view_project", "view_insights", "export_data"]


def test_a_bad_edit_shows_its_error_in_the_roles_card(alice_client, project):
    role = make_role(project)
    make_role(project, name="Other")
    response = alice_client.post(role_url(project, role), {"name": "other", "permissions": ["view_insights"]})
    assert response.status_code == 400
    assert "already has a role with this name" in text(response.content.decode(), "id", f"role-{role.pk}")
    bad = alice_client.post(role_url(project, role), {"name": "Viewer", "permissions": ["nope"]})
    assert bad.status_code == 400
    role.refresh_from_db()
    assert (role.name, role.permissions) == ("Viewer", ["view_project", "view_insights"])


def test_the_roles_page_queries_do_not_grow_with_roles(alice_client, project):
    from django.db import connection  # noqa: PLC0415
    from django.test.utils import CaptureQueriesContext  # noqa: PLC0415

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert alice_client.get(roles_url(project)).status_code == 200
        return len(queries)

    count()
    few = count()
    for i in range(6):
        make_role(project, name=f"Role {i}", permissions=["view_insights", "export_data"][: i % 3])
    assert count() == few


@given(chosen=st.sets(st.sampled_from(Permission.values)), then=st.sets(st.sampled_from(Permission.values)))
@settings(
    max_examples=30,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_a_custom_roles_guardian_permissions_are_exactly_its_set(alice_client, bob, project, chosen, then):
    role, _ = CustomRole.objects.update_or_create(
        project=project, name="Generated", defaults={"permissions": []}
    )
    member = Membership.objects.get(user=bob, project=project)
    data = {"name": "Generated", "permissions": sorted(chosen), "confirm": "1"}
    assert alice_client.post(role_url(project, role), data).status_code == 302
    assert (
        alice_client.post(
            update_url(project, member), {"role": f"custom:{role.pk}", "confirm": "1"}
        ).status_code
        == 302
    )
    assert perms_of(bob, project) == set(chosen) | {"view_project"}
    # editing the role re-syncs the member to the new set
    data = {"name": "Generated", "permissions": sorted(then), "confirm": "1"}
    assert alice_client.post(role_url(project, role), data).status_code == 302
    assert perms_of(bob, project) == set(then) | {"view_project"}
    member.role, member.custom_role = Role.EXEC, None
    member.save()
