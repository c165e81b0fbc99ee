"""insights/views_common.py: the builder views' shared glue (status codes, partial, share link)."""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from insights import views_common
from tests.html import form_errors, parse
from trends.spec import TrendsSpec

TEMPLATE = "trends/trends.html"
HTMX = SimpleNamespace(history_restore_request=False, boosted=False)


def _request(rf, htmx):
    request = rf.get("/")
    request.htmx = htmx
    return request


def test_is_partial_only_for_a_plain_htmx_swap(rf):
    assert views_common.is_partial(_request(rf, HTMX))
    assert not views_common.is_partial(_request(rf, None))
    assert not views_common.is_partial(
        _request(rf, SimpleNamespace(history_restore_request=True, boosted=False))
    )
    assert not views_common.is_partial(
        _request(rf, SimpleNamespace(history_restore_request=False, boosted=True))
    )


def test_a_query_over_the_limits_is_a_422_with_the_reason(rf):
    def fill():  # a real ClickHouse error, raised by the real guard setting
        ch.query("SELECT number FROM numbers(100000)", global_=True, settings={"max_result_rows": 10})

    response = views_common.render_builder(_request(rf, HTMX), TEMPLATE, {}, None, fill)
    assert response.status_code == 422
    doc = parse(response)
    assert doc.one("[role=alert] strong").text == views_common.TOO_LARGE and list(form_errors(doc)) == [
        "query"
    ]


def test_form_errors_are_400_and_a_failing_query_replaces_them(rf):
    form_error = BadRequest("Invalid TrendsQuery.", {"interval": "must be one of hour, day"})
    response = views_common.render_builder(_request(rf, HTMX), TEMPLATE, {}, form_error, None)
    assert response.status_code == 400
    assert form_errors(parse(response)) == {"interval": "must be one of hour, day"}

    def fill():
        raise BadRequest("Invalid drill-down.", {"q": "bad"})

    response = views_common.render_builder(_request(rf, HTMX), TEMPLATE, {}, None, fill)
    assert response.status_code == 400
    doc = parse(response)
    assert doc.one("[role=alert] strong").text == "Invalid drill-down." and form_errors(doc) == {"q": "bad"}


@pytest.mark.django_db
def test_share_url_and_range_text(rf, project):
    url = views_common.share_url(rf.get("/"), "trends:trends", project, '{"a":"b c"}')
    assert url.endswith(f"/project/{project.pk}/insights/trends/?q=%7B%22a%22%3A%22b%20c%22%7D")
    end = dt.datetime(2026, 1, 2, 3, 4, tzinfo=dt.UTC)
    text = views_common.range_text(project, None, end)
    assert text.startswith("all time – ") and text.endswith(f"({project.time_zone})")
    assert (
        views_common.range_text(project, end, end).count(
            end.astimezone(project.tz).strftime("%Y-%m-%d %H:%M")
        )
        == 2
    )


def test_a_drill_down_with_bad_input_is_its_partial_with_the_reason_400(rf):
    def fill():
        raise BadRequest("Invalid drill-down.", {"series": "must be a series number"})

    response = views_common.render_drill(rf.get("/"), f"{TEMPLATE}#persons", {}, fill)
    assert response.status_code == 400
    doc = parse(response)
    assert doc.one("[role=alert] strong").text == "Invalid drill-down."
    assert form_errors(doc) == {"series": "must be a series number"}


def test_a_drill_down_over_the_limits_is_its_partial_with_the_reason_422(rf):
    def fill():  # a real ClickHouse error, raised by the real guard setting
        ch.query("SELECT number FROM numbers(100000)", global_=True, settings={"max_result_rows": 10})

    response = views_common.render_drill(rf.get("/"), f"{TEMPLATE}#persons", {}, fill)
    assert response.status_code == 422
    doc = parse(response)
    assert doc.one("[role=alert] strong").text == views_common.TOO_LARGE and list(form_errors(doc)) == [
        "query"
    ]


def test_a_drill_down_q_that_is_not_json_names_the_field():
    with pytest.raises(BadRequest) as bad:
        views_common.spec_from_q({"q": "{not json"}, TrendsSpec, None)
    assert bad.value.message == "Invalid drill-down." and bad.value.errors == {
        "q": "must be the chart's spec JSON"
    }
    with pytest.raises(BadRequest) as missing:
        views_common.spec_from_q({}, TrendsSpec, None, message="Invalid cell.", what="the matrix's")
    assert missing.value.message == "Invalid cell." and missing.value.errors == {
        "q": "must be the matrix's spec JSON"
    }
