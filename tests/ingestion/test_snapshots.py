"""POST /s/: $snapshot chunks stored one row per rrweb event, deduplicated."""

from __future__ import annotations

import json
import time
import uuid

import pytest

from analytics_app import clickhouse as ch

from .conftest import send, warnings

# Recent: rows older than the project's recording retention expire (TTL) as they are written.
T0 = (int(time.time()) - 3600) * 1000


def snapshot(project, session="sess-1", n=3, chunk_uuid=None):
    data = [
        {"type": 2, "data": "\x1f\x8b compressed-ish", "cv": "2024-10", "timestamp": T0 + i} for i in range(n)
    ]
    data[0]["type"] = 4
    return {
        "uuid": chunk_uuid or str(uuid.uuid4()),
        "event": "$snapshot",
        "properties": {
            "$snapshot_data": data,
            "$session_id": session,
            "$window_id": "win-1",
            "token": project.api_token,
            "distinct_id": "u1",
        },
    }


def rows(project_id):
    return ch.query(
        "SELECT session_id, window_id, distinct_id, event_type, data, timestamp FROM session_replay_snapshots WHERE project_id = {project_id:UInt32} ORDER BY timestamp",
        {"project_id": project_id},
    ).dicts()


def test_snapshots_are_stored_one_row_per_rrweb_event(client, project):
    chunk = snapshot(project)
    response = send(client, "/s/", [chunk], gz=True, content_type="text/plain")
    assert response.status_code == 200
    assert response.json() == {"status": 1}
    stored = rows(project.id)
    assert [r["event_type"] for r in stored] == [4, 2, 2]
    assert json.loads(stored[1]["data"]) == chunk["properties"]["$snapshot_data"][1]
    assert stored[0]["session_id"] == "sess-1" and stored[0]["distinct_id"] == "u1"
    assert int(stored[0]["timestamp"].timestamp() * 1000) == T0


def test_redelivered_chunks_do_not_duplicate(client, project):
    chunk = snapshot(project)
    send(client, "/s/", [chunk])
    send(client, "/s/", [chunk, snapshot(project, n=2)])
    assert len(rows(project.id)) == 5


@pytest.mark.parametrize("session", ["x" * 71, "has space", "semi;colon", ""])
def test_bad_session_ids_are_400(client, project, session):
    response = send(client, "/s/", [snapshot(project, session=session)])
    assert response.status_code == 400
    assert rows(project.id) == []


def test_recording_disabled_answers_ok_and_records_a_warning(client, make_project):
    project = make_project("No replay", recording_enabled=False)
    response = send(client, "/s/", [snapshot(project)])
    assert response.status_code == 200
    assert rows(project.id) == []
    assert [w["type"] for w in warnings(project.id)] == ["recording_disabled"]


def test_unknown_token_is_401(client, project):
    chunk = snapshot(project)
    chunk["properties"]["token"] = "phc_unknown"
    assert send(client, "/s/", [chunk]).status_code == 401
