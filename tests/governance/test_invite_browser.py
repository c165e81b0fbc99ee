"""Invite -> set a password -> sign in, end to end in headless Chromium: the admin makes
a custom role on the roles page and invites with it on the members page; the invitee
opens the link from the e-mail, sets a name and password, is signed in, signs out and in
again with the password, and sees the project with exactly that role's sections.

``SEXTANT_SCREENSHOT_DIR=/tmp/shots`` keeps screenshots of the members and roles pages
at 1280 and 390 px."""

from __future__ import annotations

import re

import pytest
from django.core import mail

from governance.models import CustomRole
from tests.dashboards.test_every_kind_browser import shoot
from tests.paths.test_paths_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "a long enough passphrase"


def menu(page) -> list[str]:
    return page.locator("nav.sidebar a").all_inner_texts()


def test_invite_set_password_sign_in(app_live_server, page, browser, client, alice, project):
    base = app_live_server.url
    login(page, client, alice, base)

    page.goto(f"{base}/project/{project.pk}/roles/")
    form = page.locator("#new-role form")
    form.get_by_label("Name").fill("Watcher")
    form.get_by_label("Watch session recordings").check()
    form.get_by_role("button", name="Create role").click()
    page.wait_for_url(re.compile(r"/roles/$"))
    assert "Role Watcher created" in page.locator(".messages").inner_text()
    assert CustomRole.objects.get(project=project).permissions == ["view_project", "view_recordings"]

    page.goto(f"{base}/project/{project.pk}/members/")
    form = page.locator("#invite form")
    form.get_by_label("E-mail").fill("dana@example.com")
    form.locator("select[name=role]").select_option(label="Watcher (custom)")
    form.get_by_role("button", name="Send invite").click()
    shown = page.locator("#invite-link").inner_text()
    (message,) = mail.outbox
    assert message.to == ["dana@example.com"] and shown in message.body
    assert shown.startswith(base + "/invite/")
    assert "dana@example.com" in page.locator(".pending-invites").inner_text()

    for width in (1280, 390):  # the admin's pages, for a look
        page.set_viewport_size({"width": width, "height": 900})
        for name in ("members", "roles"):
            page.goto(f"{base}/project/{project.pk}/{name}/")
            shoot(page, f"{name}-{width}")
            assert page.evaluate("document.documentElement.scrollWidth") == width, (name, width)

    invitee = browser.new_context(viewport={"width": 390, "height": 800})
    try:
        tab = invitee.new_page()
        tab.goto(shown)
        assert "as Watcher" in tab.locator(".invite-accept").inner_text()
        tab.get_by_label("Your name").fill("Dana")
        tab.locator("input[name=password1]").fill("short")
        tab.get_by_label("Password again").fill("short")
        tab.get_by_role("button", name="Create my account and join").click()
        assert "too short" in tab.locator(".invite-accept").inner_text()
        shoot(tab, "invite-accept-390")
        assert tab.evaluate("document.documentElement.scrollWidth") == 390
        tab.locator("input[name=password1]").fill(PASSWORD)
        tab.get_by_label("Password again").fill(PASSWORD)
        tab.get_by_role("button", name="Create my account and join").click()
        tab.wait_for_url(f"{base}/project/{project.pk}/")
        assert "Welcome to Acme" in tab.locator(".messages").inner_text()
        assert menu(tab) == ["Overview", "Recordings"]

        tab.get_by_role("button", name=re.compile("^Log out")).click()
        tab.wait_for_url(re.compile(r"/login/"))
        tab.get_by_label("Email or username").fill("dana@example.com")
        tab.get_by_label("Password").fill(PASSWORD)
        tab.get_by_role("button", name="Log in").click()
        tab.wait_for_url(f"{base}/project/{project.pk}/")
        assert menu(tab) == ["Overview", "Recordings"]
        assert tab.goto(f"{base}/project/{project.pk}/replay/").status == 200
        denied = tab.goto(f"{base}/project/{project.pk}/events/")
        assert denied.status == 403
        assert "Your role (Watcher) in Acme does not allow: View insights and events." in tab.inner_text(
            "main"
        )
        assert tab.goto(shown).status == 410  # used
        shoot(tab, "invite-used-390")
    finally:
        invitee.close()
    assert not page.page_errors
