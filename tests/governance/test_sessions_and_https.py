"""Sign out everywhere, and what SECURE_COOKIES / the proxy SSL header turn on."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client, override_settings
from django.urls import reverse

from governance.models import AuditEntry

PASSWORD = "correct horse battery"
ROOT = Path(__file__).resolve().parents[2]


def _signed_in(client) -> bool:
    return client.get(reverse("account")).status_code == 200


def _log_in(password=PASSWORD) -> Client:
    client = Client()
    assert (
        client.post(reverse("login"), {"username": "alice@example.com", "password": password}).status_code
        == 302
    )
    return client


def test_sign_out_everywhere_ends_other_sessions_keeps_this_one_and_is_audited(alice, bob):
    laptop, phone, here = _log_in(), _log_in(), _log_in()
    bobs = Client()
    bobs.force_login(bob)
    page = here.get(reverse("account"))
    assert f'action="{reverse("signout_everywhere")}"'.encode() in page.content
    response = here.post(reverse("signout_everywhere"), {"password": PASSWORD})
    assert response.status_code == 302 and response.url == reverse("account")
    assert _signed_in(here)
    assert not _signed_in(laptop) and not _signed_in(phone)
    assert _signed_in(bobs)  # other users are untouched
    assert _log_in().get(reverse("account")).status_code == 200  # the password still works
    entry = AuditEntry.objects.get(action="account.signout_everywhere")
    assert (entry.actor, entry.target) == (alice, "alice@example.com")


def test_sign_out_everywhere_needs_the_password(alice):
    other, here = _log_in(), _log_in()
    response = here.post(reverse("signout_everywhere"), {"password": "not it"})
    assert response.status_code == 400 and "This is not your password." in response.content.decode()
    assert _signed_in(other)
    assert not AuditEntry.objects.filter(action="account.signout_everywhere").exists()
    assert here.get(reverse("signout_everywhere")).status_code == 405
    assert Client().post(reverse("signout_everywhere"), {"password": PASSWORD}).status_code == 302  # to login


def test_wrong_passwords_in_sign_out_everywhere_count_towards_the_lockout(alice):
    here = _log_in()
    statuses = [here.post(reverse("signout_everywhere"), {"password": f"x{i}"}).status_code for i in range(5)]
    assert statuses == [400] * 4 + [429]
    assert here.post(reverse("signout_everywhere"), {"password": PASSWORD}).status_code == 429


def _settings_with(**env) -> dict:
    """The HTTPS settings as analytics_app.settings computes them from this environment."""
    names = [
        "SESSION_COOKIE_SECURE",
        "CSRF_COOKIE_SECURE",
        "SECURE_HSTS_SECONDS",
        "SECURE_HSTS_INCLUDE_SUBDOMAINS",
        "SECURE_PROXY_SSL_HEADER",
    ]
    code = (
        "import json, analytics_app.settings as s; "
        f"print(json.dumps({{n: getattr(s, n, None) for n in {names!r}}}))"
    )
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("SECURE_", "DJANGO_SETTINGS"))}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**clean, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_without_https_configured_nothing_is_forced():
    assert _settings_with() == {
        "SESSION_COOKIE_SECURE": False,
        "CSRF_COOKIE_SECURE": False,
        "SECURE_HSTS_SECONDS": 0,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_PROXY_SSL_HEADER": None,
    }


def test_secure_cookies_turn_on_secure_cookies_and_hsts_and_the_proxy_header_is_opt_in():
    assert _settings_with(SECURE_COOKIES="on") == {
        "SESSION_COOKIE_SECURE": True,
        "CSRF_COOKIE_SECURE": True,
        "SECURE_HSTS_SECONDS": 31536000,
        "SECURE_HSTS_INCLUDE_SUBDOMAINS": False,
        "SECURE_PROXY_SSL_HEADER": None,
    }
    behind_proxy = _settings_with(
        SECURE_COOKIES="on", SECURE_PROXY_SSL_HEADER="X-Forwarded-Proto", SECURE_HSTS_INCLUDE_SUBDOMAINS="1"
    )
    assert behind_proxy["SECURE_PROXY_SSL_HEADER"] == ["HTTP_X_FORWARDED_PROTO", "https"]
    assert behind_proxy["SECURE_HSTS_INCLUDE_SUBDOMAINS"] is True


@pytest.mark.django_db
@override_settings(
    SESSION_COOKIE_SECURE=True,
    CSRF_COOKIE_SECURE=True,
    SECURE_HSTS_SECONDS=31536000,
    SECURE_PROXY_SSL_HEADER=("HTTP_X_FORWARDED_PROTO", "https"),
)
def test_behind_an_https_proxy_the_login_sets_secure_cookies_and_hsts(client, alice):
    page = client.get(reverse("login"), HTTP_X_FORWARDED_PROTO="https")
    assert page["Strict-Transport-Security"] == "max-age=31536000"
    assert client.cookies["csrftoken"]["secure"]
    response = client.post(
        reverse("login"),
        {"username": "alice@example.com", "password": PASSWORD},
        HTTP_X_FORWARDED_PROTO="https",
    )
    assert response.status_code == 302
    assert response.cookies["sessionid"]["secure"] and response.cookies["sessionid"]["httponly"]
    # plain HTTP (the proxy did not say https): no HSTS header, which browsers ignore there anyway
    assert "Strict-Transport-Security" not in client.get(reverse("login"))
