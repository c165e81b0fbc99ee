"""Retention builder page, its cell drill-down and the RetentionQuery JSON API."""

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

TODAY = at_test_time(lambda now: now.replace(hour=12, minute=0, second=0, microsecond=0))


def url(project, name="retention:retention", **params):
    base = reverse(name, kwargs={"project_id": project.pk})
    return base + ("?" + "&".join(f"{k}={quote(str(v))}" for k, v in params.items()) if params else "")


@pytest.fixture
def some_events(events):
    for day in (0, 1, 3):
        events.add("open", "u1", TODAY - dt.timedelta(days=5 - day), session_id=f"s-{day}")
    for day in (0, 2):
        events.add("open", "u2", TODAY - dt.timedelta(days=5 - day))
    events.flush()
    return events


DAILY = {
    "target_event": "open",
    "period": "day",
    "date_from": "-6d",
    "retention_type": "recurring",
    "total_intervals": "7",
}


def test_full_page_renders_builder_matrix_and_curve(alice_client, project, some_events):
    response = alice_client.get(url(project, **DAILY))
    assert response.status_code == 200
    doc = parse(response)
    assert not doc.is_fragment and doc.has("section#result table.retention-matrix")
    assert doc.has("section#result [data-retention-figure]")
    assert doc.find("script", src=re.compile(r"plotly\.min\.js$"))
    assert [o.attrs["value"] for o in doc.select("datalist#event-names option")] == ["open"]  # autocomplete
    assert doc.one("form#retention-form").attrs["hx-push-url"] == "true"
    titles = [td.attrs["title"] for td in doc.select("table.retention-matrix td[title]")]
    assert any(t.endswith("Day 1: 1 of 2 persons (50.0%)") for t in titles)  # exact numbers on hover
    assert doc.texts(".summary-cards .stat-label") == ["Day 1 retention"]


def test_default_page_renders_without_parameters(alice_client, project, some_events):
    assert alice_client.get(url(project)).status_code == 200


