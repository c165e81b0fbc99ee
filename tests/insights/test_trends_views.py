"""Trends builder page, drill-down and the TrendsQuery JSON API."""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import quote

import pytest
from django.urls import reverse

from analytics_app.query_api import REGISTRY
from insights.registry import KINDS
from tests.clock import at_test_time
from tests.html import parse

pytestmark = pytest.mark.django_db

NOW = at_test_time(lambda now: now)


def url(project, **params):
    base = reverse("trends:trends", kwargs={"project_id": project.pk})
    return base + ("?" + "&".join(f"{k}={quote(str(v))}" for k, v in params.items()) if params else "")


@pytest.fixture
def some_events(events):
    for i in range(6):
        events.add(
            "$pageview",
            f"u{i % 3}",
            NOW - dt.timedelta(hours=2 + i),
            {"$browser": ["Chrome", "Safari"][i % 2], "revenue": i},
        )
    events.add("signup", "u1", NOW - dt.timedelta(hours=3), {"plan": "pro"})
    events.flush()
    return events


def test_full_page_renders_builder_and_chart(alice_client, project, some_events):
    response = alice_client.get(url(project))
    assert response.status_code == 200
    doc = parse(response)
    assert not doc.is_fragment and doc.has("section#result [data-trends-figure]")
    assert doc.find("script", src=re.compile(r"plotly\.min\.js$"))
    # event autocomplete from EventNamesQuery
    assert [o.attrs["value"] for o in doc.select("datalist#event-names option")] == ["$pageview", "signup"]
    assert doc.one("form#trends-form").attrs["hx-push-url"] == "true"


