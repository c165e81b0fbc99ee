"""Optional TOTP two-factor: enrol from the Account page, the second sign-in step, turning it
off, and the per-project "Require two-factor for admins" setting. Codes are real TOTP codes
computed from the device's key."""

import re
import time

import pytest
from django.test import Client
from django.urls import reverse
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from governance.models import AuditEntry
from governance.roles import Role

PASSWORD = "correct horse battery"


def code_for(device, offset=0) -> str:
    """The device's code for the 30 s step `offset` steps from now."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0 - offset * device.step, digits=device.digits):06d}"


def fresh_code(device) -> str:
    """A code the device has not accepted yet: a code works once, so after one was used in
    this 30 s step, the next step's (within the one-step tolerance)."""
    device.refresh_from_db()
    now = int((time.time() - device.t0) // device.step)
    return code_for(device, offset=max(0, device.last_t + 1 - now))


def _enrol(client, user) -> TOTPDevice:
    page = client.get(reverse("two_factor"))
    assert page.status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    assert "<svg" in page.content.decode() and "otpauth" not in page.content.decode()  # the QR is inline SVG
    secret = re.search(r'id="totp-secret"[^>]*>([A-Z2-7]+)<', page.content.decode()).group(1)
    assert len(secret) >= 32
    response = client.post(reverse("two_factor"), {"code": code_for(device)})
    # On to the page that shows the recovery codes once, then on to where the user was going.
    assert response.status_code == 302 and response.url == f"{reverse('two_factor')}?next=%2Faccount%2F"
    device.refresh_from_db()
    assert device.confirmed
    return device


def _recovery_codes(client) -> list[str]:
    """The codes shown once on the two-factor page right after they were made."""
    page = client.get(reverse("two_factor") + "?next=/account/").content.decode()
    return re.findall(r"<li><code>([a-z0-9]{5}-[a-z0-9]{5})</code></li>", page)


def _log_in(client, username="alice@example.com"):
    response = client.post(reverse("login"), {"username": username, "password": PASSWORD})
    assert response.status_code == 302
    return response


def test_enrol_then_sign_in_asks_for_a_code_after_the_password(client, alice, project):
    client.force_login(alice)
    assert b"Set up two-factor" in client.get(reverse("account")).content
    device = _enrol(client, alice)
    assert AuditEntry.objects.filter(action="account.2fa_enable", actor=alice).exists()
    assert client.get(reverse("account")).status_code == 200  # the enrolling session counts as verified

    fresh = Client()
    _log_in(fresh)
    overview = reverse("project_overview", kwargs={"project_id": project.pk})
    held = fresh.get(overview)
    assert held.status_code == 302 and held.url.startswith(reverse("two_factor_verify"))
    for url in (reverse("account"), reverse("api_keys"), reverse("home"), "/admin/"):
        assert fresh.get(url).url.startswith(reverse("two_factor_verify")), url
    api = fresh.post(
        reverse("api_query", kwargs={"project_id": project.pk}), "{}", content_type="application/json"
    )
    assert api.status_code == 401
    assert fresh.get(held.url).status_code == 200  # the code page itself

    wrong_code = "000000" if fresh_code(device) != "000000" else "111111"
    wrong = fresh.post(reverse("two_factor_verify"), {"code": wrong_code, "next": overview})
    assert wrong.status_code == 400 and "not right" in wrong.content.decode()
    time.sleep(1.1)  # django-otp waits 1 s after a wrong code before it takes another
    ok = fresh.post(reverse("two_factor_verify"), {"code": fresh_code(device), "next": overview})
    assert ok.status_code == 302 and ok.url == overview
    assert fresh.get(overview).status_code == 200


def test_a_code_from_another_time_step_or_an_outside_next_is_refused(client, alice):
    client.force_login(alice)
    device = _enrol(client, alice)
    fresh = Client()
    _log_in(fresh)
    device.refresh_from_db()
    now = int((time.time() - device.t0) // device.step)
    used = code_for(device, offset=device.last_t - now)  # the code enrolment accepted
    assert fresh.post(reverse("two_factor_verify"), {"code": used}).status_code == 400  # not twice
    time.sleep(1.1)
    old = fresh.post(reverse("two_factor_verify"), {"code": code_for(device, offset=-10)})
    assert old.status_code == 400
    time.sleep(2.1)  # the wait doubles with each wrong code
    ok = fresh.post(
        reverse("two_factor_verify"), {"code": fresh_code(device), "next": "https://evil.example/"}
    )
    assert ok.status_code == 302 and ok.url == reverse("home")  # no open redirect


def test_turning_two_factor_off_needs_a_code_and_is_audited(client, alice):
    client.force_login(alice)
    device = _enrol(client, alice)
    refused = client.post(reverse("two_factor"), {"code": "12"})
    assert refused.status_code == 400
    assert TOTPDevice.objects.filter(user=alice, confirmed=True).exists()
    time.sleep(1.1)
    response = client.post(reverse("two_factor"), {"code": fresh_code(device)})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(user=alice).exists()
    assert AuditEntry.objects.filter(action="account.2fa_disable", actor=alice).exists()
    fresh = Client()
    _log_in(fresh)
    assert fresh.get(reverse("account")).status_code == 200  # no second step any more


def test_a_wrong_enrolment_code_leaves_two_factor_off(client, alice):
    client.force_login(alice)
    client.get(reverse("two_factor"))
    response = client.post(reverse("two_factor"), {"code": "abc"})
    assert response.status_code == 400 and "not right" in response.content.decode()
    assert not TOTPDevice.objects.filter(user=alice, confirmed=True).exists()


def test_project_requiring_2fa_sends_admins_without_a_device_to_enrolment(
    client, alice, bob, project, other_project
):
    settings_url = reverse("project_settings", kwargs={"project_id": project.pk})
    client.force_login(alice)
    form = client.get(settings_url)
    assert b'name="require_admin_2fa"' in form.content and b"Require two-factor for admins" in form.content
    data = {
        "name": project.name,
        "time_zone": project.time_zone,
        "recording_enabled": "on",
        "recording_retention_days": project.recording_retention_days,
        "replay_resources": "origin",
        "require_admin_2fa": "on",
    }
    assert client.post(settings_url, data).status_code == 302
    project.refresh_from_db()
    assert project.require_admin_2fa
    entry = AuditEntry.objects.get(action="project.settings", project=project)
    assert (entry.before, entry.after) == ({"require_admin_2fa": False}, {"require_admin_2fa": True})

    overview = reverse("project_overview", kwargs={"project_id": project.pk})
    sent = client.get(overview)
    assert sent.status_code == 302 and sent.url.startswith(reverse("two_factor"))
    page = client.get(sent.url)
    assert "requires two-factor" in page.content.decode()
    assert client.get(reverse("api_keys")).status_code == 200  # pages outside the project stay open
    api = client.post(
        reverse("api_query", kwargs={"project_id": project.pk}), "{}", content_type="application/json"
    )
    assert api.status_code == 401

    bobs = Client()
    bobs.force_login(bob)  # an exec, not an admin: not required
    assert bobs.get(overview).status_code == 200

    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    enrolled = client.post(reverse("two_factor"), {"code": code_for(device), "next": overview})
    assert enrolled.status_code == 302 and enrolled.url.startswith(reverse("two_factor"))
    codes_page = client.get(enrolled.url).content.decode()  # the recovery codes, then on
    assert codes_page.count("<li><code>") == 10 and f'href="{overview}"' in codes_page
    assert client.get(overview).status_code == 200


@pytest.mark.parametrize("role", [Role.ANALYST, Role.EXEC])
def test_only_admins_can_change_the_2fa_requirement(client, make_user, make_project, role):
    member = make_user("member@example.com")
    project = make_project("Shop", members={member: role})
    client.force_login(member)
    response = client.post(
        reverse("project_settings", kwargs={"project_id": project.pk}),
        {
            "name": "Shop",
            "time_zone": "UTC",
            "recording_retention_days": 30,
            "replay_resources": "origin",
            "require_admin_2fa": "on",
        },
    )
    assert response.status_code == 403
    project.refresh_from_db()
    assert not project.require_admin_2fa


def test_recovery_codes_are_shown_once_and_each_signs_in_once(client, alice):
    client.force_login(alice)
    device = _enrol(client, alice)
    codes = _recovery_codes(client)
    assert len(codes) == 10 and len(set(codes)) == 10
    assert _recovery_codes(client) == []  # shown once
    page = client.get(reverse("two_factor")).content.decode()
    assert "10 unused recovery codes" in page and codes[0] not in page
    # Stored as digests, never as the codes.
    from django_otp.plugins.otp_static.models import StaticToken

    stored = set(StaticToken.objects.filter(device__user=alice).values_list("token", flat=True))
    assert len(stored) == 10 and not stored & {c.replace("-", "") for c in codes} and not stored & set(codes)

    fresh = Client()
    _log_in(fresh)
    used = fresh.post(
        reverse("two_factor_verify"), {"code": codes[3].upper().replace("-", " "), "next": "/account/"}
    )
    assert used.status_code == 302 and used.url == "/account/"
    assert fresh.get(reverse("account")).status_code == 200
    assert AuditEntry.objects.filter(action="account.2fa_recovery_used", actor=alice).exists()

    again = Client()
    _log_in(again)
    refused = again.post(reverse("two_factor_verify"), {"code": codes[3]})
    assert refused.status_code == 400 and "not one of your unused recovery codes" in refused.content.decode()
    assert again.get(reverse("account")).status_code == 302  # still held at the code step
    time.sleep(1.1)  # django-otp slows down the try after a wrong code
    assert again.post(reverse("two_factor_verify"), {"code": codes[4]}).status_code == 302
    assert "8 unused recovery codes" in client.get(reverse("two_factor")).content.decode()
    assert TOTPDevice.objects.filter(user=alice, confirmed=True).get() == device


def test_new_recovery_codes_need_a_code_and_replace_the_old_ones(client, alice):
    client.force_login(alice)
    device = _enrol(client, alice)
    old = _recovery_codes(client)
    refused = client.post(reverse("two_factor"), {"action": "recovery_codes", "code": "000000"})
    assert refused.status_code == 400 and TOTPDevice.objects.filter(user=alice).exists()
    time.sleep(1.1)
    made = client.post(reverse("two_factor"), {"action": "recovery_codes", "code": fresh_code(device)})
    assert made.status_code == 302
    new = _recovery_codes(client)
    assert len(new) == 10 and not set(new) & set(old)
    assert AuditEntry.objects.filter(action="account.2fa_recovery_codes", actor=alice).exists()
    fresh = Client()
    _log_in(fresh)
    assert fresh.post(reverse("two_factor_verify"), {"code": old[0]}).status_code == 400
    time.sleep(1.1)
    assert fresh.post(reverse("two_factor_verify"), {"code": new[0]}).status_code == 302


def test_turning_two_factor_off_removes_the_recovery_codes(client, alice):
    from django_otp.plugins.otp_static.models import StaticDevice

    client.force_login(alice)
    device = _enrol(client, alice)
    assert StaticDevice.objects.filter(user=alice).exists()
    time.sleep(1.1)
    assert client.post(reverse("two_factor"), {"code": fresh_code(device)}).status_code == 302
    assert not StaticDevice.objects.filter(user=alice).exists()
