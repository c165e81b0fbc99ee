"""Invites by e-mail (governance/invites.py): the e-mail and the link shown once, the
accept page for a new address and for an existing account, single use, expiry, revoke
and resend; accounts an admin creates with a password. Each writes its audit entry."""

from __future__ import annotations

import datetime as dt
import hashlib
import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse
from django.utils import timezone

from analytics_app.models import Membership
from governance.models import AuditEntry, CustomRole, Invite
from governance.roles import Role

from .pages import forms, text, texts

pytestmark = pytest.mark.django_db
PASSWORD = "a long enough passphrase"


def members_url(project) -> str:
    return reverse("project_members", kwargs={"project_id": project.pk})


def invite_url(project) -> str:
    return reverse("invite_create", kwargs={"project_id": project.pk})


def invite(client, project, email="dana@example.com", role=Role.ANALYST):
    """Invite as the logged-in client; the raw token from the e-mail."""
    response = client.post(invite_url(project), {"email": email, "role": role})
    assert response.status_code == 200, response.content.decode()[:2000]
    return token_in(mail.outbox[-1].body), response


def token_in(body: str) -> str:
    match = re.search(r"/invite/([^/\s]+)/", body)
    assert match, body
    return match.group(1)


def accept_url(token: str) -> str:
    return reverse("invite_accept", kwargs={"token": token})


def actions(project) -> list[str]:
    return list(AuditEntry.objects.filter(project=project).order_by("id").values_list("action", flat=True))


def test_an_invite_is_mailed_and_its_link_shown_once_with_only_a_hash_stored(alice_client, project, settings):
    settings.INVITE_TTL_DAYS = 3
    token, response = invite(alice_client, project)
    message = mail.outbox[-1]
    assert message.to == ["dana@example.com"]
    assert "Acme" in message.subject and "as Analyst" in message.body and "for 3 days" in message.body
    link = text(response.content.decode(), "id", "invite-link")
    assert link == f"http://testserver/invite/{token}/" and link in message.body
    stored = Invite.objects.get(project=project)
    assert stored.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(Invite.objects.filter(pk=stored.pk).values().get())
    assert dt.timedelta(days=2, hours=23) < stored.expires_at - timezone.now() <= dt.timedelta(days=3)
    assert (stored.email, stored.role, stored.created_by.email) == (
        "dana@example.com",
        Role.ANALYST,
        "alice@example.com",
    )

    page = alice_client.get(members_url(project)).content.decode()
    assert token not in page  # shown once, on the answer to the POST only
    (row,) = texts(page, "class", "pending-invites")
    assert "dana@example.com" in row and "Analyst" in row
    entry = AuditEntry.objects.get(project=project, action="invite.create")
    assert (entry.target, entry.after["role"], entry.actor.email) == (
        "dana@example.com",
        "analyst",
        "alice@example.com",
    )


def test_the_link_uses_the_public_url_when_set(alice_client, project, settings):
    settings.SEXTANT_PUBLIC_URL = "https://analytics.example.com/"
    token, _ = invite(alice_client, project)
    assert f"https://analytics.example.com/invite/{token}/" in mail.outbox[-1].body


