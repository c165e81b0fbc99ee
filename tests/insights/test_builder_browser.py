"""The builders' shared form behaviour in headless Chromium (static/js/builder.js, driven by
data attributes; static/js/error_partials.js): adding, removing and moving rows on trends,
funnels and paths, the badges and the trends filter scope kept in step, the "Custom…" dates
and funnels' "held constant" field revealed, 400 form errors shown in #result on retention
and paths (retention has no rows to add: its blank filter rows come rendered), and a 400
tile on a dashboard."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.urls import reverse

from dashboards.models import Dashboard, DashboardTile, Insight

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def builder(live_server, page, client, alice, project):
    client.force_login(alice)
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_server.url,
            }
        ]
    )

    def open_page(path: str, *, builder: bool = True):
        page.goto(f"{live_server.url}/project/{project.pk}/{path}")
        if builder:
            page.wait_for_selector("#result")
            page.wait_for_function("() => window.SextantBuilder && window.htmx")
        return page

    return open_page


def texts(locator) -> list[str]:
    return [t.strip() for t in locator.all_inner_texts()]


def scope_options(page) -> list[str]:
    return page.locator("select[name=filter_scope]").first.locator("option").all_inner_texts()


def test_trends_series_and_filter_rows(builder):
    page = builder("insights/trends/?series_event=signup&series_math=total&date_from=-7d")
    series = page.locator("#series-rows .series-row")
    assert series.count() == 1
    series.first.locator("[data-remove-row]").click()  # the last series stays
    assert series.count() == 1

    page.get_by_role("button", name="+ Add series").click()
    assert series.count() == 2
    assert texts(page.locator("#series-rows .series-badge")) == ["A", "B"]  # the formula letters
    focused = page.evaluate("document.activeElement.name")
    assert focused == "series_event"  # the new row's first text input
    page.keyboard.type("pay")

    page.get_by_role("button", name="+ Add filter").click()
    assert page.locator("#filter-rows .filter-row").count() == 1
    # the scope names each series by its letter and event
    assert scope_options(page) == ["All series", "A · signup", "B · pay"]
    page.locator("select[name=filter_scope]").select_option("2")
    page.locator("#filter-rows input[name=filter_key]").fill("plan")

    # Removing series A renumbers the badges, drops "B" from the scope (its choice
    # falls back to all series) and re-runs the query: the URL is the new state.
    series.first.locator("[data-remove-row]").click()
    assert series.count() == 1
    assert texts(page.locator("#series-rows .series-badge")) == ["A"]
    assert scope_options(page) == ["All series", "A · pay"]
    assert page.locator("select[name=filter_scope]").input_value() == "all"
    page.wait_for_function(
        "() => location.href.includes('series_event=pay') && !location.href.includes('signup')"
    )

    page.locator("#filter-rows [data-remove-row]").click()
    assert page.locator("#filter-rows .filter-row").count() == 0
    page.wait_for_function("() => !location.href.includes('filter_key')")

    custom = page.locator("[data-custom-dates]")
    assert custom.is_hidden()
    page.locator("select[name=date_from]").select_option("custom")
    assert custom.is_visible()
    page.locator("select[name=date_from]").select_option("-7d")
    assert custom.is_hidden()
    assert not page.page_errors


def test_funnel_steps_add_move_remove(builder):
    page = builder("funnels/?step_event=signup&step_event=pay&date_from=-7d")
    steps = page.locator("#step-rows .step-row")
    events = page.locator("#step-rows input[name=step_event]")
    assert steps.count() == 2
    steps.first.locator("[data-remove-row]").click()  # a funnel keeps two steps
    assert steps.count() == 2

    page.get_by_role("button", name="+ Add step").click()
    assert texts(page.locator("#step-rows .step-badge")) == ["1", "2", "3"]
    page.keyboard.type("watch")
    steps.nth(2).locator("[data-move=up]").click()
    assert [events.nth(i).input_value() for i in range(3)] == ["signup", "watch", "pay"]
    assert texts(page.locator("#step-rows .step-badge")) == ["1", "2", "3"]
    page.wait_for_function(
        "() => location.search.indexOf('step_event=watch') > -1 && "
        "location.search.indexOf('step_event=watch') < location.search.indexOf('step_event=pay')"
    )
    steps.first.locator("[data-move=up]").click()  # already first: nothing moves
    steps.first.locator("[data-remove-row]").click()
    assert [events.nth(i).input_value() for i in range(2)] == ["watch", "pay"]
    assert texts(page.locator("#step-rows .step-badge")) == ["1", "2"]
    page.wait_for_function("() => !location.href.includes('step_event=signup')")

    add = page.get_by_role("button", name="+ Add step")
    for _ in range(25):
        add.click()
    assert steps.count() == 20

    page.get_by_role("button", name="+ Add exclusion").click()
    assert page.locator("#exclusion-rows .exclusion-row").count() == 1
    page.locator("#exclusion-rows [data-remove-row]").click()
    assert page.locator("#exclusion-rows .exclusion-row").count() == 0

    held = page.locator("[data-aggregate-property]")
    assert held.is_hidden()
    page.locator("select[name=aggregate_by]").select_option("property")
    assert held.is_visible()
    page.locator("select[name=aggregate_by]").select_option("person")
    assert held.is_hidden()
    assert not page.page_errors


def test_paths_rules_and_filters_and_a_form_error(builder):
    page = builder("paths/?point_type=start&point=%2F&date_from=-7d")
    page.get_by_role("button", name="+ Add rule").click()
    rules = page.locator("#rule-rows .rule-row")
    assert rules.count() == 1
    assert page.evaluate("document.activeElement.name") == "rule_regex"
    page.keyboard.type("/product/\\d+")
    rules.first.locator("input[name=rule_alias]").fill("/product/:id")
    page.get_by_role("button", name="Update").click()
    page.wait_for_function("() => location.href.includes('rule_alias=')")
    rules.first.locator("[data-remove-row]").click()
    assert rules.count() == 0
    page.wait_for_function("() => !location.href.includes('rule_alias=')")

    page.get_by_role("button", name="+ Add filter").click()
    page.get_by_role("button", name="+ Add filter").click()
    filters = page.locator("#filter-rows .filter-row")
    assert filters.count() == 2
    filters.first.locator("[data-remove-row]").click()
    assert filters.count() == 1

    page.locator("input[name=custom_from]").fill("not a date")
    page.locator("select[name=date_from]").select_option("custom")
    page.wait_for_selector("#result .message.error")
    assert not page.page_errors


def test_retention_shows_a_form_error(builder, project):
    from governance.models import EventDefinition  # noqa: PLC0415

    EventDefinition.objects.create(project=project, name="open")  # planned: a known event
    page = builder("retention/?period=day&date_from=-6d&target_event=open&total_intervals=7")
    page.locator("input[name=custom_from]").fill("not a date")
    page.locator("select[name=date_from]").select_option("custom")
    page.wait_for_selector("#result .message.error")
    assert "date_from" in page.locator("#result .message.error").inner_text()
    assert not page.page_errors


def test_a_dashboard_tile_shows_its_400(builder, alice, project):
    """The tile hosts load static/js/error_partials.js themselves (they used to get it
    from the trends and funnels scripts): a tile answering 400 shows its reason."""
    board = Dashboard.objects.create(project=project, name="Board", created_by=alice)
    insight = Insight.objects.create(
        project=project, name="Signups", kind="TrendsQuery", spec={"series": [{"event": "signup"}]}
    )
    tile = DashboardTile.objects.create(dashboard=board, insight=insight, order=0, width=3)
    page = builder(f"dashboards/{board.pk}/", builder=False)
    body = f"#tile-{tile.pk} .tile-body"
    page.wait_for_selector(f"{body} .tile-meta")
    url = reverse(
        "dashboards:dashboard_tile",
        kwargs={"project_id": project.pk, "dashboard_id": board.pk, "tile_id": tile.pk},
    )
    page.evaluate(
        "([url, body]) => window.htmx.ajax('GET', url, {target: body, swap: 'outerHTML'})",
        [url + "?date_from=-7d&date_to=not-a-date", body],
    )
    page.wait_for_selector(f"{body} [role=alert]")
    assert "Invalid date range" in page.locator(body).inner_text()
    assert not page.page_errors
