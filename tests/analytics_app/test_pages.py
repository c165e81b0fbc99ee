"""Login and the project pages, with the access gate (members and API keys: tests/governance/)."""

import pytest
from django.urls import reverse

from analytics_app.models import Membership
from governance.roles import Role


def test_login_page_and_login(client, alice, project):
    assert client.get(reverse("login")).status_code == 200
    bad = client.post(reverse("login"), {"username": "alice@example.com", "password": "wrong"})
    assert bad.status_code == 200 and b"form-error" in bad.content
    ok = client.post(reverse("login"), {"username": "alice@example.com", "password": "correct horse battery"})
    assert ok.status_code == 302
    home = client.get(reverse("home"))
    assert home.status_code == 302 and home.url == reverse(
        "project_overview", kwargs={"project_id": project.pk}
    )


def test_pages_need_login(client, project):
    response = client.get(reverse("project_overview", kwargs={"project_id": project.pk}))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))


@pytest.mark.parametrize("name", ["project_overview", "project_settings", "project_members"])
def test_project_pages_render_for_members_and_hide_from_strangers(
    client, alice, charlie, project, other_project, name
):
    client.force_login(alice)
    page = client.get(reverse(name, kwargs={"project_id": project.pk}))
    assert page.status_code == 200
    assert project.name.encode() in page.content
    assert b"Globex" not in page.content  # charlie's project is not in alice's switcher
    assert client.get(reverse(name, kwargs={"project_id": other_project.pk})).status_code == 404
    assert client.get(reverse(name, kwargs={"project_id": 999999})).status_code == 404


def test_overview_htmx_partial_is_only_the_volume_block(alice_client, project, events):
    import datetime as dt

    events.add("signed_up", "u1", dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)).flush()
    url = reverse("project_overview", kwargs={"project_id": project.pk})
    full = alice_client.get(url)
    partial = alice_client.get(url, headers={"HX-Request": "true"})
    assert b"<html" in full.content and b"signed_up" in full.content
    assert partial.status_code == 200
    assert (
        b"<html" not in partial.content
        and b'id="volume"' in partial.content
        and b"signed_up" in partial.content
    )


def test_overview_shows_the_capture_snippet_with_the_token(alice_client, project):
    page = alice_client.get(reverse("project_overview", kwargs={"project_id": project.pk}))
    assert project.api_token.encode() in page.content
    assert b"posthog.init" in page.content


def test_exec_cannot_change_settings_or_members(client, bob, project):
    client.force_login(bob)  # exec
    url = reverse("project_settings", kwargs={"project_id": project.pk})
    assert client.get(url).status_code == 200
    assert client.post(url, {"name": "Hijacked", "time_zone": "UTC"}).status_code == 403
    project.refresh_from_db()
    assert project.name == "Acme"
    members = reverse("project_members", kwargs={"project_id": project.pk})
    assert client.post(members, {"email": "bob@example.com", "role": "admin"}).status_code == 403
    membership = Membership.objects.get(user=bob, project=project)
    assert (
        client.post(
            reverse("member_update", kwargs={"project_id": project.pk, "membership_id": membership.pk}),
            {"role": "admin"},
        ).status_code
        == 403
    )


def test_settings_form_errors_are_shown(alice_client, project):
    url = reverse("project_settings", kwargs={"project_id": project.pk})
    response = alice_client.post(
        url, {"name": "", "time_zone": "Mars/Olympus", "recording_retention_days": "0"}
    )
    assert response.status_code == 400
    assert b"form-error" in response.content
    ok = alice_client.post(
        url,
        {
            "name": "Acme 2",
            "time_zone": "Asia/Kolkata",
            "recording_retention_days": "30",
            "recording_enabled": "on",
            "replay_resources": "none",
        },
    )
    assert ok.status_code == 302
    project.refresh_from_db()
    assert (project.name, project.time_zone, project.replay_resources) == ("Acme 2", "Asia/Kolkata", "none")


def test_rotating_the_token(alice_client, project):
    old = project.api_token
    alice_client.post(
        reverse("project_settings", kwargs={"project_id": project.pk}), {"action": "rotate_token"}
    )
    project.refresh_from_db()
    assert project.api_token != old and project.api_token.startswith("phc_")


def test_new_project_makes_the_creator_admin(client, charlie):
    client.force_login(charlie)
    assert client.post(reverse("project_new"), {"name": "", "time_zone": "UTC"}).status_code == 400
    response = client.post(reverse("project_new"), {"name": "Initech", "time_zone": "Europe/Berlin"})
    assert response.status_code == 302
    m = Membership.objects.get(user=charlie, project__name="Initech")
    assert m.role == Role.ADMIN


def test_script_json_cannot_close_a_script_element():
    from django.template import Context, Template

    html = Template('<script type="application/json">{{ v|script_json }}</script>').render(
        Context({"v": '{"name": "</script><img src=x onerror=alert(1)>"}'})
    )
    assert "</script><img" not in html
    assert html.count("</script>") == 1
    import json

    inner = html.split(">", 1)[1].rsplit("</script>", 1)[0]
    assert json.loads(inner) == {"name": "</script><img src=x onerror=alert(1)>"}
