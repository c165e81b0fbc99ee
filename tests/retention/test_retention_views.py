"""Retention builder page, its cell drill-down and the RetentionQuery JSON API."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import pytest
from django.urls import reverse

from analytics_app.query_api import REGISTRY
from insights.registry import KINDS

pytestmark = pytest.mark.django_db

TODAY = dt.datetime.now(dt.UTC).replace(hour=12, minute=0, second=0, microsecond=0)


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
    html = response.content.decode()
    assert "<html" in html and 'id="retention-form"' in html and 'id="result"' in html
    assert 'class="retention-matrix"' in html and "plotly.min.js" in html and "data-retention-figure" in html
    assert '<option value="open">' in html  # event autocomplete
    assert 'hx-push-url="true"' in html
    assert 'title="' in html and "of 2 persons" in html  # exact numbers on hover
    assert "Day 1 retention" in html  # summary card


def test_default_page_renders_without_parameters(alice_client, project, some_events):
    assert alice_client.get(url(project)).status_code == 200


def test_htmx_request_renders_only_the_result_partial(alice_client, project, some_events):
    response = alice_client.get(url(project, **DAILY, show="count"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'id="retention-form"' not in html
    assert html.strip().startswith('<section id="result"')


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
        html = response.content.decode()
        assert "2 of 2 persons" in html  # the cohort of day 0 is u1 and u2


def test_bad_params_are_a_400_with_the_errors(alice_client, project):
    response = alice_client.get(url(project, target_event="open", period="hour"))
    assert response.status_code == 400
    assert "period" in response.content.decode()
    response = alice_client.get(url(project, q="{not json"))
    assert response.status_code == 400
    response = alice_client.get(
        url(project, **{**DAILY, "total_intervals": "99"}), headers={"HX-Request": "true"}
    )
    assert response.status_code == 400 and "total_intervals" in response.content.decode()


def test_stranger_gets_404(client, charlie, project):
    client.force_login(charlie)
    assert client.get(url(project)).status_code == 404
    assert client.get(url(project, "retention:retention_persons")).status_code == 404


def test_exec_can_view(client, bob, project, some_events):
    client.force_login(bob)
    response = client.get(url(project, **DAILY))
    assert response.status_code == 200
    assert "Save insight" not in response.content.decode()  # read-only role


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
    html = response.content.decode()
    assert "<html" not in html
    person = some_events.person_for("u1")
    assert "1 person " in html and f"/project/{project.pk}/persons/{person}/" in html
    assert f"/project/{project.pk}/replay/s-1" in html  # u1's session in that period (alice may watch)
    cohort = alice_client.get(
        url(project, "retention:retention_persons", q=json.dumps(spec), cohort=1, offset=0)
    )
    assert "2 persons" in cohort.content.decode()


def test_cell_without_recordings_permission_has_no_replay_links(client, bob, project, some_events):
    client.force_login(bob)
    spec = {"kind": "RetentionQuery", "target_event": {"event": "open"}, "period": "day", "date_from": "-6d"}
    response = client.get(url(project, "retention:retention_persons", q=json.dumps(spec), cohort=1, offset=1))
    assert response.status_code == 200 and "/replay/" not in response.content.decode()


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
    assert (
        html.count('<table class="retention-matrix">') == 2
    )  # two values, even though both are masked alike
    assert "breakdown_index=1" in html and "two@example.com" not in html and "two%40example.com" not in html
