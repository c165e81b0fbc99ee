"""GET /api/projects/<id>/recordings/<session_id>/snapshots/: the session's rrweb events,
in time order, decompressed, masked for viewers without view-PII.

Recordings go in through the real ingestion path (process_snapshots + write_jobs, as
/s/ does), built from the real posthog-js recording in fixtures/, compressed as
posthog-js sends it."""

from __future__ import annotations

import copy
import datetime as dt
import json
import random
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest

from analytics_app import clickhouse as ch
from analytics_app.models import Membership, PersonalAPIKey
from governance.roles import Role
from ingestion.processing import RequestContext
from ingestion.writer import write_jobs
from replay.format import compress_event, decompress_event
from replay.ingest import process_snapshots
from replay.masking import mask_events
from replay.synthetic import uuid7

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "posthog_js_session.json").read_text())
SECRETS = ("SECRETCOUPON42", "alice@example.com", "Alice Smith", "prefilled@example.com")


def shifted(events: list[dict], start: dt.datetime) -> list[dict]:
    """The fixture's events moved to start at `start` (their spacing kept)."""
    first = min(e["timestamp"] for e in events)
    base = int(start.timestamp() * 1000)
    return [{**e, "timestamp": e["timestamp"] - first + base} for e in events]


def record(
    project,
    events: list[dict],
    session_id: str | None = None,
    distinct_id: str = "visitor-1",
    chunk: int = 10,
    window_id: str = "w1",
) -> str:
    """Store a recording like posthog-js sends it: compressed events in $snapshot chunks."""
    session_id = session_id or f"s-{uuid.uuid4().hex[:12]}"
    # posthog-js chunk uuids are UUIDv7 (time ordered): readers order equal timestamps by them.
    rng = random.Random(session_id)
    payload = [
        {
            "uuid": str(uuid7(events[i]["timestamp"], rng)),
            "event": "$snapshot",
            "properties": {
                "$snapshot_data": [compress_event(e) for e in events[i : i + chunk]],
                "$session_id": session_id,
                "$window_id": window_id,
                "distinct_id": distinct_id,
            },
        }
        for i in range(0, len(events), chunk)
    ]
    job, rejected = process_snapshots(
        payload, project, RequestContext(now=dt.datetime.now(dt.UTC), user_agent="Mozilla/5.0 Chrome/120.0")
    )
    assert rejected == []
    write_jobs([job])
    return session_id


def recent_events() -> list[dict]:
    """The fixture recording, an hour ago: a deep copy, so a test that edits it (a planted
    URL, say) cannot change what later tests record."""
    return shifted(
        [copy.deepcopy(decompress_event(e)) for e in FIXTURE["events"]],
        dt.datetime.now(dt.UTC) - dt.timedelta(hours=1),
    )


def url(project, session_id: str) -> str:
    return f"/api/projects/{project.pk}/recordings/{session_id}/snapshots/"


@pytest.fixture
def recording(project):
    events = recent_events()
    return record(project, events), events


def test_admin_gets_every_event_decompressed_in_time_order(alice_client, project, recording):
    session_id, events = recording
    response = alice_client.get(url(project, session_id))
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    snapshots = response.json()["snapshots"]
    assert snapshots == events
    assert [e["timestamp"] for e in snapshots] == sorted(e["timestamp"] for e in snapshots)
    assert all(isinstance(e["data"], dict) and "cv" not in e for e in snapshots if e["type"] == 2)
    assert "SECRETCOUPON42" in response.content.decode()


def test_support_without_view_pii_gets_masked_snapshots(client, make_user, project, recording):
    """With the project's replay text masking at "all" (the policy is tests/replay/test_policy_masking.py)."""
    session_id, events = recording
    project.replay_text_masking = "all"
    project.save(update_fields=["replay_text_masking"])
    support = make_user("sam@example.com")
    Membership.objects.create(user=support, project=project, role=Role.SUPPORT)
    client.force_login(support)
    response = client.get(url(project, session_id))
    assert response.status_code == 200
    body = response.content.decode()
    for secret in SECRETS:
        assert secret not in body
    assert response.json()["snapshots"] == mask_events(events)


def test_analyst_with_view_pii_sees_the_text(client, make_user, make_project, alice):
    analyst = make_user("ann@example.com")
    project = make_project("Analysts", members={alice: Role.ADMIN, analyst: Role.ANALYST})
    session_id = record(project, recent_events())
    client.force_login(analyst)
    assert "SECRETCOUPON42" in client.get(url(project, session_id)).content.decode()


