"""The ClickHouse layer against the real engine (chdb) and the real schema."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

from analytics_app import clickhouse as ch
from analytics_app.clickhouse import migrate
from analytics_app.clickhouse.backends import ChdbBackend, DriverBackend, from_url

HOSTILE = "'); DROP TABLE events; --"


def test_round_trips_every_type_we_use():
    when = dt.datetime(2026, 3, 29, 1, 30, 15, 123456, tzinfo=dt.UTC)
    some_uuid = uuid.UUID("0191c0de-0000-7000-8000-00000000abcd")
    props = {
        "nested": {"list": [1, 2.5, "x"], "deep": {"ok": True}},
        "unicode": "Zoë 東京 🚀",
        "quote": 'it\'s "fine"\\n',
    }
    result = ch.query(
        """
        SELECT {when:DateTime64(6, 'UTC')} AS when_utc,
               toTimeZone({when:DateTime64(6, 'UTC')}, 'Asia/Kolkata') AS when_kolkata,
               {u:UUID} AS u,
               {props:String}::JSON AS props,
               {names:Array(String)} AS names,
               {nums:Array(Int64)} AS nums,
               {maybe:Nullable(String)} AS maybe,
               {present:Nullable(String)} AS present,
               {day:Date} AS day,
               {big:UInt64} AS big,
               {f:Float64} AS f,
               {project_id:UInt32} AS pid
        """,
        {
            "when": when,
            "u": some_uuid,
            "props": json.dumps(props),
            "names": ["a", "b'c", "d\\e", "line\nbreak", HOSTILE],
            "nums": [1, -2, 2**40],
            "maybe": None,
            "present": "tab\there",
            "day": dt.date(2026, 2, 28),
            "big": 2**63 + 5,
            "f": 0.1,
            "project_id": 7,
        },
    )
    row = result.dicts()[0]
    assert row["when_utc"] == when
    assert row["when_kolkata"] == when  # same instant, other zone
    assert row["when_kolkata"].utcoffset() == dt.timedelta(hours=5, minutes=30)
    assert row["u"] == some_uuid
    assert row["props"]["nested"]["deep"]["ok"] is True
    assert row["props"]["unicode"] == "Zoë 東京 🚀"
    assert row["props"]["quote"] == 'it\'s "fine"\\n'
    assert row["names"] == ["a", "b'c", "d\\e", "line\nbreak", HOSTILE]
    assert row["nums"] == [1, -2, 2**40]
    assert row["maybe"] is None
    assert row["present"] == "tab\there"
    assert row["day"] == dt.date(2026, 2, 28)
    assert row["big"] == 2**63 + 5
    assert row["f"] == 0.1
    assert result.types[0] == "DateTime64(6, 'UTC')"


def test_insert_and_read_back_events_with_json_properties(project):
    when = dt.datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=dt.UTC)
    event_uuid = uuid.uuid4()
    props = {"$current_url": "https://x.test/a?b=1", "plan": "pro", "n": 3, "tags": ["a", "b"], "name": "Zoë"}
    ch.insert(
        "events",
        {
            "uuid": [str(event_uuid)],
            "project_id": [project.id],
            "event": ["signed up"],
            "distinct_id": ["user-1"],
            "person_id": [str(uuid.uuid4())],
            "timestamp": [when],
            "properties": [json.dumps(props)],
        },
    )
    rows = ch.query(
        "SELECT uuid, timestamp, properties, mat_current_url, properties.n::Int64 AS n FROM events"
        " WHERE project_id = {project_id:UInt32}",
        {"project_id": project.id},
    ).dicts()
    assert len(rows) == 1
    assert rows[0]["uuid"] == event_uuid
    assert rows[0]["timestamp"] == when
    assert rows[0]["properties"]["tags"] == ["a", "b"]
    assert rows[0]["mat_current_url"] == "https://x.test/a?b=1"
    assert rows[0]["n"] == 3


def test_hostile_value_is_kept_as_data(project):
    ch.insert(
        "events",
        {
            "uuid": [str(uuid.uuid4())],
            "project_id": [project.id],
            "event": [HOSTILE],
            "distinct_id": [HOSTILE],
            "person_id": [str(uuid.uuid4())],
            "timestamp": [dt.datetime.now(dt.UTC)],
            "properties": [json.dumps({"q": HOSTILE})],
        },
    )
    found = ch.query(
        "SELECT count() FROM events WHERE project_id = {project_id:UInt32} AND event = {e:String} AND distinct_id = {e:String}",
        {"project_id": project.id, "e": HOSTILE},
    ).scalar()
    assert found == 1
    # The table is still there and still answers.
    assert (
        ch.query(
            "SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": project.id}
        ).scalar()
        == 1
    )


def test_unscoped_query_is_refused():
    with pytest.raises(ch.UnscopedQuery):
        ch.query("SELECT count() FROM events")
    with pytest.raises(ch.UnscopedQuery):
        ch.query("SELECT count() FROM events", {"project_id": 1})  # value but no placeholder
    with pytest.raises(ch.UnscopedQuery):
        ch.query(
            "SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": "1 OR 1=1"}
        )
    assert ch.query("SELECT 1", global_=True).scalar() == 1


def test_insert_needs_a_known_table_and_project_column():
    with pytest.raises(ValueError):
        ch.insert("system.users", {"project_id": [1]})
    with pytest.raises(ch.UnscopedQuery):
        ch.insert("events", {"uuid": [str(uuid.uuid4())]})


def _native_events_block(project_id: int, rows: list[dict], *, with_project: bool = True):
    """A Native block of `events` rows: uuid, project_id, event, distinct_id, person_id,
    timestamp (µs), properties (flat dicts of str/int/bool/float)."""
    import numpy as np  # noqa: PLC0415
    import pyarrow as pa  # noqa: PLC0415

    from analytics_app.clickhouse import native  # noqa: PLC0415

    n = len(rows)
    raw = lambda key: np.frombuffer(b"".join(r[key].bytes for r in rows), np.uint8).reshape(n, 16)  # noqa: E731
    text = lambda key: [native.binary_data(native.strings(pa.array([r[key] for r in rows], pa.string())))]  # noqa: E731
    paths = {}
    for key in sorted({k for r in rows for k in r["properties"]}):
        encoded = [native.value(r["properties"][key]) if key in r["properties"] else None for r in rows]
        kind = next(e[0] for e in encoded if e)
        has = np.array([0 if e else 1 for e in encoded], np.uint8)
        paths[key] = (kind, has, pa.array([e[1] for e in encoded if e], pa.binary()))
    columns = [
        ("uuid", "UUID", [native.uuids(raw("uuid"))]),
        ("project_id", "UInt32", [np.full(n, project_id, "<u4").tobytes()]),
        ("event", "String", text("event")),
        ("distinct_id", "String", text("distinct_id")),
        ("person_id", "UUID", [native.uuids(raw("person_id"))]),
        ("timestamp", "DateTime64(6, 'UTC')", [np.array([r["us"] for r in rows], "<i8").tobytes()]),
        ("properties", "JSON(max_dynamic_paths = 512)", native.json_flattened(paths)),
    ]
    if not with_project:
        columns = [c for c in columns if c[0] != "project_id"]
    return native.block(n, columns)


def test_insert_bulk_stores_what_insert_stores(make_project):
    by_insert, by_bulk = make_project("insert"), make_project("insert_bulk")
    base = int(dt.datetime(2026, 1, 31, 23, 59, 59, tzinfo=dt.UTC).timestamp()) * 1_000_000
    rows = [
        {
            "uuid": uuid.UUID(int=(7 << 76) | i),
            "event": ["$pageview", "signed_up"][i % 2],
            "distinct_id": f"user-{i}",
            "person_id": uuid.UUID(int=1000 + i),
            "us": base + i * 654_321,
            "properties": {"plan": "pro", "n": i, "ok": i % 2 == 0, "price": 9.5}
            if i % 3
            else {"$browser": "Zoë's 東京"},
        }
        for i in range(5)
    ]

    def columns(project):
        return {
            "uuid": [str(r["uuid"]) for r in rows],
            "project_id": [project.id] * len(rows),
            "event": [r["event"] for r in rows],
            "distinct_id": [r["distinct_id"] for r in rows],
            "person_id": [str(r["person_id"]) for r in rows],
            "timestamp": [dt.datetime.fromtimestamp(r["us"] / 1e6, dt.UTC) for r in rows],
            "properties": [json.dumps(r["properties"]) for r in rows],
        }

    assert ch.insert("events", columns(by_insert)) == 5
    blocks = [_native_events_block(by_bulk.id, rows[:2]), _native_events_block(by_bulk.id, rows[2:])]
    assert ch.insert_bulk("events", lambda: columns(by_bulk), lambda: iter(blocks)) == 5
    sql = (
        "SELECT toString(uuid), event, distinct_id, person_id, timestamp, toString(properties), mat_browser "
        "FROM events WHERE project_id = {project_id:UInt32} ORDER BY uuid"
    )
    stored = ch.query(sql, {"project_id": by_bulk.id}).rows
    assert stored == ch.query(sql, {"project_id": by_insert.id}).rows
    assert stored[1][4] == dt.datetime(2026, 1, 31, 23, 59, 59, 654321, tzinfo=dt.UTC)
    assert [r[6] for r in stored] == ["Zoë's 東京", "", "", "Zoë's 東京", ""]


def test_insert_bulk_needs_a_known_table_and_project_column():
    block = _native_events_block(1, [], with_project=False)
    with pytest.raises(ValueError):
        ch.insert_bulk("system.users", dict, lambda: iter([block]))
    with pytest.raises(ch.UnscopedQuery):
        ch.insert_bulk("events", dict, lambda: iter([block]))


def test_guard_settings_map_to_our_exceptions():
    with pytest.raises(ch.QueryTooLarge) as too_many:
        ch.query("SELECT number FROM numbers(100000)", global_=True, settings={"max_result_rows": 10})
    assert too_many.value.code == 396
    with pytest.raises(ch.QueryTimeout):
        ch.query(
            "SELECT count() FROM numbers(10000000000)", global_=True, settings={"max_execution_time": 0.2}
        )
    with pytest.raises(ValueError):
        ch.query("SELECT 1", global_=True, settings={"allow_ddl": 1})
    with pytest.raises(ch.BadQueryParameter):
        ch.query("SELECT {d:Date}", {"d": "not a date"}, global_=True)


def test_a_clickhouse_error_keeps_its_message():
    with pytest.raises(ch.ClickHouseError) as err:
        ch.query("SELECT * FROM no_such_table WHERE project_id = {project_id:UInt32}", {"project_id": 1})
    assert "no_such_table" in err.value.message
    assert err.value.code == 60


def test_stream_yields_every_row_in_batches():
    seen = 0
    batches = 0
    for columns, rows in ch.stream("SELECT number AS n FROM numbers(25000)", global_=True, batch_rows=4096):
        assert columns == ["n"]
        seen += len(rows)
        batches += 1
    assert seen == 25000
    assert batches > 1


def test_counting_records_each_statement_sent_inside_the_block(project):
    scoped = "SELECT count() FROM events WHERE project_id = {project_id:UInt32}"
    with ch.counting() as outer:
        ch.query(scoped, {"project_id": project.id})
        with ch.counting() as inner:
            list(ch.stream("SELECT number FROM numbers(10)", global_=True))
            ch.insert("persons", {"project_id": [project.id], "id": [str(uuid.uuid4())], "version": [1]})
        ch.command("SELECT 1", global_=True)
    ch.query(scoped, {"project_id": project.id})  # after the block: not counted
    assert inner.count == 2 and inner.statements == ["SELECT number FROM numbers(10)", "INSERT INTO persons"]
    assert outer.count == 4 and outer.statements[0] == scoped and outer.statements[3] == "SELECT 1"
    with ch.counting() as refused, pytest.raises(ch.UnscopedQuery):
        ch.query("SELECT 1")
    assert refused.count == 0  # the layer refused it before sending


def test_migrations_run_twice_without_change():
    before = ch.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = currentDatabase() ORDER BY name",
        global_=True,
    ).rows
    assert migrate.run() == []
    assert migrate.run() == []
    after = ch.query(
        "SELECT name, create_table_query FROM system.tables WHERE database = currentDatabase() ORDER BY name",
        global_=True,
    ).rows
    assert before == after
    assert {m.name for m in migrate.discover()} <= migrate.applied()


def test_cluster_ddl_uses_replicated_engines_and_distributed_tables():
    statements = [s for m in migrate.discover() for s in migrate.statements_for(m, cluster="prod")]
    events_local = next(s for s in statements if s.startswith("CREATE TABLE IF NOT EXISTS events_local"))
    assert "ON CLUSTER `prod`" in events_local
    assert (
        "ENGINE = ReplicatedReplacingMergeTree('/clickhouse/tables/{shard}/{database}/events_local', '{replica}', created_at)"
        in events_local
    )
    distributed = next(s for s in statements if s.startswith("CREATE TABLE IF NOT EXISTS events ON CLUSTER"))
    assert (
        "ENGINE = Distributed(`prod`, currentDatabase(), events_local, cityHash64(distinct_id))"
        in distributed
    )
    single = [s for m in migrate.discover() for s in migrate.statements_for(m)]
    assert not any("ON CLUSTER" in s or "Replicated" in s or "Distributed" in s for s in single)
    # Every cluster statement that creates a local table is one a ClickHouse server parses:
    # check the single-node form of the same DDL really runs (chdb) — done by the session fixture.


def test_url_selects_the_backend(tmp_path):
    assert isinstance(from_url(f"chdb://{tmp_path}/x"), ChdbBackend)
    assert from_url(f"chdb://{tmp_path}/x").path == str(tmp_path / "x")
    assert isinstance(from_url("clickhouse://u:p@db.internal:9000/sextant"), DriverBackend)
    with pytest.raises(ch.ClickHouseError):
        from_url("mysql://nope")


def test_second_process_on_the_same_directory_gets_a_clear_message():
    ch.query("SELECT 1", global_=True)  # make sure this process holds the directory
    path = ch.backend().path
    code = (
        "import os, django; os.environ['DJANGO_SETTINGS_MODULE']='analytics_app.settings'; django.setup();"
        "from analytics_app import clickhouse as ch;"
        f"ch.configure('chdb://{path}');"
        "\ntry:\n    ch.query('SELECT 1', global_=True)\nexcept ch.EngineLocked as e:\n    print('LOCKED:', e)\n"
    )
    env = {**os.environ, "SEXTANT_VAR_DIR": str(Path(path).parent / "other")}
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert "LOCKED:" in out.stdout, out.stderr[-2000:]
    assert f"process {os.getpid()}" in out.stdout
    assert "Traceback" not in out.stdout + out.stderr


def test_a_failed_query_never_leaks_into_the_next_result():
    # chdb 26.9 prepends a failed query's partial output to the next result on the
    # same connection; the layer replaces the connection after a failure.
    for _ in range(3):
        with pytest.raises(ch.QueryTimeout):
            ch.query(
                "SELECT count() FROM numbers(10000000000)", global_=True, settings={"max_execution_time": 0.1}
            )
        assert ch.query("SELECT 41 + 1 AS x", global_=True).dicts() == [{"x": 42}]
        assert [rows for _, rows in ch.stream("SELECT 7 AS y", global_=True)] == [[(7,)]]


def test_threads_get_their_own_connections():
    import threading

    seen = {}

    def work(i):
        seen[i] = (
            id(ch.backend().connection()),
            ch.query("SELECT {i:UInt8} AS i", {"i": i}, global_=True).scalar(),
        )

    threads = [threading.Thread(target=work, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(v for _, v in seen.values()) == [0, 1, 2, 3]
    assert len({c for c, _ in seen.values()}) == 4
