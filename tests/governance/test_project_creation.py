"""Who may create a project (SEXTANT_PROJECT_CREATORS, analytics_app.access.may_create_project):
by default admins of a project (a member holding manage_members, custom roles included),
staff and superusers, and anyone while no project exists; "anyone" lets every user."""

from __future__ import annotations

import pytest
from django.urls import reverse

from analytics_app.models import Membership, Project
from governance.models import CustomRole
from governance.roles import Role

pytestmark = pytest.mark.django_db


def new_project(client, name="Initech"):
    return client.post(reverse("project_new"), {"name": name, "time_zone": "UTC"})


def offers_new_project(client, project) -> bool:
    html = client.get(reverse("project_overview", kwargs={"project_id": project.pk})).content.decode()
    return f'href="{reverse("project_new")}"' in html


def test_the_first_user_of_a_fresh_install_creates_the_first_project(client, alice):
    assert not Project.objects.exists()
    client.force_login(alice)
    assert client.get(reverse("home"))["Location"] == reverse("project_new")
    assert client.get(reverse("project_new")).status_code == 200
    assert new_project(client).status_code == 302
    assert Membership.objects.get(user=alice).role == Role.ADMIN


def test_only_admins_are_offered_new_project(client, alice, bob, project):
    client.force_login(alice)
    assert offers_new_project(client, project)
    assert new_project(client).status_code == 302

    client.force_login(bob)  # exec in Acme, admin nowhere
    assert not offers_new_project(client, project)
    assert client.get(reverse("project_new")).status_code == 403
    response = new_project(client, "Bob's")
    assert (
        response.status_code == 403
        and "Only admins of a project may create projects" in response.content.decode()
    )
    assert not Project.objects.filter(name="Bob's").exists()


def test_a_user_without_projects_is_told_to_ask_for_an_invite(client, charlie, project):
    client.force_login(charlie)
    response = client.get(reverse("home"))
    assert response.status_code == 200
    assert "Ask an admin of a project to invite you" in response.content.decode()
    assert client.get(reverse("project_new")).status_code == 403


def test_a_custom_role_with_manage_members_may_create(client, bob, project):
    role = CustomRole.objects.create(project=project, name="Leads", permissions=["manage_members"])
    member = Membership.objects.get(user=bob, project=project)
    member.role, member.custom_role = "", role
    member.save()
    client.force_login(bob)
    assert offers_new_project(client, project)
    assert new_project(client).status_code == 302


def test_staff_may_create(client, bob, project):
    bob.is_staff = True
    bob.save()
    client.force_login(bob)
    assert new_project(client).status_code == 302


def test_anyone_restores_the_old_behaviour(client, bob, project, settings):
    settings.SEXTANT_PROJECT_CREATORS = "anyone"
    client.force_login(bob)
    assert offers_new_project(client, project)
    assert new_project(client).status_code == 302


def test_the_project_list_shows_only_the_users_projects(client, bob, project, other_project):
    client.force_login(bob)
    html = client.get(reverse("project_overview", kwargs={"project_id": project.pk})).content.decode()
    switcher = html.split('id="project-switcher"', 1)[1].split("</select>", 1)[0]
    assert ">Acme<" in switcher and "Globex" not in switcher
    assert client.get(reverse("project_overview", kwargs={"project_id": other_project.pk})).status_code == 404
