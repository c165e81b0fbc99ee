"""The stream consumer recovers on its own (issue 13, defects 2 and 4), against real Redis.

- A consumer killed (SIGKILL, a real subprocess) in the middle of a batch leaves
  its entries pending; a consumer started right after (well within the claim
  idle time, where the old code reclaimed only at start) takes them over on its
  timer, and everything is stored exactly once.
- A lost consumer group (XGROUP DESTROY, the stream deleted as by a Redis restart
  without AOF) is recreated, and the events sent after it are stored.
- Startup warns when Redis has no append-only file.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ingestion import stream
from ingestion.fault_suite import MANAGE, RedisServer

from .conftest import count_events, event

pytestmark = pytest.mark.redis


def wait_for(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def post(client, project, n: int, name: str = "e") -> None:
    body = {"api_key": project.api_token, "batch": [event(f"{name}{i}") for i in range(n)]}
    response = client.post("/batch/", data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200


def pending_of(name: str, consumer: str) -> int:
    """Entries pending with `consumer` (0 while its group does not exist yet)."""
    import redis

    try:
        entries = stream.client().xpending_range(name, stream.GROUP, min="-", max="+", count=1000)
    except redis.ResponseError:
        return 0
    return sum(1 for info in entries if info["consumer"].decode() == consumer)


@pytest.fixture
def live_consumer():
    """Start a consumer thread (claim idle 1 s, timer 0.2 s); stopped at the end."""
    started = []

    def start(claim_idle_ms: int = 1000, **kw):
        consumer = stream.Consumer(block_ms=100, claim_idle_ms=claim_idle_ms, reclaim_every=0.2, **kw)
        thread = threading.Thread(target=consumer.run, daemon=True)
        thread.start()
        started.append((consumer, thread))
        return consumer

    yield start
    for consumer, thread in started:
        consumer.stop()
        thread.join(timeout=30)


def test_a_consumer_killed_mid_batch_has_its_entries_taken_over_by_the_next(
    client, project, redis_stream, live_consumer, tmp_path
):
    for i in range(4):
        post(client, project, 25, name=f"b{i}-")  # 4 entries, 100 events
    # A real consumer process whose ClickHouse is unreachable: it reads the batch and
    # retries the insert, so the entries are pending with it when it is killed.
    env = {
        **os.environ,
        "REDIS_URL": os.environ["REDIS_URL"],
        "SEXTANT_INGEST_STREAM": redis_stream,
        "CLICKHOUSE_URL": "clickhouse://default:@127.0.0.1:1/nothing",
        "SEXTANT_VAR_DIR": str(tmp_path),
    }
    doomed = subprocess.Popen(  # noqa: S603
        [sys.executable, MANAGE, "ingest_consumer", "--name", "doomed", "--count", "10"],
        env=env,
        cwd=Path(MANAGE).parent,
        stdout=open(tmp_path / "consumer.log", "wb"),  # noqa: SIM115
        stderr=subprocess.STDOUT,
    )
    try:
        assert wait_for(lambda: pending_of(redis_stream, "doomed") == 4, 60)
    finally:
        doomed.send_signal(signal.SIGKILL)
        doomed.wait(timeout=30)
    assert stream.client().xpending(redis_stream, stream.GROUP)["pending"] == 4
    assert count_events(project.id) == 0
    # Restarted at once: the entries have been idle well under claim_idle_ms, so the start-up
    # reclaim leaves them alone (the old consumer stopped there); the timer takes them over.
    survivor = live_consumer(claim_idle_ms=3000)
    assert wait_for(lambda: count_events(project.id) == 100)
    assert wait_for(lambda: stream.client().xpending(redis_stream, stream.GROUP)["pending"] == 0)
    assert count_events(project.id) == 100
    assert survivor.stored == 4


def test_a_lost_group_is_recreated_and_later_events_are_stored(client, project, redis_stream, live_consumer):
    consumer = live_consumer()
    post(client, project, 10, name="before-")
    assert wait_for(lambda: count_events(project.id) == 10)

    stream.client().xgroup_destroy(redis_stream, stream.GROUP)
    post(client, project, 7, name="after-destroy-")
    assert wait_for(lambda: count_events(project.id) == 17)

    stream.client().delete(redis_stream)  # what a Redis restart without AOF looks like
    post(client, project, 5, name="after-delete-")
    assert wait_for(lambda: count_events(project.id) == 22)
    assert wait_for(lambda: stream.client().xpending(redis_stream, stream.GROUP)["pending"] == 0)
    assert count_events(project.id) == 22
    assert consumer.groups_recreated == 2


def test_acknowledged_entries_are_trimmed_and_pending_ones_kept(client, project, redis_stream):
    post(client, project, 3)
    post(client, project, 3)
    consumer = stream.Consumer(name="c", claim_idle_ms=0, count=1)
    consumer.ensure_group()
    assert consumer.run_once(block_ms=100) == 1  # the first entry stored and acknowledged
    stream.client().xreadgroup(stream.GROUP, "other", {redis_stream: ">"}, count=1)  # second: pending
    assert consumer.trim() == 1
    assert stream.client().xlen(redis_stream) == 1
    assert consumer.drain() == 1  # the pending one is still there to be taken over
    assert count_events(project.id) == 6
    consumer.trim()
    assert stream.client().xlen(redis_stream) == 0


@pytest.mark.parametrize(("appendonly", "warns"), [(True, False), (False, True)])
def test_startup_warns_when_redis_has_no_append_only_file(tmp_path, appendonly, warns):
    import redis

    server = RedisServer(tmp_path / "redis", appendonly=appendonly)
    server.start()
    try:
        warning = stream.persistence_warning(redis.Redis.from_url(server.url))
    finally:
        server.stop()
    assert (warning is not None) is warns
    if warns:
        assert "appendonly" in warning
