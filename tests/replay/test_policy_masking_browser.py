"""The project settings page in headless Chromium: an admin switches replay text masking to
"All text" and edits the selectors; a selector the grammar refuses is a form error."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from .test_replay_browser import log_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_admin_edits_the_replay_masking_settings(page, app_live_server, project, alice, tmp_path):
    log_in(page, alice, app_live_server.url)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{app_live_server.url}/project/{project.pk}/settings/")
    mode = page.locator("select[name=replay_text_masking]")
    selectors = page.locator("[name=replay_mask_selectors]")
    expect(mode).to_have_value("policy")
    expect(selectors).to_have_value("[data-sextant-mask], .ph-sensitive, .ph-no-capture")
    page.screenshot(path=str(tmp_path / "settings-1280.png"), full_page=True)

    selectors.fill(".account span")
    selectors.evaluate("el => el.form.requestSubmit()")
    page.wait_for_load_state()
    expect(page.get_by_text("combinators (descendant, >, +, ~) are not supported")).to_be_visible()

    page.locator("select[name=replay_text_masking]").select_option("all")
    page.locator("[name=replay_mask_selectors]").fill("[data-sextant-mask], .account")
    page.locator("[name=replay_mask_selectors]").evaluate("el => el.form.requestSubmit()")
    page.wait_for_load_state()
    expect(page.locator("select[name=replay_text_masking]")).to_have_value("all")
    project.refresh_from_db()
    assert (project.replay_text_masking, project.replay_mask_selectors) == (
        "all",
        "[data-sextant-mask], .account",
    )

    page.set_viewport_size({"width": 390, "height": 844})
    page.screenshot(path=str(tmp_path / "settings-390.png"), full_page=True)
    assert not page.page_errors, [str(e) for e in page.page_errors]
