"""Summaries through the production write path: jobs serialised into the Redis Stream and
stored by the consumer (same write_jobs, same after-write hook), including a crash
between the insert and the acknowledgement (redelivery)."""

from __future__ import annotations

import datetime as dt
import os
import uuid

import pytest

from governance.roles import Role
from ingestion import stream
from ingestion.processing import Job, RequestContext
from ingestion.writer import write_jobs
from replay import summary, synthetic
from replay.ingest import process_snapshots

from . import reference
from .test_summary import BASE_MS, stored


@pytest.fixture
def project(make_project, alice):
    return make_project("Replay", members={alice: Role.ADMIN})


def jobs_for(project, session_id, events, *, chunk_events=7):
    ctx = RequestContext(now=dt.datetime.now(dt.UTC), user_agent=synthetic.USER_AGENT)
    payloads = synthetic.snapshot_payloads(
        project.api_token, session_id, "w1", "user-1", events, chunk_events=chunk_events
    )
    chunks = [(uuid.UUID(p["uuid"]), p["properties"]["$snapshot_data"]) for p in payloads]
    jobs = [process_snapshots([p], project, ctx)[0] for p in payloads]
    return jobs, chunks


def plain(chunks):
    from replay.format import decompress_event  # noqa: PLC0415

    return [(u, [decompress_event(e) for e in events]) for u, events in chunks]


def test_jobs_roundtripped_as_json_give_the_same_summary(project):
    events = synthetic.session_events(11, BASE_MS)
    jobs, chunks = jobs_for(project, "json-path", events)
    write_jobs([Job.from_json(job.to_json()) for job in reversed(jobs)])
    assert stored(project, "json-path") == reference.summarize(plain(chunks), "user-1")


def test_a_job_queued_before_the_fact_columns_existed_is_still_stored(project):
    events = synthetic.session_events(12, BASE_MS)
    jobs, _ = jobs_for(project, "old-job", events)
    keep = {"session_id", "window_id", "distinct_id", "timestamp", "event_type", "data", "uuid"}
    for job in jobs:
        job.snapshots = [{k: v for k, v in row.items() if k in keep} for row in job.snapshots]
    write_jobs(jobs)
    row = summary.summary(project, "old-job")
    assert row["event_count"] == len(events) and row["click_count"] == 0  # no facts: counted as nothing


@pytest.fixture
def redis_mode(settings):
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set: the Redis Stream tests need a real Redis")
    settings.REDIS_URL = url
    settings.SEXTANT_INGEST_STREAM = f"sextant:test:{uuid.uuid4().hex}"
    try:
        stream.client().ping()
    except Exception as exc:  # noqa: BLE001
        pytest.skip(f"Redis at {url} is unreachable: {exc}")
    yield
    stream.client().delete(stream.stream_name())


@pytest.mark.redis
def test_consumer_keeps_summaries_up_to_date_across_a_crash_and_redelivery(project, redis_mode):
    events = synthetic.session_events(13, BASE_MS)
    jobs, chunks = jobs_for(project, "stream-path", events)
    for job in reversed(jobs):  # out of order
        stream.append(job)

    def crash(_jobs):
        raise stream.Crash("killed between the ClickHouse insert and XACK")

    dying = stream.Consumer(name="dying", count=2, after_write=crash)
    dying.ensure_group()
    with pytest.raises(stream.Crash):
        dying.run_once(block_ms=10)
    assert stream.Consumer(name="survivor", claim_idle_ms=0).drain() == len(jobs)
    assert stored(project, "stream-path") == reference.summarize(plain(chunks), "user-1")
