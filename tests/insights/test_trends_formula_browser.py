"""Trends formulas, displays and annotations in headless Chromium: type an A/B formula, see
its line (the series letters in the builder and legend), switch to pie, bold number and
moving average (the window field appears only for it), click a point and annotate its
date, see the annotation's marker on the redrawn chart, with no page overflow at 390 px.
``SEXTANT_SCREENSHOT_DIR=/tmp/shots`` keeps screenshots at 1280 and 390 px."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.clock import at_test_time
from tests.dashboards.test_every_kind_browser import shoot
from tests.paths.test_paths_browser import login
from trends.models import Annotation

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NOW = at_test_time(lambda now: now.replace(microsecond=0))


@pytest.fixture
def signups(project, events):
    """Over 6 days: pageviews 4..9 a day, signups 2 a day (today's day: both running)."""
    for day in range(6):
        at = NOW - dt.timedelta(days=day, minutes=5)
        for i in range(4 + day):
            events.add("$pageview", f"p{i}", at - dt.timedelta(minutes=i))
        for i in range(2):
            events.add("signup", f"p{i}", at - dt.timedelta(minutes=i))
    events.flush()
    return project


def legend(page) -> list[str]:
    return page.eval_on_selector_all("#result .plot .legendtext", "els => els.map(e => e.textContent)")


def no_overflow(page) -> bool:
    return page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth + 1")


def test_formula_displays_and_an_annotation_from_a_point(app_live_server, page, client, alice, signups):
    login(page, client, alice, app_live_server.url)
    page.goto(
        f"{app_live_server.url}/project/{signups.pk}/insights/trends/"
        "?series_event=%24pageview&series_event=signup&date_from=-7d&interval=day"
    )
    page.wait_for_selector("#result [data-trends-figure][data-drawn] .plot .main-svg")
    assert page.locator("#series-rows [data-row-letter]").all_inner_texts() == ["A", "B"]
    assert not page.locator("[data-display-only='moving_average']").is_visible()

    # A third series gets the letter C; removing it renumbers.
    page.click("[data-add-row='series']")
    assert page.locator("#series-rows [data-row-letter]").all_inner_texts() == ["A", "B", "C"]
    page.locator("#series-rows .series-row").last.locator("[data-remove-row]").click()
    page.wait_for_function("() => document.querySelectorAll('#series-rows [data-row-letter]').length === 2")

    page.fill("input[name=formula]", "A/B")
    page.click("#trends-form button[type=submit]")
    page.wait_for_function(
        "() => [...document.querySelectorAll('#result .legendtext')].some(e => e.textContent === 'ƒ A/B')"
    )
    assert legend(page) == ["ƒ A/B"]
    assert "formula=A%2FB" in page.url
    # The running day is drawn dashed: the line in a solid and a dashed (tail) piece.
    dashes = page.eval_on_selector(
        "#result .plot", "el => el.data.filter(t => t.mode === 'lines').map(t => t.line.dash)"
    )
    assert dashes == ["solid", "dash"]
    shoot(page, "trends-formula-1280")

    page.check("input[name=show_series]")
    page.wait_for_function("() => document.querySelectorAll('#result .legendtext').length === 3")
    assert legend(page) == ["ƒ A/B", "A · $pageview", "B · signup"]

    page.select_option("select[name=display]", "pie")
    page.wait_for_selector("#result .plot .pielayer .slice")
    shoot(page, "trends-pie-1280")
    page.select_option("select[name=display]", "number")
    page.wait_for_selector("#result .big-numbers .stat-value")
    numbers = page.locator("#result .big-numbers .stat-value").all_inner_texts()
    assert numbers[1:] == [f"{sum(range(4, 10)):,}", "12"]  # the series' totals after the formula's
    assert float(numbers[0]) == pytest.approx(sum(range(4, 10)) / 12, abs=0.01)
    page.select_option("select[name=display]", "moving_average")
    assert page.locator("[data-display-only='moving_average']").is_visible()
    page.wait_for_selector("#result [data-trends-figure][data-drawn] .plot .scatterlayer .trace")
    page.fill("input[name=window]", "3")
    page.click("#trends-form button[type=submit]")
    page.wait_for_function("() => location.search.includes('window=3')")
    page.select_option("select[name=display]", "line")
    page.wait_for_function("() => location.search.includes('display=line')")
    page.wait_for_selector("#result [data-trends-figure][data-drawn] .plot .scatterlayer .trace")

    # Click a point of the formula: no drill-down for it, the annotation form gets its date.
    page.locator("#result .plot .scatterlayer .trace").first.locator(".point").first.click(force=True)
    page.wait_for_function("() => document.querySelector('#annotations input[name=date]').value !== ''")
    date = page.input_value("#annotations input[name=date]")
    page.fill("#annotations input[name=content]", "Launched the new signup page")
    page.click("#annotations button[type=submit]")
    page.wait_for_selector("#annotations .annotation-list li")
    page.wait_for_selector("#result [data-trends-figure][data-drawn] .plot .main-svg")
    a = Annotation.objects.get()
    assert a.content == "Launched the new signup page" and a.created_by_label == alice.get_username()
    assert a.date_marker.astimezone(signups.tz).date().isoformat() == date
    names = page.eval_on_selector("#result .plot", "el => el.data.map(t => t.name)")
    assert "Annotations" in names
    assert "formula=A%2FB" in page.url and "show_series=on" in page.url  # back on the same chart
    assert "display=line" in page.url
    assert no_overflow(page)
    shoot(page, "trends-annotation-1280")

    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    page.wait_for_selector("#result [data-trends-figure][data-drawn] .plot .main-svg")
    assert no_overflow(page)
    shoot(page, "trends-annotation-390")
    page.select_option("select[name=display]", "table")
    page.wait_for_selector("#result table.trends-table")
    assert no_overflow(page)
    shoot(page, "trends-table-390")
    assert not page.page_errors
