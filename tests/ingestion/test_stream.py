"""Production durability: Redis Stream + consumer, crash and redelivery.

Marked `redis`: skipped unless REDIS_URL points at a reachable Redis (CI's second
configuration sets REDIS_URL=redis://127.0.0.1:6379/0).
"""

from __future__ import annotations

import json
import os
import threading

import pytest

from ingestion import stream

from .conftest import count_events, event

pytestmark = pytest.mark.redis


@pytest.fixture
def redis_mode(settings):
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set: the Redis Stream tests need a real Redis")
    settings.REDIS_URL = url
    try:
        stream.client().ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Redis at {url} is unreachable: {exc}")
    return stream.stream_name()


def post(client, project, n=10):
    batch = {"api_key": project.api_token, "batch": [event(f"e{i}") for i in range(n)]}
    response = client.post("/batch/", data=json.dumps(batch), content_type="application/json")
    assert response.status_code == 200
    return batch


def test_capture_answers_after_xadd_and_the_consumer_stores(client, project, redis_mode):
    post(client, project, 10)
    assert stream.client().xlen(redis_mode) == 1
    assert count_events(project.id) == 0  # durable in Redis, not yet in ClickHouse
    assert stream.Consumer(claim_idle_ms=0).drain() == 1
    assert count_events(project.id) == 10
    assert stream.client().xpending(redis_mode, stream.GROUP)["pending"] == 0


def test_crash_after_insert_before_ack_redelivers_without_double_counting(client, project, redis_mode):
    post(client, project, 10)
    post(client, project, 5)

    def crash(jobs):
        raise stream.Crash("killed between the ClickHouse insert and XACK")

    dying = stream.Consumer(name="dying", after_write=crash)
    dying.ensure_group()
    with pytest.raises(stream.Crash):
        dying.run_once(block_ms=100)
    assert count_events(project.id) == 15  # inserted...
    assert stream.client().xpending(redis_mode, stream.GROUP)["pending"] == 2  # ...but never acknowledged
    survivor = stream.Consumer(name="survivor", claim_idle_ms=0)
    assert survivor.reclaim() == 2
    assert count_events(project.id) == 15
    assert stream.client().xpending(redis_mode, stream.GROUP)["pending"] == 0


def test_crash_before_insert_loses_nothing(client, project, redis_mode):
    post(client, project, 7)

    def crash(jobs):
        raise stream.Crash("killed before the insert")

    dying = stream.Consumer(name="dying", before_write=crash)
    dying.ensure_group()
    with pytest.raises(stream.Crash):
        dying.run_once(block_ms=100)
    assert count_events(project.id) == 0
    stream.Consumer(name="survivor", claim_idle_ms=0).drain()
    assert count_events(project.id) == 7


def test_clickhouse_outage_backs_off_and_retries(client, project, redis_mode):
    from analytics_app import clickhouse as ch
    from ingestion.writer import write_jobs

    post(client, project, 4)
    failures = []

    def flaky(jobs):
        if len(failures) < 2:
            failures.append(1)
            raise ch.Unavailable("ClickHouse is down")
        write_jobs(jobs)

    consumer = stream.Consumer(write=flaky, max_backoff=0.05)
    consumer.ensure_group()
    assert consumer.run_once(block_ms=100) == 1
    assert len(failures) == 2
    assert count_events(project.id) == 4


def test_consumer_thread_runs_and_stops_gracefully(client, project, redis_mode):
    consumer = stream.Consumer(block_ms=100)
    thread = threading.Thread(target=consumer.run)
    thread.start()
    try:
        post(client, project, 3)
        for _ in range(100):
            if count_events(project.id) == 3:
                break
            threading.Event().wait(0.05)
    finally:
        consumer.stop()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert count_events(project.id) == 3
