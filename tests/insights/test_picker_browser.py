"""The property picker (static/js/picker.js) in headless Chromium: in the trends, funnels and retention
builders, type part of a property's name, see it with its type and the tracking plan's
description, pick it, pick one of its top values, and see the result change. The operators
narrow to the picked property's type. ``SEXTANT_SCREENSHOT_DIR=/tmp/shots`` keeps
screenshots of the open pickers at 1280 and 390 px."""

from __future__ import annotations

import datetime as dt

import pytest

from governance.models import EventDefinition, PropertyDefinition
from tests.clock import at_test_time
from tests.dashboards.test_every_kind_browser import shoot
from tests.explorer.conftest import insert_person
from tests.paths.test_paths_browser import login

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = at_test_time(lambda now: now.replace(microsecond=0) - dt.timedelta(hours=1))


@pytest.fixture
def signups(project, events):
    """4 signups (3 on plan pro, 1 free) with an amount; 2 of the pro persons pay."""
    signup = EventDefinition.objects.create(
        project=project, name="signup", description="An account is created."
    )
    PropertyDefinition.objects.create(
        project=project, event=signup, name="plan", type="string", description="Billing plan chosen at signup"
    )
    PropertyDefinition.objects.create(
        project=project, name="company_size", type="number", description="Seats bought"
    )
    for i, plan in enumerate(["pro", "pro", "pro", "free"]):
        events.add(
            "signup",
            f"p{i}",
            NOW - dt.timedelta(minutes=30 - i),
            {"plan": plan, "amount": 10 * (i + 1), "$browser": "Chrome"},
        )
    events.add("pay", "p0", NOW).add("pay", "p3", NOW)
    events.flush()
    for i, size in enumerate([5, 50, 50, 5]):
        insert_person(
            project.pk,
            events.person_for(f"p{i}"),
            {"company_size": size, "tier": "gold" if i < 2 else "silver"},
        )
    return project


def visible_operators(row) -> list[str]:
    return row.locator("select[data-picker-op]").evaluate(
        "s => Array.from(s.options).filter(o => !o.hidden).map(o => o.value)"
    )


def test_trends_pick_a_property_and_a_value_and_the_number_changes(
    app_live_server, page, client, alice, signups
):
    login(page, client, alice, app_live_server.url)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(
        f"{app_live_server.url}/project/{signups.pk}/insights/trends/?series_event=signup&display=number&date_from=-7d"
    )
    assert page.locator(".big-numbers .stat-value").inner_text() == "4"
    page.get_by_role("button", name="+ Add filter").click()
    key = page.locator("#filter-rows .filter-row input[name=filter_key]").last
    key.fill("pla")
    item = page.locator(".picker-menu .picker-item", has_text="plan")
    page.wait_for_function(
        "() => { const m = document.querySelector('.picker-menu');"
        " return m && m.textContent.includes('Billing plan') && !m.textContent.includes('$browser'); }"
    )
    assert "Billing plan chosen at signup" in item.inner_text() and "string" in item.inner_text()
    assert page.locator(".picker-menu .picker-group").first.inner_text().lower().startswith("event")
    shoot(page, "picker-names-trends-1280")
    item.click()
    assert key.input_value() == "plan"
    page.wait_for_timeout(400)  # a name without its value is not yet a filter: no query ran
    assert "filter_key" not in page.url and page.locator(".big-numbers .stat-value").inner_text() == "4"
    row = page.locator("#filter-rows .filter-row").last
    ops = visible_operators(row)
    assert "icontains" in ops and "gt" not in ops
    # the value input has the focus and lists the top values with their counts
    value = page.locator(".picker-menu .picker-value", has_text="pro")
    value.wait_for()
    assert [t.split()[0] for t in page.locator(".picker-menu .picker-value").all_inner_texts()] == [
        "pro",
        "free",
    ]
    assert "3" in value.inner_text()
    shoot(page, "picker-values-trends-1280")
    value.click()
    page.wait_for_function(
        "() => document.querySelector('.big-numbers .stat-value').textContent.trim() === '3'"
    )
    assert "filter_key=plan" in page.url and "filter_value=pro" in page.url
    # the shared link reopens with the operators fitted to the property's type
    page.goto(page.url)
    page.wait_for_function(
        "() => { const s = document.querySelector('#filter-rows select[data-picker-op]');"
        " return s && s.querySelector('option[value=gt]').hidden && !s.querySelector('option[value=icontains]').hidden; }"
    )
    assert page.locator(".big-numbers .stat-value").inner_text() == "3"
    # keyboard: a number property offers the numeric operators
    page.get_by_role("button", name="+ Add filter").click()
    key = page.locator("#filter-rows .filter-row input[name=filter_key]").last
    key.fill("amou")
    page.wait_for_function(
        "() => { const m = document.querySelector('.picker-menu'); return m && m.textContent.includes('amount')"
        " && !m.textContent.includes('plan'); }"
    )
    key.press("ArrowDown")  # the first match is highlighted as the list opens; down and up again
    key.press("ArrowUp")
    key.press("Enter")
    assert key.input_value() == "amount"
    assert "gt" in visible_operators(page.locator("#filter-rows .filter-row").last)
    page.keyboard.press("Escape")
    assert page.locator(".picker-menu").count() == 0
    # phone width: the list stays inside the screen
    page.set_viewport_size({"width": 390, "height": 800})
    page.locator("#trends-form input[name=breakdown]").click()
    page.locator(".picker-menu .picker-item").first.wait_for()
    box = page.locator(".picker-menu").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert page.locator(".picker-menu .picker-group", has_text="Person properties").count() == 1
    shoot(page, "picker-names-trends-390")
    page.locator(".picker-menu .picker-item", has_text="$browser").click()
    page.wait_for_function(
        "() => document.querySelector('#result') && location.search.includes('breakdown=%24browser')"
    )
    assert not page.page_errors


