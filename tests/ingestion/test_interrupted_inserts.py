"""An insert cut off between `events` and the views below it is completed, never repeated.

ClickHouse commits the events part first and each view's part after it. Here a view
made for the test (interrupt_mv, a plain MergeTree copy of every row inserted, like the
fault suite's) raises TOO_MANY_PARTS (code 252, a server fault the writer retries) while
a switch is on: `events` then holds the batch, and some of the real views (event_uuids,
the dedup lookup, among them or not, depending on their order) do not. Afterwards the
batch is delivered again the ways it really is: redelivered whole, or re-sent by the
client beside new events (a new grouping), in the same process or in a new one (only
the insert log knows what was cut off). Every event must then be in `events` once, in
the copy once, in event_uuids, and counted once by the rollups.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import importlib
import json
import re
import uuid

import pytest

from analytics_app import clickhouse as ch
from ingestion import inserts
from ingestion.processing import Job
from ingestion.writer import write_jobs

from .conftest import event, stored_row

migration = importlib.import_module("analytics_app.clickhouse.migrations.0013_repeatable_inserts")
later = importlib.import_module("analytics_app.clickhouse.migrations.0014_funnel_events")


def _rows(n: int, tag: str, start: dt.datetime) -> list[dict]:
    rows = []
    for i in range(n):
        e = event(f"{tag}-{i % 3}", distinct_id=f"{tag}-user-{i % 4}")
        e["timestamp"] = (start + dt.timedelta(seconds=i)).isoformat()
        url = {"$current_url": f"https://shop.example/{e['event']}", "$browser": "Firefox"}
        rows.append(stored_row(e, properties=json.dumps(url), session_id=f"{tag}-s{i % 2}" if i % 3 else ""))
    return rows


@contextlib.contextmanager
def _view_below(source: str):
    """interrupt_copy gets every row inserted into `source`; its view interrupt_mv fails
    while interrupt_switch has a row (with that row's error code)."""
    statements = [
        "CREATE TABLE interrupt_switch (code Int32) ENGINE = MergeTree ORDER BY code",
        "CREATE TABLE interrupt_copy (project_id UInt32, uuid UUID) ENGINE = MergeTree ORDER BY project_id "
        f"SETTINGS non_replicated_deduplication_window = {migration.WINDOW}",
        f"CREATE MATERIALIZED VIEW interrupt_mv TO interrupt_copy AS SELECT project_id, uuid FROM {source} "
        "WHERE throwIf((SELECT count() FROM interrupt_switch) > 0, 'the test view refuses', "
        "(SELECT toInt32(max(code)) FROM interrupt_switch)) = 0 SETTINGS allow_custom_error_code_in_throwif = 1",
    ]
    for sql in statements:
        ch.command(sql, global_=True)
    inserts.tracker.reset()
    inserts.tracker.settle()  # what earlier tests left begun and not yet logged done (no-ops)
    try:
        yield
    finally:
        for sql in ("DROP VIEW IF EXISTS interrupt_mv", "DROP TABLE IF EXISTS interrupt_copy",
                    "DROP TABLE IF EXISTS interrupt_switch"):  # fmt: skip
            ch.command(sql, global_=True)
        inserts.tracker.reset()


@pytest.fixture
def interrupting_view():
    with _view_below("events"):
        yield


def _switch(on: bool, code: int = 252) -> None:
    """On: the test view raises ClickHouse error `code` (252 TOO_MANY_PARTS, a server fault)."""
    ch.command("TRUNCATE TABLE interrupt_switch", global_=True)
    if on:
        ch.command("INSERT INTO interrupt_switch VALUES ({code:Int32})", {"code": code}, global_=True)


def _one(sql: str, project_id: int):
    return ch.query(sql, {"project_id": project_id}).rows[0]


def _assert_once(project_id: int, rows: list[dict]) -> None:
    expected = {r["uuid"] for r in rows}
    n = len(expected)
    # events: every row ever inserted (no FINAL: a duplicate would count); the same below
    # for the views' tables
    assert _one(
        "SELECT count(), uniqExact(uuid) FROM events WHERE project_id = {project_id:UInt32}", project_id
    ) == (n, n)
    copy = ch.query(
        "SELECT toString(uuid) AS u, count() AS c FROM interrupt_copy WHERE project_id = {project_id:UInt32} GROUP BY u",
        {"project_id": project_id},
    ).rows
    assert {u for u, _ in copy} == expected and all(c == 1 for _, c in copy)
    (known,) = _one(
        "SELECT uniqExact(uuid) FROM event_uuids WHERE project_id = {project_id:UInt32}", project_id
    )
    assert known == n
    by_event: dict[str, int] = {}
    for r in rows:
        by_event[r["event"]] = by_event.get(r["event"], 0) + 1
    rollup = dict(
        ch.query(
            "SELECT toString(event), sum(events) FROM trends_rollup WHERE project_id = {project_id:UInt32} GROUP BY event",
            {"project_id": project_id},
        ).rows
    )
    assert rollup == by_event
    sessionless = sum(1 for r in rows if not r["session_id"])
    assert _one(
        "SELECT count(), uniqExact(uuid) FROM sessionless_paths WHERE project_id = {project_id:UInt32}",
        project_id,
    ) == (sessionless, sessionless)
    assert _one(
        "SELECT count(), uniqExact(uuid) FROM funnel_events WHERE project_id = {project_id:UInt32}",
        project_id,
    ) == (n, n)
    points = ch.query(
        "SELECT arrayJoin(groupArrayArray(events)).2 AS point FROM session_paths "
        "WHERE project_id = {project_id:UInt32}",
        {"project_id": project_id},
    ).rows
    assert len(points) == n - sessionless


@pytest.mark.parametrize("new_process", [False, True], ids=["same process", "after a restart"])
@pytest.mark.parametrize("redelivery", ["whole", "re-sent beside new events"])
def test_an_insert_cut_off_below_events_is_completed_and_stored_once(
    project, interrupting_view, new_process, redelivery
):
    start = dt.datetime(2026, 11, 30, 23, 59, 50, tzinfo=dt.UTC)  # across a month: two inserts
    first = _rows(24, "a", start)
    _switch(True)
    with pytest.raises(ch.ServerBusy):
        write_jobs([Job(project.id, events=first)])
    (held,) = _one("SELECT count() FROM events WHERE project_id = {project_id:UInt32}", project.id)
    assert held > 0, "the view failed after events took the rows: the cut this test is about"
    _switch(False)
    if new_process:
        inserts.tracker.reset()  # a new process knows only what insert_log says
    later = _rows(10, "b", start + dt.timedelta(hours=1))
    if redelivery == "whole":
        write_jobs([Job(project.id, events=first)])
        write_jobs([Job(project.id, events=later)])
    else:  # the client re-sent half of it in a new request, after new events
        write_jobs([Job(project.id, events=later), Job(project.id, events=first[12:])])
        write_jobs([Job(project.id, events=first[:12])])
    _assert_once(project.id, first + later)


def test_a_repeat_of_a_complete_insert_writes_nothing(project, interrupting_view):
    rows = _rows(6, "c", dt.datetime(2026, 11, 3, 12, tzinfo=dt.UTC))
    write_jobs([Job(project.id, events=rows)])
    (insert_id,) = _one(
        "SELECT any(toString(insert_id)) FROM events WHERE project_id = {project_id:UInt32}", project.id
    )
    since, until = rows[0]["timestamp"], rows[-1]["timestamp"]
    for _ in range(2):
        ch.repeat_insert("events", insert_id, [project.id], dt.datetime.fromisoformat(since),
                         dt.datetime.fromisoformat(until))  # fmt: skip
    _assert_once(project.id, rows)


def test_an_insert_that_never_reached_events_is_logged_and_repeats_as_nothing(project, interrupting_view):
    """Refused before events took anything (a fault before the insert): its log entry is
    repeated as a no-op and the batch, delivered again, is stored once."""
    from analytics_app.clickhouse import faults

    rows = _rows(5, "d", dt.datetime(2026, 11, 4, 8, tzinfo=dt.UTC))
    with faults.refusing(252), pytest.raises(ch.ServerBusy):
        write_jobs([Job(project.id, events=rows)])
    inserts.tracker.reset()
    write_jobs([Job(project.id, events=rows)])
    _assert_once(project.id, rows)


def test_every_view_below_a_repeatable_table_deduplicates_its_blocks():
    """A view added later on events or session_replay_snapshots must write to a table with a
    deduplication window, or a repeated insert would count twice there."""
    views = ch.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = currentDatabase() "
        "AND engine = 'MaterializedView'",
        global_=True,
    ).rows
    targets = set()
    for _name, create in views:
        source = re.search(r"\bFROM\s+(?:\w+\.)?(\w+)", create.split(" AS ", 1)[1])
        if source and source.group(1) in ch.REPEATABLE_TABLES:
            target = re.search(r"\bTO\s+(?:\w+\.)?(\w+)", create)
            targets.add(target.group(1))
    assert targets, "no view found below events"
    assert targets == {*migration.DERIVED, *later.DERIVED}
    for table in (*targets, *ch.REPEATABLE_TABLES):
        (engine,) = ch.query(
            "SELECT engine_full FROM system.tables WHERE database = currentDatabase() AND name = {t:String}",
            {"t": table},
            global_=True,
        ).rows[0]
        assert f"non_replicated_deduplication_window = {migration.WINDOW}" in engine, table


