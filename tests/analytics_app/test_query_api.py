"""POST /api/projects/<id>/query/: authentication, the gate, dispatch, errors."""

import datetime as dt
import json

from django.urls import reverse

from analytics_app.models import PersonalAPIKey


def post(client, project_id, body, **headers):
    data = body if isinstance(body, str | bytes) else json.dumps(body)
    return client.post(
        reverse("api_query", kwargs={"project_id": project_id}),
        data,
        content_type="application/json",
        headers=headers,
    )


def test_no_credentials_is_401(client, project):
    response = post(client, project.pk, {"kind": "EventNamesQuery"})
    assert response.status_code == 401
    assert "Authentication required" in response.json()["error"]


def test_unknown_or_revoked_key_is_401(client, project, alice):
    assert (
        post(client, project.pk, {"kind": "EventNamesQuery"}, Authorization="Bearer phx_nope").status_code
        == 401
    )
    key, raw = PersonalAPIKey.issue(alice, "x")
    key.revoke()
    assert (
        post(client, project.pk, {"kind": "EventNamesQuery"}, Authorization=f"Bearer {raw}").status_code
        == 401
    )


def test_bearer_key_runs_a_query_with_real_numbers(client, project, api_key, events):
    now = dt.datetime.now(dt.UTC)
    events.add("signed_up", "u1", now - dt.timedelta(hours=2)).add(
        "signed_up", "u2", now - dt.timedelta(hours=1)
    )
    events.add("$pageview", "u1", now - dt.timedelta(minutes=5)).flush()
    response = post(client, project.pk, {"kind": "EventNamesQuery"}, Authorization=f"Bearer {api_key}")
    assert response.status_code == 200
    results = {r["event"]: r for r in response.json()["results"]}
    assert results["signed_up"]["count"] == 2 and results["signed_up"]["persons"] == 2
    assert results["$pageview"]["count"] == 1
    narrowed = post(
        client, project.pk, {"kind": "EventNamesQuery", "search": "PAGE"}, Authorization=f"Bearer {api_key}"
    )
    assert [r["event"] for r in narrowed.json()["results"]] == ["$pageview"]


def test_foreign_or_missing_project_is_404(client, project, other_project, api_key):
    assert (
        post(
            client, other_project.pk, {"kind": "EventNamesQuery"}, Authorization=f"Bearer {api_key}"
        ).status_code
        == 404
    )
    assert (
        post(client, 987654, {"kind": "EventNamesQuery"}, Authorization=f"Bearer {api_key}").status_code
        == 404
    )


def test_bad_bodies_are_400_with_a_reason(client, project, api_key):
    auth = {"Authorization": f"Bearer {api_key}"}
    malformed = post(client, project.pk, "{not json", **auth)
    assert malformed.status_code == 400 and "not valid JSON" in malformed.json()["error"]
    assert post(client, project.pk, "[1, 2]", **auth).status_code == 400
    assert post(client, project.pk, "", **auth).status_code == 400
    unknown = post(client, project.pk, {"kind": "NopeQuery"}, **auth)
    assert unknown.status_code == 400
    assert "EventNamesQuery" in unknown.json()["error"]
    bad_field = post(client, project.pk, {"kind": "EventNamesQuery", "limit": "ten"}, **auth)
    assert bad_field.status_code == 400 and "limit" in bad_field.json()["errors"]
    assert post(client, project.pk, {"kind": "EventNamesQuery", "surprise": 1}, **auth).status_code == 400


def test_session_auth_works_and_needs_csrf(client, alice, project):
    from django.test import Client

    client.force_login(alice)
    assert post(client, project.pk, {"kind": "EventNamesQuery"}).status_code == 200
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert post(strict, project.pk, {"kind": "EventNamesQuery"}).status_code == 403


def test_get_is_not_allowed(client, project, api_key):
    response = client.get(
        reverse("api_query", kwargs={"project_id": project.pk}),
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 405


def test_openapi_schema_lists_the_query_endpoint(client):
    schema = client.get(reverse("api_schema")).json()
    assert schema["openapi"].startswith("3.")
    assert "/api/projects/{project_id}/query/" in schema["paths"]
    assert "EventNamesQuery" in schema["components"]["schemas"]


def test_health_names_the_backend_only_to_signed_in_users(client, alice):
    anonymous = client.get(reverse("health"))
    assert (anonymous.status_code, anonymous.json()) == (200, {"status": "ok"})
    client.force_login(alice)
    assert client.get(reverse("health")).json() == {"status": "ok", "clickhouse": "chdb"}
