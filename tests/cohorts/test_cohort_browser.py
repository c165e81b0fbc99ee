"""Cohorts in headless Chromium: pick a cohort as a filter in the trends builder (type part
of its name in the property picker) and see the number change; pick two cohorts as a
funnel breakdown and see a row per cohort; create a behavioral cohort with the builder and
watch its count appear without reloading. ``SEXTANT_SCREENSHOT_DIR=/tmp/shots`` keeps
screenshots at 1280 and 390 px."""

from __future__ import annotations

import datetime as dt

import pytest

from cohorts.definitions import parse_csv
from cohorts.models import Cohort
from cohorts.tasks import refresh_cohort
from tests.clock import at_test_time
from tests.cohorts.test_cohorts import make_cohort
from tests.dashboards.test_every_kind_browser import shoot
from tests.paths.test_paths_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = at_test_time(lambda now: now.replace(microsecond=0) - dt.timedelta(hours=1))


@pytest.fixture
def shop(project, events):
    """5 persons sign up, 3 pay; cohorts "VIP customers" (p0) and "Pair" (p0, p1)."""
    for i in range(5):
        events.add("signup", f"p{i}", NOW - dt.timedelta(minutes=30 - i))
    for i in range(3):
        events.add("pay", f"p{i}", NOW - dt.timedelta(minutes=10 - i))
    events.flush()
    make_cohort(project, parse_csv(b"distinct_id\np0\n"), kind="static", name="VIP customers", now=NOW)
    make_cohort(project, parse_csv(b"distinct_id\np0\np1\np4\n"), kind="static", name="Pair and p4", now=NOW)
    return project


def no_overflow(page) -> None:
    """No horizontal overflow of the page, once charts drawn at the old width have resized."""
    try:
        page.wait_for_function(
            "() => document.documentElement.scrollWidth <= window.innerWidth", timeout=5_000
        )
    except Exception:  # noqa: BLE001 - the assertion below says by how much
        pass
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"the page overflows by {overflow}px"


def test_trends_pick_a_cohort_as_a_filter(app_live_server, page, client, alice, shop):
    login(page, client, alice, app_live_server.url)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(
        f"{app_live_server.url}/project/{shop.pk}/insights/trends/?series_event=signup&display=number&date_from=-7d"
    )
    assert page.locator(".big-numbers .stat-value").inner_text() == "5"
    page.get_by_role("button", name="+ Add filter").click()
    key = page.locator("#filter-rows .filter-row input[name=filter_key]").last
    key.fill("vip")
    page.wait_for_function(
        "() => { const m = document.querySelector('.picker-menu');"
        " return m && m.textContent.includes('VIP customers') && !m.textContent.includes('Pair'); }"
    )
    item = page.locator(".picker-menu .picker-item", has_text="VIP customers")
    assert "1 person" in item.inner_text()
    assert page.locator(".picker-menu .picker-group").last.inner_text().lower() == "cohorts"
    shoot(page, "cohort-filter-picker-1280")
    item.click()
    page.wait_for_function(
        "() => document.querySelector('.big-numbers .stat-value').textContent.trim() === '1'"
    )
    row = page.locator("#filter-rows .filter-row").last
    assert row.locator("select[name=filter_type]").input_value() == "cohort"
    assert key.input_value() == "VIP customers"
    assert not row.locator("input[name=filter_value]").is_visible()
    ops = row.locator("select[data-picker-op]").evaluate(
        "s => Array.from(s.options).filter(o => !o.hidden).map(o => o.value)"
    )
    assert ops == ["in", "not_in"]
    assert "filter_type=cohort" in page.url
    row.locator("select[name=filter_operator]").select_option("not_in")
    page.wait_for_function(
        "() => document.querySelector('.big-numbers .stat-value').textContent.trim() === '4'"
    )
    shoot(page, "cohort-filter-trends-1280")
    # the link reopens with the cohort's name in the row
    page.goto(page.url)
    assert (
        page.locator("#filter-rows .filter-row input[name=filter_key]").last.input_value() == "VIP customers"
    )
    assert page.locator(".big-numbers .stat-value").inner_text() == "4"
    page.set_viewport_size({"width": 390, "height": 800})
    no_overflow(page)
    shoot(page, "cohort-filter-trends-390")
    assert not page.page_errors


