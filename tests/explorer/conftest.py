"""Explorer fixtures: bulk event inserts (columnar, one ch.insert) and person rows."""

from __future__ import annotations

import datetime as dt
import json
import time
import uuid

import pytest

from analytics_app import clickhouse as ch


def insert_events(
    project_id: int,
    n: int,
    *,
    start: dt.datetime,
    distinct_ids: int = 50,
    same_timestamp: int = 1,
    event: str = "$pageview",
    properties: dict | None = None,
) -> list[str]:
    """Insert `n` events in one go; every `same_timestamp` consecutive events share a timestamp
    (newest first from `start`). Returns the uuids."""
    uuids = [str(uuid.uuid4()) for _ in range(n)]
    props = json.dumps(properties or {"$current_url": "https://example.com/", "$browser": "Firefox"})
    ch.insert(
        "events",
        {
            "project_id": [project_id] * n,
            "uuid": uuids,
            "event": [event] * n,
            "distinct_id": [f"user-{i % distinct_ids}" for i in range(n)],
            "person_id": [
                str(uuid.uuid5(uuid.NAMESPACE_URL, f"{project_id}/user-{i % distinct_ids}")) for i in range(n)
            ],
            "timestamp": [start - dt.timedelta(seconds=i // same_timestamp) for i in range(n)],
            "properties": [props] * n,
        },
    )
    return uuids


def insert_person(
    project_id: int,
    person_id: uuid.UUID,
    properties: dict,
    *,
    created_at: dt.datetime | None = None,
    is_identified: bool = True,
) -> None:
    ch.insert(
        "persons",
        {
            "project_id": [project_id],
            "id": [str(person_id)],
            "created_at": [created_at or dt.datetime.now(dt.UTC)],
            "properties": [json.dumps(properties, ensure_ascii=False)],
            "is_identified": [int(is_identified)],
            "is_deleted": [0],
            "version": [time.time_ns()],
        },
    )


@pytest.fixture
def now():
    return dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(minutes=5)
