"""The members page (explicit save, confirmation of grants, the last admin) and the 403
page every gated page answers with (its reason, the app's layout, the role's menu, no
traceback in the log)."""

from __future__ import annotations

import logging

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


def test_403_page_says_why_in_the_layout_with_the_roles_menu(client, bob, project):
    client.force_login(bob)  # exec: insights, no recordings, no PII, read-only
    response = client.get(reverse("replay:list", kwargs={"project_id": project.pk}))
    assert response.status_code == 403
    html = response.content.decode()
    assert "Your role (Executive) in Acme does not allow: Watch session recordings." in html
    assert 'class="sidebar"' in html and "<h1>Not allowed</h1>" in html
    menu = html.split('class="sidebar"', 1)[1].split("</nav>", 1)[0]
    assert ">Trends<" in menu and ">Dashboards<" in menu
    for hidden in ("Recordings", "Members", "Settings"):
        assert f">{hidden}<" not in menu

    # a write refused inside a view (read-only role) gets the same page with the view's reason
    response = client.post(members_url(project), {"email": "x@example.com", "role": "pm"})
    assert response.status_code == 403
    assert "Your role cannot manage members." in response.content.decode()
    assert 'class="sidebar"' in response.content.decode()


def test_403_for_htmx_is_the_message_only(client, bob, project):
    client.force_login(bob)
    response = client.get(
        reverse("replay:list", kwargs={"project_id": project.pk}), headers={"HX-Request": "true"}
    )
    assert response.status_code == 403
    html = response.content.decode()
    assert "does not allow: Watch session recordings" in html and "<html" not in html


def test_admin_menu_lists_members_and_settings(alice_client, project):
    html = alice_client.get(reverse("project_overview", kwargs={"project_id": project.pk})).content.decode()
    menu = html.split('class="sidebar"', 1)[1].split("</nav>", 1)[0]
    assert ">Members<" in menu and ">Settings<" in menu and ">Recordings<" in menu


def test_ordinary_403s_log_no_traceback(client, bob, project, caplog):
    client.force_login(bob)
    with caplog.at_level(logging.DEBUG):
        assert client.get(reverse("replay:list", kwargs={"project_id": project.pk})).status_code == 403
        assert client.post(members_url(project), {"email": "x@example.com", "role": "pm"}).status_code == 403
        settings_url = reverse("project_settings", kwargs={"project_id": project.pk})
        assert client.post(settings_url, {"name": "Hijacked", "time_zone": "UTC"}).status_code == 403
    assert caplog.records  # the 403s are logged ...
    assert not [r for r in caplog.records if r.exc_info]  # ... as lines, without a traceback