def test_funnels_filter_on_a_person_property_picked_from_the_list(
    app_live_server, page, client, alice, signups
):
    login(page, client, alice, app_live_server.url)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(
        f"{app_live_server.url}/project/{signups.pk}/funnels/?step_event=signup&step_event=pay&date_from=-7d"
    )
    page.wait_for_selector("table.funnel-steps tbody tr:nth-child(2)")
    assert "4" in page.locator("table.funnel-steps tbody tr").nth(0).inner_text()
    page.get_by_role("button", name="+ Add filter").click()
    key = page.locator("#filter-rows .filter-row input[name=filter_key]").last
    key.fill("company")
    item = page.locator(".picker-menu .picker-item", has_text="company_size")
    page.wait_for_function(
        "() => { const m = document.querySelector('.picker-menu'); return m && !m.textContent.includes('$browser'); }"
    )
    assert page.locator(".picker-menu .picker-group").all_inner_texts() == ["PERSON PROPERTIES"]
    assert "Seats bought" in item.inner_text() and "number" in item.inner_text()
    item.click()
    row = page.locator("#filter-rows .filter-row").last
    assert row.locator("select[name=filter_type]").input_value() == "person"
    assert set(visible_operators(row)) == {
        "exact",
        "is_not",
        "gt",
        "gte",
        "lt",
        "lte",
        "is_set",
        "is_not_set",
    }
    values = page.locator(".picker-menu .picker-value")
    values.first.wait_for()
    assert [t.split()[:2] for t in values.all_inner_texts()] == [["5", "2"], ["50", "2"]]
    shoot(page, "picker-values-funnels-1280")
    page.set_viewport_size({"width": 390, "height": 800})
    shoot(page, "picker-values-funnels-390")
    page.set_viewport_size({"width": 1280, "height": 900})
    values.first.click()  # company_size = 5: p0 (paid) and p3 (paid)
    page.wait_for_function(
        "() => { const r = document.querySelectorAll('table.funnel-steps tbody tr');"
        " return r.length >= 2 && location.search.includes('filter_value=5') && r[0].textContent.includes('2'); }"
    )
    first = page.locator("table.funnel-steps tbody tr").nth(0).inner_text()
    assert "2" in first and "4" not in first
    assert not page.page_errors


