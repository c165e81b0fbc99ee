"""In headless Chromium: sign in, change the password, sign out, sign in with the new one;
set up two-factor from the Account page and sign in with a code. Every account page fits a
1280 px and a 390 px wide window (no sideways scrolling).

``SEXTANT_SCREENSHOT_DIR=/tmp/shots`` keeps a full-page screenshot of each page.
"""

from __future__ import annotations

import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.dashboards.test_every_kind_browser import shoot
from tests.governance.test_two_factor import fresh_code

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "correct horse battery"
NEW_PASSWORD = "violet lantern orbit 42"


def sign_in(page, base: str, password: str) -> None:
    page.goto(f"{base}/login/")
    page.fill("input[name=username]", "alice@example.com")
    page.fill("input[name=password]", password)
    page.click("button[type=submit].primary")
    page.wait_for_load_state()


def sign_out(page) -> None:
    page.click("header form button:has-text('Log out')")
    page.wait_for_url("**/login/")


def fits(page, name: str) -> None:
    """The page is no wider than the window, at both widths; screenshots kept on request."""
    page.wait_for_load_state()  # a click's navigation has finished: the document is there
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 800})
        shoot(page, f"accounts-{name}-{width}")
        assert page.evaluate("document.documentElement.scrollWidth") == width, (name, width)
    page.set_viewport_size({"width": 1280, "height": 800})


def test_change_password_sign_out_and_sign_in_with_the_new_one(app_live_server, page, alice, project):
    base = app_live_server.url
    sign_in(page, base, PASSWORD)
    assert f"/project/{project.pk}/" in page.url
    page.click("header a:has-text('Account')")
    page.wait_for_url("**/account/")
    fits(page, "account")
    page.click("a:has-text('Change password')")
    page.wait_for_url("**/account/password/")
    fits(page, "password-change")
    page.fill("input[name=old_password]", PASSWORD)
    page.fill("input[name=new_password1]", NEW_PASSWORD)
    page.fill("input[name=new_password2]", NEW_PASSWORD)
    page.click("button:has-text('Change password')")
    page.wait_for_url("**/account/")
    assert "Password changed" in page.inner_text(".messages")
    sign_out(page)

    sign_in(page, base, PASSWORD)  # the old one no longer works
    assert "/login/" in page.url and page.locator(".form-error").count() == 1
    fits(page, "login-error")
    sign_in(page, base, NEW_PASSWORD)
    assert f"/project/{project.pk}/" in page.url
    errors = [
        m.text for m in page.console_messages if m.type == "error" and "favicon" not in m.location["url"]
    ]
    assert errors == []


def test_set_up_two_factor_then_sign_in_with_a_code(app_live_server, page, alice, project):
    base = app_live_server.url
    sign_in(page, base, PASSWORD)
    page.goto(f"{base}/account/")
    page.click("a:has-text('Set up two-factor')")
    page.wait_for_url("**/account/two-factor/")
    assert page.locator(".qr-wrap svg").is_visible()
    fits(page, "two-factor-enrol")
    device = TOTPDevice.objects.get(user=alice, confirmed=False)
    page.fill("input[name=code]", fresh_code(device))
    page.click("button:has-text('Turn two-factor on')")
    page.wait_for_url("**/account/two-factor/?next=*")  # the recovery codes, shown once
    codes = page.locator("#recovery-code-list code").all_inner_texts()
    assert len(codes) == 10
    fits(page, "two-factor-recovery-codes")
    page.click("a:has-text('I have saved them')")
    page.wait_for_url("**/account/")
    assert "On" in page.inner_text("#two-factor")
    sign_out(page)

    sign_in(page, base, PASSWORD)  # a lost phone: a recovery code instead
    page.fill("input[name=code]", codes[0])
    page.click("button:has-text('Verify')")
    page.wait_for_url("**/")
    assert "9 left" in page.inner_text("body")
    sign_out(page)

    sign_in(page, base, PASSWORD)
    assert "/login/verify/" in page.url  # the second step
    fits(page, "two-factor-verify")
    page.goto(f"{base}/project/{project.pk}/")  # nothing else opens before the code
    assert "/login/verify/" in page.url
    page.fill("input[name=code]", fresh_code(device))
    page.click("button:has-text('Verify')")
    page.wait_for_url(f"**/project/{project.pk}/")
    assert not page.page_errors


def test_the_lockout_page_fits(app_live_server, page, alice):
    base = app_live_server.url
    for i in range(5):
        sign_in(page, base, f"wrong-{i}")
    assert "Too many failed attempts" in page.inner_text("main")
    fits(page, "locked-out")