def test_htmx_request_renders_only_the_result_partial(alice_client, project, some_events):
    response = alice_client.get(url(project, **DAILY, show="count"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    doc = parse(response)
    assert doc.is_fragment and not doc.has("#retention-form")
    assert [c for c in doc.children if not isinstance(c, str)] == [doc.one("section#result")]


def test_get_fields_and_q_reopen_the_same_matrix(alice_client, project, some_events):
    fields = alice_client.get(url(project, **DAILY, show="count"))
    spec = {
        "kind": "RetentionQuery",
        "target_event": {"event": "open"},
        "returning_event": {"event": "open"},
        "period": "day",
        "date_from": "-6d",
        "total_intervals": 7,
        "retention_type": "recurring",
    }
    q = alice_client.get(url(project, q=json.dumps(spec), show="count"))
    assert fields.status_code == q.status_code == 200
    for response in (fields, q):
        titles = [td.attrs["title"] for td in parse(response).select("table.retention-matrix td[title]")]
        assert any(t.endswith("Day 0: 2 of 2 persons (100.0%)") for t in titles)  # day 0: u1 and u2


def test_bad_params_are_a_400_with_the_errors(alice_client, project):
    response = alice_client.get(url(project, target_event="open", period="hour"))
    assert response.status_code == 400
    assert parse(response).texts("[role=alert] .form-errors code") == ["period"]
    response = alice_client.get(url(project, q="{not json"))
    assert response.status_code == 400
    response = alice_client.get(
        url(project, **{**DAILY, "total_intervals": "99"}), headers={"HX-Request": "true"}
    )
    assert response.status_code == 400
    assert parse(response).texts("[role=alert] .form-errors code") == ["total_intervals"]


def test_stranger_gets_404(client, charlie, project):
    client.force_login(charlie)
    assert client.get(url(project)).status_code == 404
    assert client.get(url(project, "retention:retention_persons")).status_code == 404


def test_exec_can_view(client, bob, project, some_events):
    client.force_login(bob)
    response = client.get(url(project, **DAILY))
    assert response.status_code == 200
    assert not parse(response).has(".save-insight")  # read-only role


def test_anonymous_is_sent_to_login(client, project):
    assert client.get(url(project)).status_code == 302


def test_cell_lists_its_persons_with_links(alice_client, project, some_events):
    spec = {
        "kind": "RetentionQuery",
        "target_event": {"event": "open"},
        "period": "day",
        "date_from": "-6d",
        "total_intervals": 7,
    }
    response = alice_client.get(
        url(
            project, "retention:retention_persons", q=json.dumps(spec), cohort=1, offset=1, breakdown_index=0
        ),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    doc = parse(response)
    assert doc.is_fragment and doc.one("h3").text.startswith("1 person ·")
    person = some_events.person_for("u1")
    (row,) = doc.select("table.retention-persons tbody tr")
    assert row.find("a").attrs["href"] == f"/project/{project.pk}/persons/{person}/"
    # u1's session in that period (alice may watch)
    assert row.one("a.recording-link").attrs["href"] == f"/project/{project.pk}/replay/s-1"
    cohort = alice_client.get(
        url(project, "retention:retention_persons", q=json.dumps(spec), cohort=1, offset=0)
    )
    assert parse(cohort).one("h3").text.startswith("2 persons ·")


def test_cell_without_recordings_permission_has_no_replay_links(client, bob, project, some_events):
    client.force_login(bob)
    spec = {"kind": "RetentionQuery", "target_event": {"event": "open"}, "period": "day", "date_from": "-6d"}
    response = client.get(url(project, "retention:retention_persons", q=json.dumps(spec), cohort=1, offset=1))
    assert response.status_code == 200
    doc = parse(response)
    assert doc.select("table.retention-persons tbody tr")
    assert not doc.find_all("a", href=re.compile("/replay/"))


def test_bad_cell_is_a_400(alice_client, project):
    spec = {"kind": "RetentionQuery", "target_event": {"event": "open"}, "period": "day", "date_from": "-6d"}
    assert (
        alice_client.get(
            url(project, "retention:retention_persons", q=json.dumps(spec), cohort=99, offset=0)
        ).status_code
        == 400
    )
    assert (
        alice_client.get(
            url(project, "retention:retention_persons", q=json.dumps(spec), cohort="x", offset=0)
        ).status_code
        == 400
    )
    assert (
        alice_client.get(
            url(project, "retention:retention_persons", q="nope", cohort=0, offset=0)
        ).status_code
        == 400
    )


def api(client, project, api_key, body):
    return client.post(
        f"/api/projects/{project.pk}/query/",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key}"},
    )


def test_json_api_runs_retention(client, project, api_key, some_events):
    start = (TODAY - dt.timedelta(days=5)).date()
    body = {
        "kind": "RetentionQuery",
        "target_event": {"event": "open"},
        "period": "day",
        "date_from": start.isoformat(),
        "date_to": (start + dt.timedelta(days=3)).isoformat(),
        "retention_type": "recurring",
    }
    response = api(client, project, api_key, body)
    assert response.status_code == 200, response.content
    results = response.json()["results"]
    assert results == [
        {
            "cohort_start": start.isoformat(),
            "cohort_size": 2,
            "values": [2, 1, 1, 1],
            "breakdown_value": None,
            "breakdown_index": None,
        },
        {
            "cohort_start": (start + dt.timedelta(days=1)).isoformat(),
            "cohort_size": 1,
            "values": [1, 0, 1],
            "breakdown_value": None,
            "breakdown_index": None,
        },
        {
            "cohort_start": (start + dt.timedelta(days=2)).isoformat(),
            "cohort_size": 1,
            "values": [1, 0],
            "breakdown_value": None,
            "breakdown_index": None,
        },
        {
            "cohort_start": (start + dt.timedelta(days=3)).isoformat(),
            "cohort_size": 1,
            "values": [1],
            "breakdown_value": None,
            "breakdown_index": None,
        },
    ]


def test_json_api_rejects_bad_specs(client, project, api_key):
    response = api(
        client, project, api_key, {"kind": "RetentionQuery", "target_event": {"event": ""}, "period": "year"}
    )
    assert response.status_code == 400
    assert {"target_event.event", "period"} <= set(response.json()["errors"])


def test_registered_as_query_kind_insight_kind_and_section():
    from analytics_app.navigation import SECTIONS

    assert "RetentionQuery" in REGISTRY and "RetentionQuery" in KINDS
    assert KINDS["RetentionQuery"].builder_url_name == "retention:retention"
    assert any(s.url_name == "retention:retention" for s in SECTIONS)


def test_breakdown_by_person_property_is_masked_for_roles_without_pii(
    client, alice, bob, project, some_events
):
    from analytics_app import clickhouse as ch

    ch.insert(
        "persons",
        {
            "project_id": [project.id] * 2,
            "id": [str(some_events.person_for("u1")), str(some_events.person_for("u2"))],
            "created_at": [TODAY] * 2,
            "properties": ['{"email": "one@example.com"}', '{"email": "two@example.com"}'],
            "version": [1, 1],
        },
    )
    params = {**DAILY, "breakdown_type": "person", "breakdown": "email"}
    client.force_login(alice)
    html = client.get(url(project, **params)).content.decode()
    assert "one@example.com" in html and "two@example.com" in html
    client.force_login(bob)
    response = client.get(url(project, **params))
    assert response.status_code == 200
    html = response.content.decode()
    assert "one@example.com" not in html and "•" in html
    # The drill-down link carries the breakdown's position, never the (masked) value.
    doc = parse(html)
    assert len(doc.select("table.retention-matrix")) == 2  # two values, even though both are masked alike
    assert doc.find_all("a", class_="cell", href=re.compile(r"&breakdown_index=1$"))
    assert "two@example.com" not in html and "two%40example.com" not in html
