"""The members page (governance/views.py): adding members, an explicit save of a role,
confirmation of a change that grants PII or recordings, the last admin."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analytics_app.models import Membership
from governance.roles import Role

pytestmark = pytest.mark.django_db


def members_url(project) -> str:
    return reverse("project_members", kwargs={"project_id": project.pk})


def update_url(project, membership) -> str:
    return reverse("member_update", kwargs={"project_id": project.pk, "membership_id": membership.pk})


def role_of(user, project) -> str:
    return Membership.objects.get(user=user, project=project).role


def test_members_page_changes_a_role_only_through_an_explicit_save(alice_client, project):
    response = alice_client.get(members_url(project))
    assert response.status_code == 200
    html = response.content.decode()
    assert "onchange" not in html.split("<main", 1)[1]  # no role select submits itself
    assert html.count("Save role") == 1  # bob's row; alice, the only admin, has none


@pytest.mark.parametrize(
    ("start", "target", "grants"),
    [
        (Role.EXEC, Role.ANALYST, ["View PII properties unmasked", "Watch session recordings"]),
        (Role.EXEC, Role.SUPPORT, ["Watch session recordings"]),
        (Role.PM, Role.ANALYST, ["View PII properties unmasked"]),
        (Role.SUPPORT, Role.ADMIN, ["View PII properties unmasked"]),
    ],
)
def test_a_change_that_grants_pii_or_recordings_asks_for_confirmation(
    alice_client, bob, project, start, target, grants
):
    member = Membership.objects.get(user=bob, project=project)
    member.role = start
    member.save()
    response = alice_client.post(update_url(project, member), {"role": target})
    assert response.status_code == 200
    html = response.content.decode()
    assert "Confirm the role change" in html
    section = html.split('class="card confirm-role"', 1)[1].split("</section>", 1)[0]
    assert [g for g in ("View PII properties unmasked", "Watch session recordings") if g in section] == grants
    assert 'name="confirm" value="1"' in section
    assert role_of(bob, project) == start  # nothing changed yet

    response = alice_client.post(update_url(project, member), {"role": target, "confirm": "1"})
    assert response.status_code == 302
    assert role_of(bob, project) == target
    if Role(target) == Role.ANALYST:
        assert bob.has_perm("analytics_app.view_pii", project)


@pytest.mark.parametrize(("start", "target"), [(Role.ANALYST, Role.EXEC), (Role.PM, Role.SUPPORT)])
def test_a_change_that_grants_nothing_sensitive_applies_on_save(alice_client, bob, project, start, target):
    member = Membership.objects.get(user=bob, project=project)
    member.role = start
    member.save()
    response = alice_client.post(update_url(project, member), {"role": target})
    assert response.status_code == 302
    assert role_of(bob, project) == target


def test_the_last_admin_cannot_demote_or_remove_themselves(alice_client, alice, bob, project):
    me = Membership.objects.get(user=alice, project=project)
    for data in ({"role": Role.PM}, {"role": Role.EXEC, "confirm": "1"}, {"action": "remove"}):
        response = alice_client.post(update_url(project, me), data, follow=True)
        assert "A project needs at least one admin" in response.content.decode()
        assert role_of(alice, project) == Role.ADMIN
    html = alice_client.get(members_url(project)).content.decode()
    assert "the only admin" in html

    # with a second admin, alice may step down (pm grants nothing new: no confirmation)
    Membership.objects.filter(user=bob, project=project).update(role=Role.ADMIN)
    assert alice_client.post(update_url(project, me), {"role": Role.PM}).status_code == 302
    assert role_of(alice, project) == Role.PM


def test_member_update_answers_stranger_404_read_only_403_bad_params_400(
    client, alice, bob, charlie, project, other_project
):
    target = Membership.objects.get(user=alice, project=project)
    client.force_login(charlie)
    assert client.get(members_url(project)).status_code == 404
    assert client.post(update_url(project, target), {"role": Role.PM}).status_code == 404
    client.force_login(bob)
    assert client.get(members_url(project)).status_code == 200
    assert client.post(update_url(project, target), {"role": Role.PM}).status_code == 403
    assert client.post(members_url(project), {"email": "x@example.com", "role": "pm"}).status_code == 403
    client.force_login(alice)
    bob_member = Membership.objects.get(user=bob, project=project)
    assert client.post(update_url(project, bob_member), {"role": "owner"}).status_code == 400
    assert client.post(update_url(project, bob_member), {}).status_code == 400
    other = Membership.objects.get(user=charlie, project=other_project)
    assert client.post(update_url(project, other), {"role": Role.PM}).status_code == 404
    assert role_of(alice, project) == Role.ADMIN


def test_admin_manages_members(alice_client, charlie, bob, project):
    url = reverse("project_members", kwargs={"project_id": project.pk})
    assert alice_client.post(url, {"email": "nobody@example.com", "role": "pm"}).status_code == 400
    assert alice_client.post(url, {"email": "charlie@example.com", "role": "support"}).status_code == 302
    m = Membership.objects.get(user=charlie, project=project)
    assert m.role == Role.SUPPORT
    assert charlie.has_perm("analytics_app.view_recordings", project)
    assert not charlie.has_perm("analytics_app.view_pii", project)
    alice_client.post(
        reverse("member_update", kwargs={"project_id": project.pk, "membership_id": m.pk}),
        {"role": "analyst", "confirm": "1"},  # analyst adds PII access: confirmed
    )
    m.refresh_from_db()
    assert m.role == Role.ANALYST
    assert (
        alice_client.post(
            reverse("member_update", kwargs={"project_id": project.pk, "membership_id": m.pk}),
            {"role": "owner"},
        ).status_code
        == 400
    )
    alice_client.post(
        reverse("member_update", kwargs={"project_id": project.pk, "membership_id": m.pk}),
        {"action": "remove"},
    )
    assert not Membership.objects.filter(user=charlie, project=project).exists()


def test_the_last_admin_cannot_be_removed_or_demoted(alice_client, alice, project):
    m = Membership.objects.get(user=alice, project=project)
    alice_client.post(
        reverse("member_update", kwargs={"project_id": project.pk, "membership_id": m.pk}),
        {"action": "remove"},
    )
    alice_client.post(
        reverse("member_update", kwargs={"project_id": project.pk, "membership_id": m.pk}), {"role": "pm"}
    )
    m.refresh_from_db()
    assert m.role == Role.ADMIN
