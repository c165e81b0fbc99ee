"""Login throttling (django-axes): five wrong passwords for one username from one address
lock that pair out for the cool-off, answered with 429 and the lockout page."""

import datetime as dt

from axes.models import AccessAttempt
from django.core import mail
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse

PASSWORD = "correct horse battery"


def _log_in(client, password, username="alice@example.com", **extra):
    return client.post(reverse("login"), {"username": username, "password": password}, **extra)


def _wrong(client, times, **kw):
    return [_log_in(client, f"wrong-{i}", **kw).status_code for i in range(times)]


def test_sixty_wrong_passwords_are_not_all_answered_the_6th_is_429(client, alice):
    statuses = _wrong(client, 60)
    assert statuses[:4] == [200] * 4  # plain login failures: the form again, with its error
    # the 5th failure locks the pair out and is already answered with the lockout page
    assert statuses[4] == 429
    assert statuses[5] == 429
    assert statuses[5:] == [429] * 55
    page = _log_in(client, "wrong-again")
    assert page.status_code == 429
    text = page.content.decode()
    assert "Too many failed attempts" in text and "15 minutes" in text
    assert page["Retry-After"] == str(15 * 60)
    assert 'class="topbar"' in text  # in the app's layout


def test_the_right_password_is_refused_during_the_lockout_and_works_after_the_cool_off(client, alice):
    _wrong(client, 5)
    assert _log_in(client, PASSWORD).status_code == 429
    assert client.get(reverse("account")).status_code == 302  # not signed in
    AccessAttempt.objects.update(attempt_time=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=16))
    ok = _log_in(client, PASSWORD)
    assert ok.status_code == 302
    assert client.get(reverse("account")).status_code == 200


def test_a_success_resets_the_count(client, alice):
    _wrong(client, 4)
    assert _log_in(client, PASSWORD).status_code == 302
    client.logout()
    assert _wrong(client, 4) == [200] * 4  # four more are failures again, not a lockout


def test_the_lockout_is_per_username_and_address(client, alice, bob):
    _wrong(client, 5)
    assert _log_in(client, PASSWORD, username="bob@example.com").status_code == 302
    client.logout()
    assert _log_in(client, PASSWORD, REMOTE_ADDR="10.9.9.9").status_code == 302
    client.logout()
    # the username is counted case-insensitively
    assert _log_in(client, "wrong", username=" ALICE@example.com").status_code == 429


@override_settings(SEXTANT_PROXY_COUNT=1)
def test_behind_a_proxy_the_forwarded_address_is_the_one_counted(client, alice):
    for i in range(5):
        _log_in(client, "wrong", HTTP_X_FORWARDED_FOR=f"203.0.113.{i}")  # five different clients
    assert _log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="203.0.113.50").status_code == 302
    client.logout()
    _wrong(client, 5, HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert _log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.7").status_code == 429
    assert _log_in(client, PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.8").status_code == 302


def test_an_admin_unlocks_with_axes_reset_username(client, alice):
    _wrong(client, 5)
    call_command("axes_reset_username", "alice@example.com")
    assert _log_in(client, PASSWORD).status_code == 302


def test_a_password_reset_lifts_the_lockout(client, alice):
    _wrong(client, 5)
    client.post(reverse("password_reset"), {"email": "alice@example.com"})
    link = mail.outbox[0].body.split("://", 1)[1].split("/", 1)[1].split()[0]
    form = client.get("/" + link, follow=True)
    new = "violet lantern orbit 42"
    client.post(form.redirect_chain[-1][0], {"new_password1": new, "new_password2": new})
    assert _log_in(client, new).status_code == 302
