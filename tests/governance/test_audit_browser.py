"""The audit log and API keys pages in Chromium at 1280 and 390 px: nothing scrolls the page
sideways, no script errors, and the audit filters work without any script of their own.

``SEXTANT_SCREENSHOT_DIR=/tmp/shots`` keeps a full-page screenshot of each."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics_app.models import PersonalAPIKey
from governance.models import AuditEntry
from tests.dashboards.test_every_kind_browser import shoot
from tests.paths.test_paths_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_audit_and_keys_pages_at_desktop_and_phone_widths(app_live_server, page, client, alice, project):
    project.time_zone = "Europe/Berlin"
    project.save(update_fields=["time_zone"])
    t = dt.datetime(2026, 11, 30, 9, 15, tzinfo=dt.UTC)
    facts = [
        ("member.add", "bob@example.com", None, {"role": "analyst"}),
        ("member.role", "bob@example.com", {"role": "analyst"}, {"role": "admin"}),
        (
            "project.settings",
            "Acme",
            {"name": "Acme", "time_zone": "UTC"},
            {"name": "Acme", "time_zone": "Europe/Berlin"},
        ),
        (
            "insight.delete",
            "Weekly signups by a rather long breakdown name",
            {
                "name": "Weekly signups",
                "kind": "TrendsQuery",
                "spec": {"kind": "TrendsQuery", "series": [{"event": "signed_up"}]},
            },
            None,
        ),
        ("export.csv", "events", None, {"query": {"event": "purchase", "date_from": "-30d"}}),
    ]
    for i, (action, target, before, after) in enumerate(facts * 12):
        AuditEntry.objects.create(
            project=project,
            project_name=project.name,
            actor=alice,
            actor_label=alice.username,
            action=action,
            target=target,
            before=before,
            after=after,
            ip="2001:db8::1234:5678",
            created_at=t - dt.timedelta(minutes=7 * i),
        )
    PersonalAPIKey.issue(alice, "CI pipeline", projects=[project], read_only=False)
    PersonalAPIKey.issue(alice, "Dashboard TV", expires_at=t)
    PersonalAPIKey.issue(alice, "Notebook")[0].revoke()

    base = app_live_server.url
    login(page, client, alice, base)
    failed = []
    page.on("response", lambda r: failed.append(r.url) if r.status >= 400 else None)
    pages = {"audit": f"/project/{project.pk}/audit/", "api-keys": "/account/api-keys/"}
    for width in (1280, 390):
        page.set_viewport_size({"width": width, "height": 900})
        for name, path in pages.items():
            assert page.goto(base + path).status == 200
            page.wait_for_load_state("networkidle")
            shoot(page, f"{name}-{width}")
            assert page.evaluate("document.documentElement.scrollWidth") == width, (name, width)

    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(base + pages["audit"])
    page.select_option("select[name=action]", "member.role")
    page.fill("input[name=date_from]", "2026-11-30")
    page.click("button:has-text('Filter')")
    page.wait_for_load_state("networkidle")
    assert "action=member.role" in page.url
    rows = page.locator("tr[data-entry]")
    assert rows.count() > 0
    assert set(rows.locator("td:nth-child(2)").all_inner_texts()) == {"Member's role changed"}
    shoot(page, "audit-filtered-1280")
    assert not page.page_errors
    # the browser's own /favicon.ico request is the only thing missing (no script, no style)
    assert {url.removeprefix(base) for url in failed} <= {"/favicon.ico"}
