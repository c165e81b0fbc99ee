"""`EventsQuery` over the JSON API, and keyset pagination deep into a large table."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from analytics_app.models import Membership
from explorer.forms import Cursor, EventsSpec
from explorer.queries import EventsQueryRunner
from governance.roles import Role
from insights.blocks import DateRange

from .conftest import insert_events


def post(client, project, body, **headers):
    return client.post(
        reverse("api_query", kwargs={"project_id": project.pk}),
        body,
        content_type="application/json",
        **headers,
    )


def test_events_query_shape_and_next_cursor(client, project, api_key, events, now):
    events.add("signed_up", "u1", now - dt.timedelta(hours=2), {"plan": "pro", "email": "u1@example.com"})
    events.add("$pageview", "u1", now - dt.timedelta(hours=1), {"$current_url": "https://a.example/"})
    events.flush()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    first = post(client, project, {"kind": "EventsQuery", "limit": 1}, **auth)
    assert first.status_code == 200
    body = first.json()
    assert set(body) == {"results", "next"} and body["next"]
    (row,) = body["results"]
    assert set(row) == {"uuid", "event", "distinct_id", "person_id", "timestamp", "properties"}
    assert row["event"] == "$pageview" and row["distinct_id"] == "u1"
    assert row["person_id"] == str(events.person_for("u1"))
    second = post(client, project, {"kind": "EventsQuery", "limit": 1, "after": body["next"]}, **auth).json()
    assert [r["event"] for r in second["results"]] == ["signed_up"] and second["next"] is None
    assert second["results"][0]["properties"]["email"] == "u1@example.com"  # alice (admin) may view PII
    only = post(
        client,
        project,
        {"kind": "EventsQuery", "event": "signed_up", "properties": [{"key": "plan", "value": "pro"}]},
        **auth,
    ).json()
    assert [r["event"] for r in only["results"]] == ["signed_up"]


def test_events_query_masks_pii_for_pm(client, make_user, project, events, now):
    pm = make_user("pm@example.com")
    Membership.objects.create(user=pm, project=project, role=Role.PM)
    events.add("signed_up", "u1@example.com", now, {"email": "u1@example.com", "plan": "pro"}).flush()
    client.force_login(pm)
    (row,) = post(client, project, {"kind": "EventsQuery"}).json()["results"]
    assert (
        row["properties"]["plan"] == "pro"
        and "u1@example.com" not in str(row)
        and row["properties"]["email"].startswith("•")
        and row["distinct_id"] == "•" * 12
    )


def test_events_query_is_an_export_exec_gets_403(client, bob, project, events, now):
    """Paging out raw events needs export_data, as the CSV export does (exec has neither)."""
    events.add("signed_up", "u1", now, {"plan": "pro"}).flush()
    client.force_login(bob)
    response = post(client, project, {"kind": "EventsQuery"})
    assert response.status_code == 403 and "EventsQuery" in response.json()["error"]
    assert client.get(f"/project/{project.pk}/events/export.csv").status_code == 403


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 1001}, "limit"),
        ({"limit": "10"}, "limit"),
        ({"after": "garbage"}, "after"),
        ({"date_from": "last tuesday"}, "date_from"),
        ({"properties": "plan=pro"}, "properties"),
        ({"person_id": "not-a-uuid"}, "person_id"),
        ({"surprise": 1}, "body"),
    ],
)
def test_events_query_rejects_bad_input(alice_client, project, body, field):
    response = post(alice_client, project, {"kind": "EventsQuery", **body})
    assert response.status_code == 400
    assert field in str(response.json()["errors"])


def test_events_query_needs_access(client, charlie, project, other_project):
    client.force_login(charlie)
    assert post(client, project, {"kind": "EventsQuery"}).status_code == 404
    client.logout()
    assert post(client, project, {"kind": "EventsQuery"}).status_code == 401


def test_keyset_walk_past_100k_rows_returns_every_event_exactly_once(project, now):
    # 120k events, 1000 per timestamp: every page boundary falls inside a run of equal timestamps.
    inserted = insert_events(project.id, 120_000, start=now, same_timestamp=1000)
    spec = EventsSpec(date_range=DateRange("-30d"), limit=1000)
    seen: list[str] = []
    pages = 0
    last: Cursor | None = None
    while True:
        page = EventsQueryRunner(project, spec).run()
        pages += 1
        keys = [(r.timestamp, r.uuid) for r in page.rows]
        assert keys == sorted(keys, key=lambda k: k[0], reverse=True)  # newest first
        seen.extend(str(r.uuid) for r in page.rows)
        if page.next is None:
            break
        assert last is None or page.next.timestamp <= last.timestamp
        last = page.next
        spec = EventsSpec(date_range=spec.date_range, limit=1000, after=page.next)
    assert pages == 120
    assert len(seen) == len(set(seen)) == 120_000
    assert set(seen) == set(inserted)
