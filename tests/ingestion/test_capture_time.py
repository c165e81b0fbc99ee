"""Clock-skew correction: stored = timestamp - (sent_at - server time); offset; future clamp."""

from __future__ import annotations

import datetime as dt

from analytics_app import clickhouse as ch

from .conftest import event, send, warnings


def stored_timestamp(project_id: int) -> dt.datetime:
    return ch.query(
        "SELECT timestamp FROM events WHERE project_id = {project_id:UInt32}", {"project_id": project_id}
    ).scalar()


def test_sent_at_an_hour_ahead_shifts_the_event_back_an_hour(client, project):
    now = dt.datetime.now(dt.UTC)
    e = event()
    e["timestamp"] = (now + dt.timedelta(hours=1)).isoformat()
    send(
        client,
        "/e/",
        {"api_key": project.api_token, "batch": [e], "sent_at": (now + dt.timedelta(hours=1)).isoformat()},
    )
    assert abs((stored_timestamp(project.id) - now).total_seconds()) < 1.5


def test_skewed_client_event_from_ten_minutes_ago(client, project):
    now = dt.datetime.now(dt.UTC)
    client_now = now + dt.timedelta(hours=1)  # client clock one hour fast
    e = event()
    e["timestamp"] = (client_now - dt.timedelta(minutes=10)).isoformat()
    send(client, "/e/", {"api_key": project.api_token, "batch": [e], "sent_at": client_now.isoformat()})
    expected = now - dt.timedelta(minutes=10)
    assert abs((stored_timestamp(project.id) - expected).total_seconds()) < 1.5


def test_sent_at_in_query_milliseconds(client, project):
    now = dt.datetime.now(dt.UTC)
    ahead = now + dt.timedelta(hours=1)
    e = event()
    e["timestamp"] = ahead.isoformat()
    send(client, f"/e/?_={int(ahead.timestamp() * 1000)}", {"api_key": project.api_token, "batch": [e]})
    assert abs((stored_timestamp(project.id) - now).total_seconds()) < 1.5


def test_ignore_sent_at_keeps_the_timestamp(client, project):
    now = dt.datetime.now(dt.UTC)
    e = event(**{"$ignore_sent_at": True})
    e["timestamp"] = (now - dt.timedelta(days=2)).isoformat()
    send(
        client,
        "/e/",
        {"api_key": project.api_token, "batch": [e], "sent_at": (now + dt.timedelta(hours=5)).isoformat()},
    )
    assert abs((stored_timestamp(project.id) - (now - dt.timedelta(days=2))).total_seconds()) < 0.01


def test_offset_wins(client, project):
    now = dt.datetime.now(dt.UTC)
    e = event()
    e["timestamp"] = "2001-01-01T00:00:00Z"
    e["offset"] = 60_000
    send(client, "/e/", {"api_key": project.api_token, "batch": [e], "sent_at": now.isoformat()})
    assert abs((stored_timestamp(project.id) - (now - dt.timedelta(minutes=1))).total_seconds()) < 1.5


def test_missing_or_unparseable_timestamp_is_now(client, project):
    now = dt.datetime.now(dt.UTC)
    e = event()
    e["timestamp"] = "yesterday-ish"
    send(client, "/e/", {"api_key": project.api_token, "batch": [e]})
    assert abs((stored_timestamp(project.id) - now).total_seconds()) < 1.5
    assert [w["type"] for w in warnings(project.id)] == ["ignored_invalid_timestamp"]


def test_future_timestamp_is_clamped_with_a_warning(client, project):
    now = dt.datetime.now(dt.UTC)
    e = event("from_the_future")
    e["timestamp"] = (now + dt.timedelta(days=3)).isoformat()
    response = send(client, "/e/", {"api_key": project.api_token, "batch": [e]})
    assert response.status_code == 200
    assert abs((stored_timestamp(project.id) - now).total_seconds()) < 1.5
    found = warnings(project.id)
    assert [w["type"] for w in found] == ["event_timestamp_in_future"]
    assert found[0]["event"] == "from_the_future"
