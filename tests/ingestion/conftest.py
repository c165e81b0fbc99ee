"""Ingestion test helpers: send like an SDK, then count what ClickHouse holds.

With REDIS_URL set, capture only appends to the Redis Stream; `ingested()` runs
the consumer until the stream is empty so the same assertions hold in both
configurations. Each test gets its own stream name.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
import threading
import uuid

import pytest
from django.core.cache import cache

from analytics_app import clickhouse as ch
from ingestion import persons, stream, views, writer


@pytest.fixture(autouse=True)
def fresh_ingestion_state(request, settings):
    if not stream.enabled():
        writer.writer.flush()  # an earlier test's spooled requests are stored before this one starts
    views.clear_token_cache()
    persons.store.clear()
    writer.recent.clear()
    cache.clear()
    name = f"sextant:test:{uuid.uuid4().hex}"
    settings.SEXTANT_INGEST_STREAM = name
    background = None
    if stream.enabled() and "live_server" in request.fixturenames:
        # A live server answers SDKs from its own thread: run the consumer beside it.
        background = stream.Consumer(block_ms=100, claim_idle_ms=0)
        thread = threading.Thread(target=background.run, name="test-ingest-consumer", daemon=True)
        thread.start()
    yield
    if background is not None:
        background.stop()
        thread.join(timeout=10)
    if stream.enabled():
        try:
            stream.client().delete(name)
        except Exception:  # noqa: BLE001,S110 - Redis may be the thing a test broke
            pass


@pytest.fixture
def redis_stream(settings):
    """Redis mode against the real Redis at REDIS_URL (skipped without it); the test's stream name."""
    import os  # noqa: PLC0415

    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set: the Redis Stream tests need a real Redis")
    settings.REDIS_URL = url
    try:
        stream.client().ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Redis at {url} is unreachable: {exc}")
    return stream.stream_name()


def ingested(timeout: float = 30.0) -> int:
    """Store whatever the stream holds (Redis mode) or the embedded writer's spool holds.

    A live-server test also has a background consumer: an entry it has read but not
    yet acknowledged is pending, not stored, so wait until nothing is pending.
    """
    if not stream.enabled():
        from ingestion.writer import writer  # noqa: PLC0415

        assert writer.flush(timeout), "the embedded writer did not store the spooled requests in time"
        return 0
    import time

    stored = stream.Consumer(count=1000, claim_idle_ms=0).drain()
    redis, name = stream.client(), stream.stream_name()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            pending = redis.xpending(name, stream.GROUP)["pending"]
        except Exception:  # noqa: BLE001 - no group yet means nothing is pending
            pending = 0
        if not pending:
            break
        time.sleep(0.05)
    return stored


def send(client, path: str, payload, *, gz: bool = False, content_type: str = "application/json", **extra):
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    if isinstance(body, str):
        body = body.encode()
    if gz:
        body = gzip.compress(body)
    response = client.post(path, data=body, content_type=content_type, **extra)
    ingested()
    return response


def event(name: str = "$pageview", distinct_id: str = "user-1", **props) -> dict:
    return {
        "event": name,
        "distinct_id": distinct_id,
        "properties": props,
        "uuid": str(uuid.uuid4()),
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
    }


def stored_row(e: dict, *, properties: str = "{}", session_id: str = "") -> dict:
    """An SDK-style event as a processed job carries it to the writer (`write_jobs`)."""
    return {
        "uuid": e["uuid"],
        "event": e["event"],
        "distinct_id": e["distinct_id"],
        "person_id": "00000000-0000-0000-0000-000000000000",
        "timestamp": e["timestamp"],
        "properties": properties,
        "session_id": session_id,
        "window_id": "",
    }


def count_events(project_id: int, event_name: str | None = None) -> int:
    sql = "SELECT count() FROM events WHERE project_id = {project_id:UInt32}"
    params = {"project_id": project_id}
    if event_name is not None:
        sql += " AND event = {event:String}"
        params["event"] = event_name
    return ch.query(sql, params).scalar()


def warnings(project_id: int) -> list[dict]:
    return ch.query(
        "SELECT type, event, distinct_id, details, payload FROM ingestion_warnings WHERE project_id = {project_id:UInt32} ORDER BY timestamp",
        {"project_id": project_id},
    ).dicts()


def persons_count(project_id: int) -> int:
    """Distinct persons behind the project's events, resolved through person_distinct_ids."""
    return ch.query(
        """
        SELECT uniqExact(pdi.person_id) FROM events e
        JOIN (SELECT distinct_id, argMax(person_id, version) AS person_id FROM person_distinct_ids
              WHERE project_id = {project_id:UInt32} GROUP BY distinct_id) pdi USING distinct_id
        WHERE e.project_id = {project_id:UInt32}
        """,
        {"project_id": project_id},
    ).scalar()


def person_of(project_id: int, distinct_id: str) -> dict | None:
    rows = ch.query(
        """
        SELECT p.id AS id, argMax(p.properties, p.version) AS properties, argMax(p.is_identified, p.version) AS is_identified,
               argMax(p.is_deleted, p.version) AS is_deleted, min(p.created_at) AS created_at
        FROM persons p
        WHERE p.project_id = {project_id:UInt32} AND p.id = (
            SELECT argMax(person_id, version) FROM person_distinct_ids
            WHERE project_id = {project_id:UInt32} AND distinct_id = {distinct_id:String})
        GROUP BY p.id
        """,
        {"project_id": project_id, "distinct_id": distinct_id},
    ).dicts()
    if not rows:
        return None
    row = rows[0]
    row["properties"] = json.loads(row["properties"])
    return row
