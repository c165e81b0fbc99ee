"""Recordings expire after the project's recording_retention_days (ClickHouse TTL on
expires_at), summaries too; a person's recordings are deleted on request."""

from __future__ import annotations

import datetime as dt
import uuid

from analytics_app import clickhouse as ch
from governance.roles import Role
from replay import summary
from replay.deletion import delete_person_recordings
from tests.clock import at_test_time
from tests.conftest import EventBuilder

from .test_summary import send

NOW = at_test_time(lambda now: now)


def events_at(when: dt.datetime, n: int = 3) -> list[dict]:
    t = int(when.timestamp() * 1000)
    return [{"type": 4, "data": {"href": "https://a.test/"}, "timestamp": t}] + [
        {"type": 3, "data": {"source": 2, "type": 2, "id": 1, "x": 1, "y": 1}, "timestamp": t + 100 * (i + 1)}
        for i in range(n - 1)
    ]


def count(table: str, project, session_id: str) -> int:
    return ch.query(
        f"SELECT count() FROM {table} WHERE project_id = {{project_id:UInt32}} AND session_id = {{sid:String}}",
        {"project_id": project.id, "sid": session_id},
    ).scalar()


def optimize() -> None:
    for table in ("session_replay_snapshots", "session_replay_summaries"):
        ch.command(f"OPTIMIZE TABLE {table} FINAL", global_=True)


def test_expiry_follows_the_project_retention(make_project, alice):
    short = make_project("Short", members={alice: Role.ADMIN}, recording_retention_days=7)
    long = make_project("Long", members={alice: Role.ADMIN}, recording_retention_days=30)
    ten_days_ago = NOW - dt.timedelta(days=10)
    for project in (short, long):
        send(project, "old-session", [(uuid.uuid4(), events_at(ten_days_ago))])
        send(project, "new-session", [(uuid.uuid4(), events_at(NOW - dt.timedelta(hours=1)))])
    optimize()
    assert count("session_replay_snapshots", short, "old-session") == 0
    assert count("session_replay_summaries", short, "old-session") == 0
    assert count("session_replay_snapshots", short, "new-session") == 3
    assert count("session_replay_snapshots", long, "old-session") == 3
    row = summary.summary(long, "old-session")
    assert row["expires_at"] == (row["end_time"] + dt.timedelta(days=30)).replace(microsecond=0)


def test_ttl_removes_rows_once_they_expire(make_project, alice):
    project = make_project("Replay", members={alice: Role.ADMIN}, recording_retention_days=30)
    send(project, "aging", [(uuid.uuid4(), events_at(NOW - dt.timedelta(days=2)))])
    send(project, "fresh", [(uuid.uuid4(), events_at(NOW - dt.timedelta(days=1)))])
    assert count("session_replay_snapshots", project, "aging") == 3 and summary.summary(project, "aging")
    # time passes for "aging": its expiry moves into the past (TTL is recalculated by the mutation)
    for table in ("session_replay_snapshots", "session_replay_summaries"):
        ch.command(
            f"ALTER TABLE {table} UPDATE expires_at = now() - INTERVAL 1 HOUR"
            " WHERE project_id = {project_id:UInt32} AND session_id = 'aging' SETTINGS mutations_sync = 1",
            {"project_id": project.id},
        )
    optimize()
    assert count("session_replay_snapshots", project, "aging") == 0
    assert count("session_replay_summaries", project, "aging") == 0
    assert count("session_replay_snapshots", project, "fresh") == 3 and summary.summary(project, "fresh")


def test_delete_person_recordings_removes_every_session_of_the_person(make_project, alice):
    project = make_project("Replay", members={alice: Role.ADMIN})
    builder = EventBuilder(project.id)
    builder.merge("anon-1", into="user-1")
    builder.add("$pageview", "user-1", NOW).flush()
    person = builder.person_for("user-1")
    # one session identified mid-way (anon then user-1), one anonymous-only, one of someone else
    send(project, "mixed", [(uuid.uuid4(), events_at(NOW - dt.timedelta(hours=3)))], distinct_id="anon-1")
    send(
        project,
        "mixed",
        [(uuid.uuid4(), events_at(NOW - dt.timedelta(hours=2, minutes=59)))],
        distinct_id="user-1",
    )
    send(project, "anon-only", [(uuid.uuid4(), events_at(NOW - dt.timedelta(hours=5)))], distinct_id="anon-1")
    send(
        project, "other", [(uuid.uuid4(), events_at(NOW - dt.timedelta(hours=1)))], distinct_id="someone-else"
    )

    deleted = delete_person_recordings(project, person)

    assert sorted(deleted) == ["anon-only", "mixed"]
    for session_id in ("mixed", "anon-only"):
        assert count("session_replay_snapshots", project, session_id) == 0
        assert summary.summary(project, session_id) is None
    assert count("session_replay_snapshots", project, "other") == 3 and summary.summary(project, "other")
    assert delete_person_recordings(project, ["someone-else"]) == ["other"]
    assert delete_person_recordings(project, ["nobody"]) == []