def test_htmx_request_renders_only_the_result_partial(alice_client, project, some_events):
    response = alice_client.get(
        url(project, series_event="$pageview", series_math="dau", interval="day", date_from="-7d"),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    doc = parse(response)
    assert doc.is_fragment and not doc.has("#trends-form")
    assert [c for c in doc.children if not isinstance(c, str)] == [doc.one("section#result")]


def test_get_fields_and_q_reopen_the_same_chart(alice_client, project, some_events):
    fields = alice_client.get(
        url(
            project,
            series_event="$pageview",
            series_math="total",
            interval="day",
            date_from="-7d",
            display="table",
        )
    )
    spec = {
        "kind": "TrendsQuery",
        "series": [{"event": "$pageview"}],
        "date_from": "-7d",
        "interval": "day",
        "display": "table",
    }
    q = alice_client.get(url(project, q=json.dumps(spec)))
    assert fields.status_code == q.status_code == 200
    for response in (fields, q):
        (row,) = parse(response).select("table.trends-table tbody tr")
        cells = [td.text for td in row.find_all("td")]
        assert cells[0] == "$pageview" and cells[-1] == "6" and row.find("strong").text == "6"  # the total


def test_table_and_number_views(alice_client, project, some_events):
    number = alice_client.get(
        url(project, series_event="$pageview", series_math="dau", date_from="-7d", display="number"),
        headers={"HX-Request": "true"},
    )
    assert parse(number).texts(".big-numbers .stat-value") == ["3"]


@pytest.mark.parametrize(
    "params",
    [
        {"series_event": "$pageview", "interval": "fortnight"},
        {"series_event": "$pageview", "date_from": "custom", "custom_from": "garbage"},
        {"series_event": "$pageview", "series_math": "sum"},
        {"series_event": "", "interval": "day"},
        {"q": "{not json"},
        {"series_event": "$pageview", "breakdown": "$browser", "breakdown_limit": "many"},
    ],
)
def test_bad_params_are_400_with_the_errors_on_the_page(alice_client, project, params):
    response = alice_client.get(url(project, **params))
    assert response.status_code == 400
    doc = parse(response)
    assert doc.has("[role=alert] .form-errors li") and doc.has("form#trends-form")
    partial = alice_client.get(url(project, **params), headers={"HX-Request": "true"})
    assert partial.status_code == 400
    assert parse(partial).is_fragment and parse(partial).has("[role=alert] .form-errors li")


def test_math_property_error_names_the_field(alice_client, project):
    doc = parse(alice_client.get(url(project, series_event="$pageview", series_math="sum")))
    assert doc.texts("[role=alert] .form-errors code") == ["series[0].math_property"]


def test_exec_can_view(client, bob, project, some_events):
    client.force_login(bob)
    assert client.get(url(project)).status_code == 200


def test_stranger_gets_404(client, charlie, project):
    client.force_login(charlie)
    assert client.get(url(project)).status_code == 404
    assert client.get(reverse("trends:trends_persons", kwargs={"project_id": project.pk})).status_code == 404


def test_anonymous_is_sent_to_login(client, project):
    response = client.get(url(project))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_navigation_lists_trends(alice_client, project):
    doc = parse(alice_client.get(reverse("project_overview", kwargs={"project_id": project.pk})))
    assert doc.find("a", href=reverse("trends:trends", kwargs={"project_id": project.pk}), text="Trends")


def test_drill_down_lists_the_persons_behind_a_point(alice_client, project, some_events):
    spec = {
        "kind": "TrendsQuery",
        "series": [{"event": "$pageview", "math": "dau"}],
        "date_from": "-24h",
        "interval": "hour",
    }
    bucket = (NOW - dt.timedelta(hours=2)).astimezone(project.tz).replace(minute=0, second=0, microsecond=0)
    response = alice_client.get(
        reverse("trends:trends_persons", kwargs={"project_id": project.pk}),
        {"q": json.dumps(spec), "series": 0, "date": bucket.isoformat(), "period": "current"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    doc = parse(response)
    assert doc.is_fragment and doc.one("h3").text == "1 person · $pageview (dau)"
    (row,) = doc.select("table.trends-persons tbody tr")
    person = some_events.person_for("u0")
    assert row.find("a").attrs["href"] == f"/project/{project.pk}/persons/{person}/"


def test_drill_down_bad_params_are_400(alice_client, project):
    response = alice_client.get(
        reverse("trends:trends_persons", kwargs={"project_id": project.pk}), {"q": "{}", "series": "x"}
    )
    assert response.status_code == 400


def api(client, project, api_key, body):
    return client.post(
        f"/api/projects/{project.pk}/query/",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key}"},
    )


def test_json_api_runs_trends(client, project, api_key, some_events):
    body = {
        "kind": "TrendsQuery",
        "series": [{"event": "$pageview"}, {"event": "$pageview", "math": "dau"}],
        "date_from": "-7d",
        "interval": "day",
    }
    response = api(client, project, api_key, body)
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert [r["total"] for r in results] == [6, 3]
    assert len(results[0]["dates"]) == len(results[0]["data"]) == 8


def test_json_api_rejects_bad_specs(client, project, api_key):
    response = api(
        client,
        project,
        api_key,
        {"kind": "TrendsQuery", "series": [{"event": "x", "math": "sum"}], "interval": "fortnight"},
    )
    assert response.status_code == 400
    assert {"interval", "series[0].math_property"} <= set(response.json()["errors"])


def test_kinds_are_registered():
    assert (
        "TrendsQuery" in REGISTRY and REGISTRY["TrendsQuery"].schema["properties"]["series"]["maxItems"] == 10
    )
    kind = KINDS["TrendsQuery"]
    assert kind.label == "Trends" and kind.builder_url_name == "trends:trends"


def test_insight_kind_round_trip_and_tile(rf, project, alice, some_events):
    kind = KINDS["TrendsQuery"]
    spec = kind.parse(
        {"kind": "TrendsQuery", "series": [{"event": "$pageview"}], "date_from": "-7d"}, project
    )
    assert kind.parse(kind.to_json(spec), project) == spec
    narrowed = kind.with_date_range(spec, "-24h", None)
    assert narrowed.date_range.date_from == "-24h"
    result = kind.run(project, narrowed)
    assert sum(result.series[0].data) == 6
    request = rf.get("/")
    request.user = alice
    html = kind.render_tile(request, project, narrowed, result)
    assert parse(html).is_fragment and parse(html).has("[data-trends-figure]")
    table = kind.render_tile(
        request, project, kind.parse({**kind.to_json(spec), "display": "table"}, project), result
    )
    assert parse(table).has("table.trends-table")
