"""The tracking plan end to end in headless Chromium: an admin defines an event with two
properties on the page, exports the plan as YAML (a real download), changes the file and
imports it through the diff preview, then deletes the event after the confirm dialog.
The pages are looked at 1280 and 390 px wide (no sideways scrolling).

``SEXTANT_SCREENSHOT_DIR=/tmp/shots`` keeps the screenshots."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from governance.models import AuditEntry, EventDefinition
from tests.dashboards.test_every_kind_browser import shoot
from tests.paths.test_paths_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_define_export_import_delete(app_live_server, page, client, alice, project):
    base = app_live_server.url
    login(page, client, alice, base)
    plan = f"{base}/project/{project.pk}/plan/"

    page.goto(plan)
    page.get_by_role("link", name="New event").click()
    page.wait_for_url(re.compile(r"/plan/events/new/$"))
    page.get_by_label("Name", exact=True).first.fill("signed_up")
    page.get_by_label("Status").select_option("live")
    page.get_by_label("Tags").fill("growth")
    page.fill("input[name=props-0-name]", "plan")
    page.fill("input[name=props-0-allowed_values]", "free, pro")
    page.check("input[name=props-0-required]")
    page.fill("input[name=props-1-name]", "seats")
    page.select_option("select[name=props-1-type]", "number")
    page.get_by_role("button", name="Add event").click()
    page.wait_for_url(re.compile(r"/plan/events/\d+/$"))
    assert "Event signed_up added to the plan." in page.locator(".messages").inner_text()
    event = EventDefinition.objects.get(project=project)
    assert sorted(event.properties.values_list("name", "type")) == [("plan", "string"), ("seats", "number")]

    page.goto(plan)
    assert page.locator("tr.plan-event").inner_text().split()[:3] == ["signed_up", "Live", "—"]
    with page.expect_download() as download:
        page.get_by_role("link", name="Export YAML").click()
    exported = Path(download.value.path()).read_text()
    assert download.value.suggested_filename == "acme-tracking-plan.yaml"
    assert "- name: signed_up\n" in exported and "    - pro\n" in exported

    changed = exported.replace("status: live", "status: deprecated").replace(
        "  - name: seats\n", "  - name: source\n    type: string\n  - name: seats\n"
    )
    page.get_by_role("link", name="Import YAML").click()
    page.get_by_label("YAML").fill(changed)
    page.get_by_role("button", name="Preview the changes").click()
    diff = page.locator("#plan-diff").inner_text()
    assert "status" in diff and "deprecated" in diff and "property source added (string)" in diff
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        shoot(page, f"plan-import-preview-{width}")
        assert page.evaluate("document.documentElement.scrollWidth") == width
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Apply these changes").click()
    page.wait_for_url(plan)
    assert "Plan imported: 0 events added, 1 changed, 0 removed." in page.locator(".messages").inner_text()
    event.refresh_from_db()
    assert event.status == "deprecated"
    assert sorted(event.properties.values_list("name", flat=True)) == ["plan", "seats", "source"]

    shots = {
        "plan": plan,
        "event": f"{plan}events/{event.pk}/",
        "new-event": f"{plan}events/new/",
        "person-properties": f"{plan}person-properties/",
    }
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for name, address in shots.items():
            page.goto(address)
            shoot(page, f"plan-{name}-{width}")
            assert page.evaluate("document.documentElement.scrollWidth") == width, (name, width)

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{plan}events/{event.pk}/")
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Delete signed_up").click()
    page.wait_for_url(plan)
    assert asked == ["Remove signed_up and its properties from the plan?"]
    assert not EventDefinition.objects.filter(project=project).exists()
    assert list(
        AuditEntry.objects.filter(project=project, action__startswith="plan.")
        .order_by("id")
        .values_list("action", flat=True)
    ) == ["plan.event_create", "plan.import", "plan.event_delete"]
    assert page.page_errors == []
    errors = [m for m in page.console_messages if m.type == "error" and "favicon" not in m.location["url"]]
    assert [m.text for m in errors] == []  # no CSP refusal, no missing script or style
