"""CSV export: permission, PII masking, streaming a large result in bounded memory."""

from __future__ import annotations

import csv
import datetime as dt
import io
import tracemalloc

from django.contrib.auth import get_user_model
from django.urls import reverse

from analytics_app.models import Membership
from governance.roles import Role

from .conftest import insert_events


def export_url(project, **params):
    from urllib.parse import urlencode

    return reverse("explorer:events_export", kwargs={"project_id": project.pk}) + (
        "?" + urlencode(params) if params else ""
    )


def read_csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_export_needs_the_export_permission(client, bob, charlie, project, other_project):
    client.force_login(bob)  # exec: no export
    assert client.get(export_url(project)).status_code == 403
    client.force_login(charlie)
    assert client.get(export_url(project)).status_code == 404


def test_export_of_the_current_filter_with_pii_masked_for_a_pm(client, alice, project, events, now):
    events.add(
        "signed_up",
        "u1",
        now - dt.timedelta(hours=1),
        {"email": "u1@example.com", "plan": "pro", "$browser": "Chrome"},
    )
    events.add("$pageview", "u1", now, {"$current_url": "https://a.example/"})
    events.flush()
    pm = get_user_model().objects.create_user("pm@example.com", "pm@example.com", "x")
    Membership.objects.create(user=pm, project=project, role=Role.PM)
    client.force_login(pm)
    response = client.get(export_url(project, event="signed_up", columns="email,plan"))
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    header, *rows = read_csv(response)
    assert header == [
        "uuid",
        "timestamp",
        "event",
        "distinct_id",
        "person_id",
        "session_id",
        "$current_url",
        "$browser",
        "email",
        "plan",
        "properties",
    ]
    (row,) = rows
    assert row[2] == "signed_up" and row[7] == "Chrome" and row[9] == "pro"
    assert "u1@example.com" not in ",".join(row) and row[8].startswith("•")
    client.force_login(alice)
    (admin_row,) = read_csv(client.get(export_url(project, event="signed_up", columns="email")))[1:]
    assert "u1@example.com" in admin_row


def test_export_bad_params_are_400(alice_client, project):
    assert alice_client.get(export_url(project, date_from="nope")).status_code == 400
    assert alice_client.get(export_url(project, properties="[{")).status_code == 400


def test_large_export_streams_in_bounded_memory(alice_client, project, now):
    n = 200_000
    insert_events(
        project.id,
        n,
        start=now,
        same_timestamp=10,
        properties={
            "$current_url": "https://example.com/some/longer/path",
            "$browser": "Firefox",
            "plan": "pro",
        },
    )
    response = alice_client.get(export_url(project, date_from="-30d"))
    assert response.status_code == 200 and response.streaming
    tracemalloc.start()
    try:
        chunks = rows = size = 0
        for chunk in response.streaming_content:
            chunks += 1
            size += len(chunk)
            rows += chunk.count(b"\n")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert rows == n + 1  # the header + every event
    assert chunks >= 50
    # The CSV text alone is `size` bytes; holding the rows as Python objects would need several times that.
    assert peak < size / 8, (peak, size)