def test_rows_get_the_id_of_their_insert(project):
    inserts.tracker.reset()
    rows = _rows(4, "e", dt.datetime(2026, 10, 31, 23, 59, 58, tzinfo=dt.UTC))
    write_jobs([Job(project.id, events=rows)])
    ids = ch.query(
        "SELECT toYYYYMM(timestamp) AS month, groupUniqArray(toString(insert_id)) FROM events "
        "WHERE project_id = {project_id:UInt32} GROUP BY month ORDER BY month",
        {"project_id": project.id},
    ).rows
    assert [m for m, _ in ids] == [202610, 202611]
    assert all(len(i) == 1 and uuid.UUID(i[0]).int != 0 for _, i in ids)
    assert ids[0][1] != ids[1][1]


def test_a_repeat_refused_for_a_reason_other_than_the_servers_state_does_not_block_ingestion(
    project, interrupting_view
):
    """A repeat that fails for good (here the test view raises a plain error, 395) is logged
    and dropped; waiting for it would hold every later batch back."""
    rows = _rows(5, "f", dt.datetime(2026, 11, 5, 8, tzinfo=dt.UTC))
    _switch(True)
    with pytest.raises(ch.ServerBusy):
        write_jobs([Job(project.id, events=rows)])
    _switch(True, code=395)
    assert inserts.tracker.settle() == 0
    assert inserts.tracker.failures == 1 and not inserts.tracker.unsettled
    _switch(False)
    later = _rows(3, "g", dt.datetime(2026, 11, 5, 9, tzinfo=dt.UTC))
    write_jobs([Job(project.id, events=later)])
    (n,) = _one(
        "SELECT count() FROM events WHERE project_id = {project_id:UInt32} AND event LIKE 'g-%'", project.id
    )
    assert n == 3