def test_rows_stored_compressed_are_decompressed_on_read(alice_client, project):
    """Rows written before ingestion normalized recordings hold posthog-js's gzip strings."""
    events = recent_events()[:12]
    session_id = f"old-{uuid.uuid4().hex[:8]}"
    compressed = [compress_event(e) for e in events]
    assert any(e.get("cv") for e in compressed)
    ch.insert(
        "session_replay_snapshots",
        {
            "project_id": [project.id] * len(events),
            "session_id": [session_id] * len(events),
            "window_id": ["w1"] * len(events),
            "distinct_id": ["old-visitor"] * len(events),
            "timestamp": [dt.datetime.fromtimestamp(e["timestamp"] / 1000, dt.UTC) for e in events],
            "event_type": [e["type"] for e in events],
            "data": [json.dumps(e) for e in compressed],
            "uuid": [str(uuid.uuid4())] * len(events),
            "chunk_index": list(range(len(events))),
        },
    )
    assert alice_client.get(url(project, session_id)).json()["snapshots"] == events


def test_bearer_api_key(client, project, recording, api_key):
    session_id, events = recording
    response = client.get(url(project, session_id), HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert response.status_code == 200
    assert len(response.json()["snapshots"]) == len(events)


def test_exec_without_view_recordings_is_403(client, bob, project, recording):
    client.force_login(bob)
    response = client.get(url(project, recording[0]))
    assert response.status_code == 403
    assert "recordings" in response.json()["error"].lower()


def test_stranger_is_404(client, charlie, project, other_project, recording):
    client.force_login(charlie)
    assert client.get(url(project, recording[0])).status_code == 404


def test_anonymous_is_401(client, project, recording):
    assert client.get(url(project, recording[0])).status_code == 401


def test_unknown_session_is_404(alice_client, project, recording):
    response = alice_client.get(url(project, "no-such-session"))
    assert response.status_code == 404
    assert response.json()["error"]


def test_a_session_of_another_project_is_404(alice_client, project, make_project, alice):
    other = make_project("Alice's other project", members={alice: Role.ADMIN})
    session_id = record(other, recent_events())
    assert alice_client.get(url(project, session_id)).status_code == 404
    assert alice_client.get(url(other, session_id)).status_code == 200


@pytest.mark.parametrize("bad", ["x" * 71, "has space", "semi;colon", "dot.dot", "%00"])
def test_malformed_session_id_is_400(alice_client, project, bad):
    response = alice_client.get(url(project, quote(bad, safe="")))
    assert response.status_code == 400
    assert "session_id" in response.json()["error"]


def test_post_is_not_allowed(alice_client, project, recording):
    assert alice_client.post(url(project, recording[0])).status_code in (403, 405)


def test_personal_api_key_of_a_support_user_is_masked(client, make_user, project, recording):
    support = make_user("sue@example.com")
    Membership.objects.create(user=support, project=project, role=Role.SUPPORT)
    _, raw = PersonalAPIKey.issue(support, "support tests")
    body = client.get(url(project, recording[0]), HTTP_AUTHORIZATION=f"Bearer {raw}").content.decode()
    assert "SECRETCOUPON42" not in body and "******" in body


def test_openapi_describes_the_snapshots_api(client):
    schema = client.get("/api/schema/").json()
    operation = schema["paths"]["/api/projects/{project_id}/recordings/{session_id}/snapshots/"]["get"]
    assert {p["name"] for p in operation["parameters"]} == {"project_id", "session_id", "window_id"}
    assert set(operation["responses"]) >= {"200", "400", "403", "404"}


def test_window_id_selects_one_browser_window(alice_client, project):
    events = recent_events()
    session_id = record(project, events, window_id="tab-1")
    later = [{**e, "timestamp": e["timestamp"] + 60_000} for e in events[:20]]
    record(project, later, session_id=session_id, window_id="tab-2")
    both = alice_client.get(url(project, session_id)).json()["snapshots"]
    assert len(both) == len(events) + 20
    assert alice_client.get(url(project, session_id) + "?window_id=tab-1").json()["snapshots"] == events
    assert alice_client.get(url(project, session_id) + "?window_id=tab-2").json()["snapshots"] == later
    assert alice_client.get(url(project, session_id) + "?window_id=tab-3").status_code == 404
    assert alice_client.get(url(project, session_id) + "?window_id=" + "x" * 201).status_code == 400
