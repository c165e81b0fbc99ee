"""The Account page, password change and reset by e-mail (Django's views in the app's layout)."""

import re

import pytest
from django.core import mail
from django.test import override_settings
from django.urls import reverse

from governance.models import AuditEntry

PASSWORD = "correct horse battery"
NEW_PASSWORD = "violet lantern orbit 42"


def _log_in(client, username, password):
    return client.post(reverse("login"), {"username": username, "password": password})


def test_account_page_needs_login_and_links_every_account_action(client, alice):
    response = client.get(reverse("account"))
    assert response.status_code == 302 and response.url.startswith(reverse("login"))
    client.force_login(alice)
    page = client.get(reverse("account"))
    assert page.status_code == 200
    for name in ("password_change", "api_keys"):
        assert f'href="{reverse(name)}"'.encode() in page.content
    # the header offers the Account page on every page
    assert f'href="{reverse("account")}"'.encode() in client.get(reverse("api_keys")).content


def test_password_change_keeps_this_session_signs_out_others_and_is_audited(client, django_user_model, alice):
    other = type(client)()
    other.force_login(alice)
    client.force_login(alice)
    form = client.get(reverse("password_change"))
    assert form.status_code == 200 and b'name="old_password"' in form.content
    response = client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302 and response.url == reverse("account")
    assert client.get(reverse("account")).status_code == 200
    assert other.get(reverse("account")).status_code == 302  # the other session is gone
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    entry = AuditEntry.objects.get(action="account.password_change")
    assert (entry.actor, entry.target) == (alice, "alice@example.com")


@pytest.mark.parametrize(
    ("new", "reason"),
    [
        ("short1", "too short"),
        ("password123", "too common"),
        ("83649217530", "entirely numeric"),
        ("alice@example.com", "too similar"),
    ],
)
def test_password_validators_refuse_weak_passwords(client, alice, new, reason):
    client.force_login(alice)
    response = client.post(
        reverse("password_change"), {"old_password": PASSWORD, "new_password1": new, "new_password2": new}
    )
    assert response.status_code == 200
    assert reason in response.content.decode()
    alice.refresh_from_db()
    assert alice.check_password(PASSWORD)


def test_password_change_with_a_wrong_old_password_is_a_form_error(client, alice):
    client.force_login(alice)
    response = client.post(
        reverse("password_change"),
        {"old_password": "nope", "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 200 and b"form-error" in response.content
    assert not AuditEntry.objects.filter(action="account.password_change").exists()


def _reset_link(message) -> str:
    return re.search(r"https?://[^/\s]+(/password-reset/[^\s]+/)", message.body).group(1)


def test_password_reset_mails_a_single_use_link_that_sets_a_new_password(client, alice):
    assert client.get(reverse("login")).content.count(reverse("password_reset").encode()) == 1
    response = client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert response.status_code == 302 and response.url == reverse("password_reset_done")
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["alice@example.com"] and "Sextant" in message.subject
    link = _reset_link(message)
    form = client.get(link, follow=True)
    assert form.status_code == 200 and b'name="new_password1"' in form.content
    set_url = form.redirect_chain[-1][0]
    done = client.post(set_url, {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD})
    assert done.status_code == 302 and done.url == reverse("password_reset_complete")
    alice.refresh_from_db()
    assert alice.check_password(NEW_PASSWORD)
    assert AuditEntry.objects.filter(action="account.password_reset", actor=alice).exists()
    # the link works once
    again = client.get(link, follow=True)
    assert b"no longer works" in again.content
    assert _log_in(client, "alice@example.com", NEW_PASSWORD).status_code == 302


def test_password_reset_for_an_unknown_address_answers_the_same_and_sends_nothing(client, alice):
    response = client.post(reverse("password_reset"), {"email": "nobody@example.com"})
    assert response.status_code == 302 and response.url == reverse("password_reset_done")
    assert mail.outbox == []


@override_settings(SEXTANT_PUBLIC_URL="https://analytics.example.org")
def test_password_reset_link_points_at_the_public_url(client, alice):
    client.post(reverse("password_reset"), {"email": "alice@example.com"})
    assert "https://analytics.example.org/password-reset/" in mail.outbox[0].body, mail.outbox[0].body


def test_bootstrap_style_passwords_still_work_validators_apply_to_forms_only(django_user_model):
    user = django_user_model.objects.create_user("ops", "ops@example.com", "12345678")
    assert user.check_password("12345678")


def test_the_account_page_lists_the_users_own_key_and_account_changes(client, make_user, make_project):
    """Key and account entries belong to no project, so no project's audit page shows them:
    their owner sees them on the Account page, and nobody else's are listed."""
    from analytics_app.models import PersonalAPIKey  # noqa: PLC0415
    from governance import audit  # noqa: PLC0415
    from tests.html import parse  # noqa: PLC0415

    ann, ben = make_user("ann@example.com"), make_user("ben@example.com")
    key, _ = PersonalAPIKey.issue(ann, "ci deploys")
    audit.record(None, "key.create", target=key, actor=ann)
    audit.record(None, "account.password_change", target=ann, actor=ann)
    audit.record(None, "key.create", target="ben's key", actor=ben)
    audit.record(None, "project.settings", project=make_project("Shop"), actor=ann)
    client.force_login(ann)
    rows = [r for r in parse(client.get("/account/")).find_all("tr") if r.find_all("td")]
    texts = [" ".join(td.text.strip() for td in r.find_all("td")[1:3]) for r in rows]
    assert texts == ["Password changed ann@example.com", f"API key created {key}"]
