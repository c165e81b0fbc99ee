"""The 403 page every gated page answers with (its reason, the app's layout, the role's
menu, no traceback in the log). The members page itself: tests/governance/test_members.py."""

from __future__ import annotations

import logging

import pytest
from django.urls import reverse

pytestmark = pytest.mark.django_db


def members_url(project) -> str:
    return reverse("project_members", kwargs={"project_id": project.pk})


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

    # a write the role may not make (the gate's `write=`) gets the same page with its reason
    response = client.post(members_url(project), {"email": "x@example.com", "role": "pm"})
    assert response.status_code == 403
    assert (
        "Your role (Executive) in Acme does not allow: Manage members and roles." in response.content.decode()
    )
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
