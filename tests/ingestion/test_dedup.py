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
    events = [{"event": "signup", "distinct_id": "u1", "properties": {"n": i}, "timestamp": "2026-01-01T00:00:00Z"} for i in range(3)]
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
    from django.test import Client

    from ingestion.views import project_for_token

    project_for_token(project.api_token)  # threads cannot see the test's uncommitted project row
    batch = {"api_key": project.api_token, "batch": [event() for _ in range(20)]}
    statuses = []

    def post():
        statuses.append(send(Client(), "/batch/", batch).status_code)

    threads = [threading.Thread(target=post) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 6
    assert count_events(project.id) == 20