def test_recording_rows_cut_off_below_their_table_are_completed_and_stored_once(project):
    """The same for session_replay_snapshots and its view session_replay_chunk_uuids, the
    dedup lookup of recording chunks: a chunk cut off after the table took it is stored once."""
    with _view_below("session_replay_snapshots"):
        start = dt.datetime(2026, 11, 6, 10, tzinfo=dt.UTC)
        chunks = [str(uuid.uuid4()) for _ in range(3)]
        rows = [
            {
                "session_id": "rec-1",
                "window_id": "w",
                "distinct_id": "viewer-1",
                "timestamp": (start + dt.timedelta(seconds=i)).isoformat(),
                "event_type": 3,
                "data": json.dumps({"type": 3, "data": {"source": 1, "i": i}}),
                "uuid": chunks[i % 3],
            }
            for i in range(9)
        ]
        _switch(True)
        with pytest.raises(ch.ServerBusy):
            write_jobs([Job(project.id, snapshots=rows)])
        (held,) = _one(
            "SELECT count() FROM session_replay_snapshots WHERE project_id = {project_id:UInt32}", project.id
        )
        assert held == 9
        _switch(False)
        inserts.tracker.reset()  # as after a restart
        write_jobs([Job(project.id, snapshots=rows)])
        assert _one(
            "SELECT count(), uniqExact(uuid) FROM session_replay_snapshots WHERE project_id = {project_id:UInt32}",
            project.id,
        ) == (9, 3)
        assert _one(
            "SELECT count(), uniqExact(uuid) FROM interrupt_copy WHERE project_id = {project_id:UInt32}",
            project.id,
        ) == (9, 3)
        (known,) = _one(
            "SELECT uniqExact(uuid) FROM session_replay_chunk_uuids WHERE project_id = {project_id:UInt32}",
            project.id,
        )
        assert known == 3


def test_a_finished_batch_is_logged_done_with_the_next_and_not_repeated_after_a_restart(project):
    inserts.tracker.reset()
    inserts.tracker.settle()
    first = _rows(3, "h", dt.datetime(2026, 11, 7, 8, tzinfo=dt.UTC))
    second = _rows(3, "i", dt.datetime(2026, 11, 7, 9, tzinfo=dt.UTC))
    write_jobs([Job(project.id, events=first)])
    write_jobs([Job(project.id, events=second)])
    ids = dict(
        ch.query(
            "SELECT substring(toString(event), 1, 1) AS tag, any(toString(insert_id)) FROM events "
            "WHERE project_id = {project_id:UInt32} GROUP BY tag",
            {"project_id": project.id},
        ).rows
    )
    pending = {i.insert_id for i in inserts._unfinished()}
    assert ids["h"] not in pending  # logged done by the second batch's log insert
    assert ids["i"] in pending  # its done row waits for the next batch: a restart repeats it (a no-op)
    inserts.tracker.reset()
    write_jobs([Job(project.id, events=_rows(2, "j", dt.datetime(2026, 11, 7, 10, tzinfo=dt.UTC)))])
    assert inserts.tracker.repeated >= 1
    (n,) = _one("SELECT count() FROM events WHERE project_id = {project_id:UInt32}", project.id)
    assert n == 8