def test_a_new_address_sets_name_and_password_signs_in_and_joins_with_the_role(client, alice_client, project):
    token, _ = invite(alice_client, project, role=Role.SUPPORT)
    client.logout()
    page = client.get(accept_url(token))
    assert page.status_code == 200 and page["Referrer-Policy"] == "same-origin"
    assert "as Support" in text(page.content.decode(), "class", "invite-accept")

    short = client.post(accept_url(token), {"name": "Dana", "password1": "short", "password2": "short"})
    assert short.status_code == 400 and "too short" in short.content.decode()
    differ = client.post(
        accept_url(token), {"name": "Dana", "password1": PASSWORD, "password2": PASSWORD + "x"}
    )
    assert differ.status_code == 400 and "The two passwords differ." in differ.content.decode()
    assert not get_user_model().objects.filter(email="dana@example.com").exists()

    done = client.post(accept_url(token), {"name": "Dana", "password1": PASSWORD, "password2": PASSWORD})
    assert done.status_code == 302 and done["Location"] == reverse(
        "project_overview", kwargs={"project_id": project.pk}
    )
    dana = get_user_model().objects.get(email="dana@example.com")
    assert dana.first_name == "Dana" and dana.check_password(PASSWORD)
    assert Membership.objects.get(user=dana, project=project).role == Role.SUPPORT
    assert dana.has_perm("analytics_app.view_recordings", project) and not dana.has_perm(
        "analytics_app.view_pii", project
    )
    assert (
        client.get(reverse("project_overview", kwargs={"project_id": project.pk})).status_code == 200
    )  # signed in
    assert Invite.objects.get(project=project).accepted_at is not None
    entry = AuditEntry.objects.get(project=project, action="invite.accept")
    assert (entry.actor, entry.target, entry.after) == (dana, "dana@example.com", {"role": "support"})

    client.logout()
    used = client.get(accept_url(token))
    assert used.status_code == 410 and "already used" in used.content.decode()
    again = client.post(accept_url(token), {"name": "Eve", "password1": PASSWORD, "password2": PASSWORD})
    assert again.status_code == 410


def test_an_existing_account_signs_in_as_itself_then_joins(client, alice_client, charlie, bob, project):
    token, _ = invite(alice_client, project, email="Charlie@Example.com", role=Role.PM)
    client.logout()
    page = client.get(accept_url(token))
    assert page.status_code == 200
    body = page.content.decode()
    assert "An account with charlie@example.com exists" in text(body, "class", "invite-accept")
    assert f"{reverse('login')}?next={accept_url(token)}" in body
    assert client.post(accept_url(token), {}).status_code == 200  # anonymous: still the sign-in page
    assert not Membership.objects.filter(user=charlie, project=project).exists()

    client.force_login(bob)  # someone else
    assert "you are signed in as bob@example.com" in client.get(accept_url(token)).content.decode()
    assert client.post(accept_url(token)).status_code == 403
    assert not Membership.objects.filter(user=charlie, project=project).exists()

    client.force_login(charlie)
    assert "Join Acme" in text(client.get(accept_url(token)).content.decode(), "class", "invite-accept")
    assert client.post(accept_url(token)).status_code == 302
    assert Membership.objects.get(user=charlie, project=project).role == Role.PM
    assert client.get(accept_url(token)).status_code == 410
    assert actions(project)[-1] == "invite.accept"


def test_unknown_expired_and_revoked_links_get_a_page_not_a_500(client, alice_client, project):
    assert client.get(accept_url("nope")).status_code == 404
    assert "not valid" in client.get(accept_url("x" * 300)).content.decode()

    token, _ = invite(alice_client, project)
    Invite.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    client.logout()
    expired = client.get(accept_url(token))
    assert expired.status_code == 410 and "expired" in text(
        expired.content.decode(), "class", "invite-invalid"
    )
    posted = client.post(accept_url(token), {"name": "Dana", "password1": PASSWORD, "password2": PASSWORD})
    assert posted.status_code == 410
    assert not get_user_model().objects.filter(email="dana@example.com").exists()


def test_revoke_ends_the_link_and_resend_issues_a_new_one(client, alice_client, project):
    token, _ = invite(alice_client, project)
    pending = Invite.objects.get(project=project)
    update = reverse("invite_update", kwargs={"project_id": project.pk, "invite_id": pending.pk})
    old_expiry = pending.expires_at

    resent = alice_client.post(update, {"action": "resend"})
    assert resent.status_code == 200
    new_token = token_in(mail.outbox[-1].body)
    assert len(mail.outbox) == 2 and new_token != token
    assert text(resent.content.decode(), "id", "invite-link").endswith(f"/invite/{new_token}/")
    pending.refresh_from_db()
    assert pending.expires_at > old_expiry
    assert client.get(accept_url(token)).status_code == 404  # the old link
    assert client.get(accept_url(new_token)).status_code == 200

    assert alice_client.post(update, {"action": "bogus"}).status_code == 400
    assert alice_client.post(update, {"action": "revoke"}).status_code == 302
    assert client.get(accept_url(new_token)).status_code == 410
    assert "dana@example.com" not in alice_client.get(members_url(project)).content.decode()
    assert alice_client.post(update, {"action": "resend"}).status_code == 404  # no longer pending
    assert actions(project) == ["invite.create", "invite.resend", "invite.revoke"]


