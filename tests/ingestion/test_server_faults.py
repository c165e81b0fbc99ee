"""A server-side ClickHouse fault is not bad input (issue 13, defect 3).

While ClickHouse refuses inserts for a reason that has nothing to do with the
rows (TOO_MANY_PARTS, NOT_ENOUGH_SPACE, ...), the events wait and are retried:
the embedded request is kept in the spool on disk (answered 200; 503 with
Retry-After only once the buffer is full), the Redis entry stays pending. Nothing is quarantined for it, and after recovery every
acknowledged event is stored exactly once.

TOO_MANY_PARTS is real: the events table gets parts_to_throw_insert = 1 with its
merges stopped. A full disk cannot be made on demand here, so NOT_ENOUGH_SPACE
comes from the layer's fault-injection seam (analytics_app.clickhouse.faults),
which raises the same error class a real code 243 produces.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time

import pytest

from analytics_app import clickhouse as ch
from analytics_app.clickhouse import faults
from ingestion import stream
from ingestion import writer as writer_module
from ingestion.processing import Job
from ingestion.writer import write_jobs

from .conftest import count_events, event, ingested, stored_row, warnings


def envelope(project, events):
    return {"api_key": project.api_token, "batch": events}


def wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


@contextlib.contextmanager
def too_many_parts():
    """The real thing: merges stopped and parts_to_throw_insert = 1 on `events`."""
    ch.command("SYSTEM STOP MERGES events", global_=True)
    ch.command("ALTER TABLE events MODIFY SETTING parts_to_throw_insert = 1", global_=True)
    try:
        yield
    finally:
        ch.command("ALTER TABLE events RESET SETTING parts_to_throw_insert", global_=True)
        ch.command("SYSTEM START MERGES events", global_=True)


def seed(project) -> None:
    """Make sure `events` has a part, so parts_to_throw_insert = 1 refuses the next insert."""
    write_jobs([Job(project.id, events=[stored_row(event("seed"))])])


def test_too_many_parts_is_a_transient_error_not_a_bad_row(project):
    seed(project)
    rows = [stored_row(event(f"e{i}")) for i in range(5)]
    with too_many_parts(), pytest.raises(ch.ServerBusy) as refused:
        write_jobs([Job(project.id, events=rows)])
    assert refused.value.code == 252
    assert isinstance(refused.value, ch.Transient)
    assert warnings(project.id) == []  # not split, not quarantined
    write_jobs([Job(project.id, events=rows)])
    assert count_events(project.id) == 6


@pytest.mark.parametrize(
    ("code", "cls"),
    [(243, ch.ServerBusy), (252, ch.ServerBusy), (241, ch.MemoryLimit), (210, ch.Unavailable)],
)
def test_injected_faults_raise_the_layers_real_classes(project, code, cls):
    with faults.refusing(code), pytest.raises(cls) as refused:
        write_jobs([Job(project.id, events=[stored_row(event("x"))])])
    assert refused.value.code == code
    assert isinstance(refused.value, ch.Transient)
    assert count_events(project.id) == 0
    assert warnings(project.id) == []


# ------------------------------------------------------------------ embedded (group-commit writer)


@pytest.fixture
def embedded():
    if stream.enabled():
        pytest.skip("embedded writer path (no REDIS_URL)")
    yield writer_module.writer
    writer_module.writer.failing_since = None


def post_async(client, project, body) -> tuple[threading.Thread, dict]:
    """POST from another thread (the test holds SQLite's transaction: resolve the token here first)."""
    from ingestion import views  # noqa: PLC0415

    assert views.project_for_token(project.api_token) == project
    answer: dict = {}

    def run():
        response = client.post("/batch/", data=json.dumps(body), content_type="application/json")
        answer["status"] = response.status_code
        answer["headers"] = dict(response.items())

    thread = threading.Thread(target=run)
    thread.start()
    return thread, answer


def test_embedded_request_waits_through_too_many_parts_and_is_stored_once(client, project, embedded):
    seed(project)
    retries = embedded.retries
    events = [event(f"e{i}") for i in range(20)]
    with too_many_parts():
        thread, answer = post_async(client, project, envelope(project, events))
        assert wait_for(lambda: embedded.retries >= retries + 2)
        assert answer == {}  # still waiting: not acknowledged, not refused
    thread.join(timeout=60)
    assert answer["status"] == 200
    assert count_events(project.id) == 21
    assert warnings(project.id) == []


def test_embedded_keeps_requests_on_disk_through_a_full_disk_and_503s_only_a_full_buffer(
    client, project, embedded, monkeypatch
):
    monkeypatch.setattr(embedded, "busy_wait", 0.3)
    monkeypatch.setattr(embedded, "max_backoff", 0.2)
    body = envelope(project, [event(f"e{i}") for i in range(30)])
    with faults.refusing(243):
        first = client.post("/batch/", data=json.dumps(body), content_type="application/json")
        assert first.status_code == 200  # on disk in the spool: stored once ClickHouse takes it
        assert count_events(project.id) == 0
        monkeypatch.setattr(embedded, "max_buffer_rows", 0)  # now the buffer is full: refused at once
        second = client.post("/batch/", data=json.dumps(body), content_type="application/json")
        assert second.status_code == 503
        assert int(second["Retry-After"]) >= 1
    monkeypatch.setattr(embedded, "max_buffer_rows", 200_000)
    ingested()
    assert count_events(project.id) == 30
    # The SDK retries the refused request after Retry-After (same uuids): stored once.
    retry = client.post("/batch/", data=json.dumps(body), content_type="application/json")
    assert retry.status_code == 200
    ingested()
    assert count_events(project.id) == 30
    assert warnings(project.id) == []


# ------------------------------------------------------------------ Redis stream consumer


def test_consumer_keeps_entries_pending_through_too_many_parts(client, project, redis_stream):
    seed(project)
    attempts = []

    def counted(jobs):
        attempts.append(len(jobs))
        write_jobs(jobs)

    events = [event(f"e{i}") for i in range(40)]
    response = client.post(
        "/batch/", data=json.dumps(envelope(project, events)), content_type="application/json"
    )
    assert response.status_code == 200  # durable in Redis
    consumer = stream.Consumer(write=counted, block_ms=100, max_backoff=0.2, reclaim_every=0.2)
    thread = threading.Thread(target=consumer.run)
    with too_many_parts():
        thread.start()
        try:
            assert wait_for(lambda: len(attempts) >= 3)
            assert stream.client().xpending(redis_stream, stream.GROUP)["pending"] == 1
            assert count_events(project.id) == 1
        except BaseException:
            consumer.stop()
            raise
    try:
        assert wait_for(lambda: count_events(project.id) == 41)
        assert wait_for(lambda: stream.client().xpending(redis_stream, stream.GROUP)["pending"] == 0)
    finally:
        consumer.stop()
        thread.join(timeout=30)
    assert count_events(project.id) == 41
    assert warnings(project.id) == []


def test_capture_answers_503_with_retry_after_when_redis_is_away(client, project, redis_stream, settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens there
    body = envelope(project, [event("e")])
    response = client.post("/batch/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 503
    assert int(response["Retry-After"]) >= 1
    assert warnings(project.id) == []


def test_a_persistent_memory_limit_is_met_by_writing_smaller_batches(client, project, redis_stream):
    sizes = []

    def tight_memory(jobs):
        sizes.append(len(jobs))
        if len(jobs) > 1:  # as if only one job at a time fits in memory
            raise faults.error_for(241)
        write_jobs(jobs)

    for i in range(4):
        body = envelope(project, [event(f"r{i}-{j}") for j in range(5)])
        assert (
            client.post("/batch/", data=json.dumps(body), content_type="application/json").status_code == 200
        )
    consumer = stream.Consumer(write=tight_memory, max_backoff=0.01, count=10)
    consumer.ensure_group()
    assert consumer.run_once(block_ms=100) == 4
    assert sizes == [4, 4, 4, 2, 2, 2, 1, 1, 2, 2, 2, 1, 1]
    assert count_events(project.id) == 20
    assert stream.client().xpending(redis_stream, stream.GROUP)["pending"] == 0
    assert warnings(project.id) == []
