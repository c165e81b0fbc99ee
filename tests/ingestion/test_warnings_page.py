"""The ingestion-warnings page: counts by reason and event, examples, htmx partial, gate."""

from __future__ import annotations

from django.urls import reverse

from .conftest import event, send


def url(project, **query):
    base = reverse("ingestion_warnings", kwargs={"project_id": project.pk})
    return base + ("?" + "&".join(f"{k}={v}" for k, v in query.items()) if query else "")


def quarantine_some(client, project):
    send(
        client,
        "/e/",
        {
            "api_key": project.api_token,
            "batch": [
                event("ok"),
                event("bad", "anonymous"),
                event("worse", "null"),
                event("$performance_event"),
            ],
        },
    )


def test_page_shows_counts_and_payloads(alice_client, project):
    quarantine_some(alice_client, project)
    response = alice_client.get(url(project, range="7d"))
    assert response.status_code == 200
    html = response.content.decode()
    assert "illegal_distinct_id" in html and "performance_event_dropped" in html
    assert "<details>" in html and "&quot;distinct_id&quot;:&quot;anonymous&quot;" in html
    assert response.context["result"].total == 3
    assert dict(response.context["result"].by_reason) == {
        "illegal_distinct_id": 2,
        "performance_event_dropped": 1,
    }


def test_htmx_filter_by_reason_renders_the_partial(alice_client, project):
    quarantine_some(alice_client, project)
    response = alice_client.get(url(project, reason="performance_event_dropped"), HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and 'id="results"' in html
    assert "performance_event_dropped" in html and "illegal_distinct_id" not in html


def test_stranger_gets_404(client, project, charlie):
    client.force_login(charlie)
    assert client.get(url(project)).status_code == 404


def test_bad_range_is_400(alice_client, project):
    response = alice_client.get(url(project, range="1y"))
    assert response.status_code == 400
    assert "range" in response.content.decode()


def test_nav_lists_the_page(alice_client, project):
    response = alice_client.get(url(project))
    assert "Ingestion warnings" in response.content.decode()