def test_invite_form_errors(alice_client, project):
    for data, error in [
        ({"email": "bob@example.com", "role": "pm"}, "already is a member"),
        ({"email": "not-an-address", "role": "pm"}, "Enter a valid email address."),
        ({"email": "dana@example.com", "role": "owner"}, "Select a valid choice."),
    ]:
        response = alice_client.post(invite_url(project), data)
        assert response.status_code == 400
        assert error in text(response.content.decode(), "id", "invite")
    invite(alice_client, project)
    again = alice_client.post(invite_url(project), {"email": "DANA@example.com", "role": "pm"})
    assert again.status_code == 400 and "pending invite" in again.content.decode()
    assert len(mail.outbox) == 1


def test_an_invite_with_a_custom_role_grants_its_permissions(client, alice_client, project):
    role = CustomRole.objects.create(
        project=project, name="Support lead", permissions=["view_insights", "view_pii"]
    )
    token, _ = invite(alice_client, project, role=f"custom:{role.pk}")
    assert "as Support lead" in mail.outbox[-1].body
    client.logout()
    client.post(accept_url(token), {"name": "Dana", "password1": PASSWORD, "password2": PASSWORD})
    dana = get_user_model().objects.get(email="dana@example.com")
    membership = Membership.objects.get(user=dana, project=project)
    assert (membership.custom_role, membership.role) == (role, "")
    assert dana.has_perm("analytics_app.view_pii", project) and not dana.has_perm(
        "analytics_app.view_recordings", project
    )


