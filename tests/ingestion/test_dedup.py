"""Exactly-once: a redelivered event never counts twice in a query without FINAL."""

from __future__ import annotations

import threading

from .conftest import count_events, event, send


def test_the_same_batch_sent_twice_counts_once(client, project):
    batch = {"api_key": project.api_token, "batch": [event(), event(), event()]}
    assert send(client, "/batch/", batch).status_code == 200
    assert send(client, "/batch/", batch).status_code == 200
    assert count_events(project.id) == 3


def test_uuid_less_events_redelivered_count_once(client, project):
    events = [
        {"event": "signup", "distinct_id": "u1", "properties": {"n": i}, "timestamp": "2026-01-01T00:00:00Z"}
        for i in range(3)
    ]
    batch = {"api_key": project.api_token, "batch": events, "sent_at": "2026-01-01T00:00:01Z"}
    send(client, "/batch/", batch)
    batch["sent_at"] = "2026-01-01T00:05:00Z"  # a retry later: same events
    send(client, "/batch/", batch)
    assert count_events(project.id) == 3


def test_duplicates_inside_one_batch_count_once(client, project):
    e = event()
    send(client, "/batch/", {"api_key": project.api_token, "batch": [e, e, dict(e)]})
    assert count_events(project.id) == 1


def test_concurrent_redeliveries_in_one_group_commit_count_once(project, client):
    from django.db import connections
    from django.test import Client

    from ingestion.views import project_for_token

    project_for_token(project.api_token)  # threads cannot see the test's uncommitted project row
    batch = {"api_key": project.api_token, "batch": [event() for _ in range(20)]}
    statuses = []

    def post():
        try:
            statuses.append(send(Client(), "/batch/", batch).status_code)
        finally:
            connections.close_all()  # a request keeps its connection (CONN_MAX_AGE); the thread ends here

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 6
    assert count_events(project.id) == 20


def test_recent_uuids_answer_hits_and_misses_still_ask_clickhouse(client, project, monkeypatch):
    """The in-process recent-uuid set only shortcuts hits: a cleared set (a restart) still dedups."""
    from ingestion import queries, writer

    looked_up: list[list[str]] = []
    real = queries.existing_event_uuids

    def spy(project_id, uuids):
        looked_up.append(list(uuids))
        return real(project_id, uuids)

    monkeypatch.setattr(queries, "existing_event_uuids", spy)
    batch = {"api_key": project.api_token, "batch": [event(), event()]}
    send(client, "/batch/", batch)
    looked_up.clear()
    send(client, "/batch/", batch)  # redelivered to the same process: answered from the recent set
    assert looked_up == []
    writer.recent.clear()  # as after a restart: ClickHouse is asked, and still says "stored"
    send(client, "/batch/", batch)
    assert sorted(looked_up[0]) == sorted(e["uuid"] for e in batch["batch"])
    assert count_events(project.id) == 2


def test_recent_uuids_are_bounded():
    from ingestion.writer import RecentUuids

    recent = RecentUuids(maxlen=3)
    recent.add_all(1, ["a", "b", "c", "d"])
    assert (1, "a") not in recent
    assert all((1, x) in recent for x in "bcd")
    assert (2, "b") not in recent