def test_funnel_breakdown_by_two_cohorts(app_live_server, page, client, alice, shop):
    login(page, client, alice, app_live_server.url)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(
        f"{app_live_server.url}/project/{shop.pk}/funnels/?step_event=signup&step_event=pay&date_from=-7d"
    )
    page.wait_for_selector("table.funnel-steps tbody tr:nth-child(2)")
    breakdown = page.locator("input[name=breakdown]")
    for name, rows in (("VIP", 2), ("Pair", 4)):
        breakdown.fill(name.lower())
        page.locator(".picker-menu .picker-item", has_text=name).click()
        page.wait_for_function(
            f"() => document.querySelectorAll('table.funnel-steps tbody tr').length === {rows}"
            " && location.search.includes('breakdown_type=cohort')"
        )
    assert breakdown.input_value() == ""  # emptied to pick another
    checked = page.locator("[data-cohort-breakdown] input:checked")
    assert checked.count() == 2
    table = page.locator("table.funnel-steps tbody tr").all_inner_texts()
    # in the box's order (the cohorts by name)
    assert [t.split("\t")[0] for t in table] == [
        "Pair and p4",
        "Pair and p4",
        "VIP customers",
        "VIP customers",
    ]
    # Pair and p4: p0, p1 sign up and pay, p4 signs up only; VIP: p0 signs up and pays
    assert "3" in table[0] and "2" in table[1] and "1" in table[3]
    shoot(page, "cohort-breakdown-funnel-1280")
    page.set_viewport_size({"width": 390, "height": 800})
    shoot(page, "cohort-breakdown-funnel-390")
    no_overflow(page)
    assert not page.page_errors


def test_create_a_behavioral_cohort_and_watch_its_count_appear(app_live_server, page, client, alice, shop):
    login(page, client, alice, app_live_server.url)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(f"{app_live_server.url}/project/{shop.pk}/cohorts/")
    row = page.locator("[data-criterion-row]").first
    assert not row.locator("input[name=g0_c0_event]").is_visible()
    row.locator("select[name=g0_c0_type]").select_option("performed_event")
    assert row.locator("input[name=g0_c0_event]").is_visible()
    assert not row.locator("input[name=g0_c0_key]").is_visible()  # a person property's fields stay hidden
    assert not page.locator("input[name=csv]").is_visible()
    page.locator("input[name=name]").fill("Payers")
    row.locator("input[name=g0_c0_event]").fill("pay")
    row.locator("input[name=g0_c0_count]").fill("1")
    row.locator("input[name=g0_c0_days]").fill("7")
    shoot(page, "cohort-builder-1280")
    page.set_viewport_size({"width": 390, "height": 800})
    no_overflow(page)
    shoot(page, "cohort-builder-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    page.get_by_role("button", name="Create cohort").click()
    page.wait_for_url("**/cohorts/*/")
    assert "calculating" in page.locator("[data-cohort-count]").inner_text()
    page.evaluate("() => { window.__notReloaded = true; }")
    cohort = Cohort.objects.get(project=shop, name="Payers")
    refresh_cohort(cohort.pk)  # what the worker does
    page.wait_for_function(
        "() => document.querySelector('[data-cohort-count]').textContent.trim() === '3'", timeout=10_000
    )
    assert page.evaluate("() => window.__notReloaded === true")
    assert page.locator("[data-cohort-status]").get_attribute("data-cohort-status") == "ready"
    assert page.locator("#members tbody tr").count() == 3
    shoot(page, "cohort-page-1280")
    page.set_viewport_size({"width": 390, "height": 800})
    no_overflow(page)
    shoot(page, "cohort-page-390")
    assert not page.page_errors