def test_explorer_and_cohorts_offer_only_the_properties_their_filters_take(
    app_live_server, page, client, alice, signups
):
    login(page, client, alice, app_live_server.url)
    page.set_viewport_size({"width": 390, "height": 800})
    page.goto(f"{app_live_server.url}/project/{signups.pk}/events/?event=signup")
    key = page.locator("#filters input[name=prop_key]").first
    key.fill("pla")
    page.wait_for_function(
        "() => { const m = document.querySelector('.picker-menu'); return m && m.textContent.includes('Billing plan')"
        " && !m.textContent.includes('amount'); }"
    )
    assert page.locator(".picker-menu .picker-group").all_inner_texts() == ["EVENT PROPERTIES"]
    box = page.locator(".picker-menu").bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    shoot(page, "picker-names-explorer-390")
    page.locator(".picker-menu .picker-item", has_text="plan").click()
    page.locator(".picker-menu .picker-value", has_text="pro").click()
    page.get_by_role("button", name="Apply").click()
    page.wait_for_function("() => location.search.includes('prop_value=pro')")
    page.wait_for_function(
        "() => document.querySelectorAll('#results table.events-table tbody tr').length === 3"
    )
    # the cohort builder's person-property field lists person properties only
    page.goto(f"{app_live_server.url}/project/{signups.pk}/cohorts/")
    page.locator("select[name=g0_c0_type]").select_option(
        "person_property"
    )  # shows the row's property fields
    page.locator("input[name=g0_c0_key]").click()
    page.locator(".picker-menu .picker-item", has_text="company_size").wait_for()
    assert page.locator(".picker-menu .picker-group").all_inner_texts() == ["PERSON PROPERTIES"]
    assert not page.page_errors


def test_retention_filter_and_breakdown_picked_from_the_lists(app_live_server, page, client, alice, signups):
    """Retention: a filter on both events picked by name and value, then a person-property
    breakdown picked by name; the matrix follows each."""
    login(page, client, alice, app_live_server.url)
    page.set_viewport_size({"width": 1280, "height": 900})
    page.goto(
        f"{app_live_server.url}/project/{signups.pk}/retention/?target_event=signup&period=day&date_from=-7d"
    )

    def cohort_sizes() -> list[str]:
        return page.locator("table.retention-matrix tbody tr:not(.mean) td:nth-child(2)").all_inner_texts()

    page.wait_for_selector("table.retention-matrix")
    assert sum(int(t) for t in cohort_sizes() if t.strip()) == 4
    key = page.locator("input[name=filter_key]").last
    key.fill("pla")
    item = page.locator(".picker-menu .picker-item", has_text="plan")
    item.wait_for()
    assert "Billing plan chosen at signup" in item.inner_text()
    item.click()
    value = page.locator(".picker-menu .picker-value", has_text="pro")
    value.wait_for()
    value.click()
    page.get_by_role("button", name="Update").click()
    page.wait_for_function("() => location.search.includes('filter_value=pro')")
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('table.retention-matrix tbody tr:not(.mean) td:nth-child(2)'))"
        ".reduce((n, td) => n + (parseInt(td.textContent) || 0), 0) === 3"
    )
    # breakdown by a person property, found by typing part of its name
    page.locator("select[name=breakdown_type]").select_option("person")
    page.locator("input[name=breakdown]").fill("tie")
    page.locator(".picker-menu .picker-item", has_text="tier").click()
    page.get_by_role("button", name="Update").click()
    page.wait_for_function(
        "() => Array.from(document.querySelectorAll('#result h3')).map(h => h.textContent.trim())"
        ".filter(t => t === 'gold' || t === 'silver').length === 2"
    )
    shoot(page, "picker-retention-1280")
    page.set_viewport_size({"width": 390, "height": 800})
    # plotly redraws the chart for the new width after a debounce: until then it is 1280 wide
    page.wait_for_function("() => document.documentElement.scrollWidth <= 391", timeout=5000)
    shoot(page, "picker-retention-390")
    assert not page.page_errors