def test_a_failing_mail_server_still_shows_the_link(alice_client, project, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", 9, 2
    response = alice_client.post(invite_url(project), {"email": "dana@example.com", "role": "pm"})
    assert response.status_code == 200
    card = text(response.content.decode(), "class", "invite-link")
    assert "could not be sent" in card and "/invite/" in card


def test_invites_need_manage_members(client, bob, charlie, project):
    client.force_login(bob)
    assert client.post(invite_url(project), {"email": "dana@example.com", "role": "pm"}).status_code == 403
    client.force_login(charlie)
    assert client.post(invite_url(project), {"email": "dana@example.com", "role": "pm"}).status_code == 404
    assert not Invite.objects.exists() and not mail.outbox


def test_an_admin_creates_an_account_with_a_password(client, alice_client, project):
    url = reverse("member_create_user", kwargs={"project_id": project.pk})
    for data, error in [
        ({"email": "erin@example.com", "name": "Erin", "password": "short", "role": "pm"}, "too short"),
        (
            {"email": "bob@example.com", "name": "Bob", "password": PASSWORD, "role": "pm"},
            "account with this e-mail exists",
        ),
        (
            {"email": "erin@example.com", "name": "", "password": PASSWORD, "role": "pm"},
            "This field is required.",
        ),
    ]:
        response = alice_client.post(url, data)
        assert response.status_code == 400
        assert error in text(response.content.decode(), "id", "create")
    assert not get_user_model().objects.filter(email="erin@example.com").exists()

    response = alice_client.post(
        url, {"email": "Erin@example.com", "name": "Erin", "password": PASSWORD, "role": "exec"}
    )
    assert response.status_code == 302
    erin = get_user_model().objects.get(email="erin@example.com")
    assert Membership.objects.get(user=erin, project=project).role == Role.EXEC
    assert actions(project) == ["member.create_user", "member.add"]
    signed_in = client.post(reverse("login"), {"username": "erin@example.com", "password": PASSWORD})
    assert signed_in.status_code == 302 and erin.check_password(PASSWORD)


def test_the_members_page_forms_post_to_their_views(alice_client, project):
    html = alice_client.get(members_url(project)).content.decode()
    posted = {f["action"] for f in forms(html)}
    assert {
        invite_url(project),
        reverse("member_create_user", kwargs={"project_id": project.pk}),
        members_url(project),
    } <= posted
    assert " on" + "submit=" not in html and "<script>" not in html


def test_an_expired_invite_can_be_resent(client, alice_client, project):
    token, _ = invite(alice_client, project)
    Invite.objects.update(expires_at=timezone.now() - dt.timedelta(days=1))
    html = alice_client.get(members_url(project)).content.decode()
    assert "expired" in text(html, "class", "pending-invites")
    pending = Invite.objects.get(project=project)
    update = reverse("invite_update", kwargs={"project_id": project.pk, "invite_id": pending.pk})
    assert alice_client.post(update, {"action": "resend"}).status_code == 200
    client.logout()
    assert client.get(accept_url(token_in(mail.outbox[-1].body))).status_code == 200


def test_adding_changing_and_removing_a_member_is_audited(alice_client, charlie, project):
    assert alice_client.post(members_url(project), {"email": "charlie", "role": "pm"}).status_code == 400
    assert (
        alice_client.post(members_url(project), {"email": "CHARLIE@example.com", "role": "pm"}).status_code
        == 302
    )
    member = Membership.objects.get(user=charlie, project=project)
    update = reverse("member_update", kwargs={"project_id": project.pk, "membership_id": member.pk})
    assert alice_client.post(update, {"role": "exec"}).status_code == 302
    assert alice_client.post(update, {"action": "remove"}).status_code == 302
    entries = AuditEntry.objects.filter(project=project).order_by("id")
    assert [(e.action, e.target, e.before, e.after) for e in entries] == [
        ("member.add", "charlie@example.com", None, {"role": "pm"}),
        ("member.role", "charlie@example.com", {"role": "pm"}, {"role": "exec"}),
        ("member.remove", "charlie@example.com", {"role": "exec"}, None),
    ]
    assert {e.actor.email for e in entries} == {"alice@example.com"}


def test_invite_and_account_views_answer_stranger_404_read_only_403(
    client, alice_client, bob, charlie, project
):
    invite(alice_client, project)
    pending = Invite.objects.get(project=project)
    urls = [
        (
            reverse("invite_update", kwargs={"project_id": project.pk, "invite_id": pending.pk}),
            {"action": "revoke"},
        ),
        (
            reverse("member_create_user", kwargs={"project_id": project.pk}),
            {"email": "erin@example.com", "name": "Erin", "password": PASSWORD, "role": "admin"},
        ),
    ]
    for user, status in ((charlie, 404), (bob, 403)):
        client.force_login(user)
        for url, data in urls:
            assert client.post(url, data).status_code == status, (user, url)
            assert client.get(url).status_code in (status, 405)
    pending.refresh_from_db()
    assert pending.revoked_at is None
    assert not get_user_model().objects.filter(email="erin@example.com").exists()


def test_the_members_page_queries_do_not_grow_with_members_and_invites(alice_client, make_user, project):
    from django.db import connection  # noqa: PLC0415
    from django.test.utils import CaptureQueriesContext  # noqa: PLC0415

    role = CustomRole.objects.create(project=project, name="Viewer", permissions=["view_insights"])

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert alice_client.get(members_url(project)).status_code == 200
        return len(queries)

    count()  # the first visit also writes the session's last project
    few = count()
    for i in range(8):
        user = make_user(f"m{i}@example.com")
        Membership.objects.create(
            user=user, project=project, role="" if i % 2 else Role.PM, custom_role=role if i % 2 else None
        )
        Invite.issue(project, f"i{i}@example.com", Role.PM, role if i % 2 else None, None)
    assert count() == few


def test_a_link_renewed_while_its_page_was_open_is_refused(client, alice_client, project):
    token, _ = invite(alice_client, project)
    client.logout()
    assert client.get(accept_url(token)).status_code == 200
    from governance import invites  # noqa: PLC0415

    stale = Invite.for_token(token)
    Invite.objects.get(pk=stale.pk).renew()  # a resend between reading the invite and using it
    assert not invites._consume(stale)
    response = invites._used_meanwhile(None, stale)
    assert response.status_code == 404
    Invite.objects.filter(pk=stale.pk).update(token_hash=stale.token_hash, revoked_at=timezone.now())
    assert invites._used_meanwhile(None, stale).status_code == 410
