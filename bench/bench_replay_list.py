"""Recordings list benchmark: RecordingsQueryRunner over --recordings session summaries vs
DuckDB over the same rows in Parquet.

    .venv/bin/python bench/bench_replay_list.py [--recordings 100000] [--persons 20000] [--days 30] [--repeat 5]

Generates in-engine (INSERT ... SELECT FROM numbers()) --recordings rows of
session_replay_summaries over the --days before now (durations up to 30 min, some
with console errors or rage clicks, 1-6 visited URLs) for --persons persons with
person_distinct_ids and persons rows (an email each), plus the same number of rows
written again as a second version for one in five sessions (as chunks arriving
later would), so FINAL has work to do. Times (median of --repeat after a warm-up)
the list page queries: default (last 7 days, newest first), all time by duration,
min duration, has errors, URL visited, person id, email, and a combination; each
through RecordingsQueryRunner (summaries FINAL + person lookup of the page rows)
and the same filter/sort in DuckDB on a Parquet export (one row per session,
person and email already joined), and checks both return the same session ids.
Also times the summary refresh of 100 sessions from snapshot fact rows
(--refresh-events rrweb events per session, generated in-engine).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time

import common

PAGES = ["/", "/pricing", "/docs", "/product/1", "/product/2", "/cart", "/checkout", "/account", "/help"]


def generate(n: int, persons: int, days: int, end_ms: int) -> float:
    from analytics_app import clickhouse as ch  # noqa: PLC0415

    t0 = time.perf_counter()
    pid = common.PROJECT_ID
    person = common.person_uuid_sql("number", 1)
    ch.command(
        f"""INSERT INTO person_distinct_ids (project_id, distinct_id, person_id, version)
        SELECT {pid}, concat('user-', toString(number)), {person}, 1 FROM numbers({persons})""",
        global_=True,
    )
    ch.command(
        f"""INSERT INTO persons (project_id, id, created_at, properties, is_identified, is_deleted, version)
        SELECT {pid}, {person}, now64(3), concat('{{"email": "user', toString(number), '@example.com"}}'), 1, 0, 1
        FROM numbers({persons})""",
        global_=True,
    )
    pages = "[" + ", ".join(f"'{common.HOST}{p}'" for p in PAGES) + "]"
    for version, where in ((1, "1"), (2, "number % 5 = 0")):
        ch.command(
            f"""INSERT INTO session_replay_summaries (project_id, session_id, distinct_id, person_id, start_time, end_time,
                active_ms, click_count, keypress_count, mouse_activity_count, console_log_count, console_warn_count,
                console_error_count, rage_click_count, dead_click_count, urls, first_url, browser, os, device_type,
                size_bytes, event_count, window_count, expires_at, version)
            SELECT {pid} AS project_id, concat('s-', leftPad(toString(number), 9, '0')) AS session_id,
                concat('user-', toString(cityHash64(number, 9) % {persons})) AS distinct_id,
                {common.person_uuid_sql(f"cityHash64(number, 9) % {persons}", 1)} AS person_id,
                fromUnixTimestamp64Milli(toInt64({end_ms} - cityHash64(number, 1) % {days * 86_400_000})) AS start_time,
                start_time + toIntervalMillisecond(least(1800000, intDiv(cityHash64(number, 2) % 1000000, 1000) * intDiv(cityHash64(number, 3) % 1000000, 300000) * 600 + cityHash64(number, 4) % 60000) * {version}) AS end_time,
                intDiv((toUnixTimestamp64Milli(end_time) - toUnixTimestamp64Milli(start_time)) * (cityHash64(number, 5) % 100), 100) AS active_ms,
                cityHash64(number, 6) % 60 AS click_count, cityHash64(number, 7) % 200 AS keypress_count,
                cityHash64(number, 8) % 500 AS mouse_activity_count, cityHash64(number, 10) % 20 AS console_log_count,
                cityHash64(number, 11) % 3 AS console_warn_count,
                if(cityHash64(number, 12) % 10 = 0, 1 + cityHash64(number, 13) % 5, 0) AS console_error_count,
                if(cityHash64(number, 14) % 20 = 0, 1, 0) AS rage_click_count, cityHash64(number, 15) % 3 AS dead_click_count,
                arrayMap(i -> {pages}[1 + cityHash64(number, 16, i) % {len(PAGES)}], range(1 + cityHash64(number, 17) % 6)) AS urls,
                urls[1] AS first_url,
                ['Chrome', 'Safari', 'Firefox'][1 + cityHash64(number, 18) % 3] AS browser, 'Linux' AS os, 'Desktop' AS device_type,
                50000 + cityHash64(number, 19) % 500000 AS size_bytes, 50 + cityHash64(number, 20) % 2000 AS event_count,
                1 AS window_count, now() + INTERVAL 365 DAY AS expires_at, {version} AS version
            FROM numbers({n}) WHERE {where}""",
            global_=True,
        )
    return time.perf_counter() - t0


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--recordings", type=int, default=100_000)
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--refresh-events", type=int, default=500)
    args = parser.parse_args()

    var = common.setup_django(prefix="sextant-bench-replay-list-")
    from analytics_app import clickhouse as ch  # noqa: PLC0415
    from replay.forms import RecordingsSpec  # noqa: PLC0415
    from replay.queries import RecordingsQueryRunner  # noqa: PLC0415
    from replay.summary import refresh_sessions  # noqa: PLC0415

    end_ms = int(time.time() * 1000)
    print(
        f"Generating {args.recordings:,} recordings of {args.persons:,} persons over {args.days} days in {var} ...",
        flush=True,
    )
    gen_s = generate(args.recordings, args.persons, args.days, end_ms)
    print(f"  in {gen_s:.1f} s", flush=True)

    parquet = os.path.join(tempfile.mkdtemp(prefix="sextant-bench-replay-"), "recordings.parquet")
    t0 = time.perf_counter()
    ch.command(
        f"""INSERT INTO FUNCTION file('{parquet}', Parquet)
        SELECT s.session_id AS session_id, s.distinct_id AS distinct_id, toString(s.person_id) AS person_id,
            lower(JSONExtractString(p.properties, 'email')) AS email, s.start_time AS start_time,
            toUnixTimestamp64Milli(s.end_time) - toUnixTimestamp64Milli(s.start_time) AS duration_ms,
            s.active_ms AS active_ms, s.console_error_count AS errors, s.rage_click_count AS rage, s.urls AS urls
        FROM session_replay_summaries AS s FINAL
        LEFT JOIN (SELECT id, argMax(properties, version) AS properties FROM persons WHERE project_id = {common.PROJECT_ID} GROUP BY id) AS p
            ON p.id = s.person_id
        WHERE s.project_id = {common.PROJECT_ID}""",
        global_=True,
    )
    export_s = time.perf_counter() - t0
    duck = common.duckdb_connect(parquet, table=True)

    project = common.BenchProject()
    some_person = ch.query(
        "SELECT person_id, distinct_id FROM session_replay_summaries WHERE project_id = {project_id:UInt32} LIMIT 1",
        {"project_id": project.id},
    ).rows[0]
    person_id, distinct_id = str(some_person[0]), some_person[1]
    email = f"user{distinct_id.removeprefix('user-')}@EXAMPLE.com"
    week = dt.datetime.fromtimestamp(end_ms / 1000 - 7 * 86400, dt.UTC).replace(tzinfo=None)
    # label -> (request parameters, DuckDB WHERE, DuckDB ORDER BY)
    cases = {
        "default (7 days, newest)": (
            {},
            f"start_time >= TIMESTAMP '{week:%Y-%m-%d} 00:00:00'",
            "start_time DESC, session_id DESC",
        ),
        "all time, longest": (
            {"date_from": "all", "order": "-duration"},
            "true",
            "duration_ms DESC, session_id DESC",
        ),
        "min duration 20 min": (
            {"date_from": "all", "min_duration": "1200"},
            "duration_ms >= 1200000",
            "start_time DESC, session_id DESC",
        ),
        "has errors, 30 days": (
            {"date_from": "-30d", "has_errors": "true"},
            "errors > 0",
            "start_time DESC, session_id DESC",
        ),
        "URL visited /checkout": (
            {"date_from": "all", "url": "/checkout"},
            "len(list_filter(urls, lambda u: contains(lower(u), '/checkout'))) > 0",
            "start_time DESC, session_id DESC",
        ),
        "person id": (
            {"date_from": "all", "person_id": person_id},
            f"person_id = '{person_id}'",
            "start_time DESC, session_id DESC",
        ),
        "email": (
            {"date_from": "all", "email": email},
            f"email = '{email.lower()}'",
            "start_time DESC, session_id DESC",
        ),
        "errors + rage + >5 min, by activity": (
            {
                "date_from": "all",
                "has_errors": "1",
                "has_rage_clicks": "1",
                "min_duration": "300",
                "order": "-active",
            },
            "errors > 0 AND rage > 0 AND duration_ms >= 300000",
            "active_ms DESC, session_id DESC",
        ),
    }
    rows, results = [], {}
    for label, (params, where, order) in cases.items():
        spec = RecordingsSpec.from_query(params)
        if label.startswith(
            "default"
        ):  # the 7-day window in DuckDB starts at the local midnight 7 days back (UTC here)
            start, _ = spec.date_range.resolve(project.tz)
            where = f"start_time >= TIMESTAMP '{start:%Y-%m-%d %H:%M:%S}'"
        sextant = common.timed(lambda spec=spec: RecordingsQueryRunner(project, spec).run(), args.repeat)
        sql = f"SELECT session_id FROM ev WHERE {where} ORDER BY {order} LIMIT {spec.limit}"
        duckdb = common.timed(lambda sql=sql: duck.execute(sql).fetchall(), args.repeat)
        same = [r.session_id for r in sextant.value.rows] == [r[0] for r in duckdb.value]
        rows.append(
            common.vs_duckdb(
                ("query", label), sextant.median, duckdb.median, ("same rows", "yes" if same else "NO")
            )
        )
        results[label] = {
            "sextant_s": sextant.median,
            "sextant_runs": sextant.runs,
            "duckdb_s": duckdb.median,
            "rows": len(sextant.value.rows),
            "same": same,
        }

    # refresh: snapshot facts for 100 sessions, then recompute their summaries
    n_ref, per = 100, args.refresh_events
    ch.command(
        f"""INSERT INTO session_replay_snapshots (project_id, session_id, window_id, distinct_id, timestamp, event_type, data,
            uuid, chunk_index, size, active, click, keypress, mouse, reaction, console_level, x, y, node_id, url, expires_at)
        SELECT {common.PROJECT_ID}, concat('r-', toString(intDiv(number, {per}))), 'w', 'user-1',
            fromUnixTimestamp64Milli(toInt64({end_ms} - 3600000 + (number % {per}) * 700)), 3, '{{}}',
            generateUUIDv4(), number % 50, 100, cityHash64(number, 1) % 2, cityHash64(number, 2) % 8 = 0,
            cityHash64(number, 3) % 6 = 0, cityHash64(number, 4) % 3 = 0, cityHash64(number, 5) % 4 = 0,
            ['', '', '', 'log', 'error'][1 + cityHash64(number, 6) % 5], cityHash64(number, 7) % 50, 10, cityHash64(number, 8) % 5,
            if(number % {per} = 0, 'https://shop.example.com/', ''), now() + INTERVAL 30 DAY
        FROM numbers({n_ref * per})""",
        global_=True,
    )
    ids = {f"r-{i}" for i in range(n_ref)}
    refresh = common.timed(lambda: refresh_sessions({common.PROJECT_ID: ids}), args.repeat)
    rows.append(
        {
            "query": f"refresh {n_ref} summaries ({per} events each)",
            "Sextant (chdb)": common.ms(refresh.median),
            "DuckDB parquet": "-",
            "ratio": "-",
            "same rows": "-",
        }
    )
    results["refresh"] = {
        "sessions": n_ref,
        "events_per_session": per,
        "median_s": refresh.median,
        "runs": refresh.runs,
    }

    load = os.getloadavg()
    print(f"\n{args.recordings:,} recordings; load average {load[0]:.2f}")
    common.print_table(rows)
    common.write_results(
        "replay_list",
        {
            "recordings": args.recordings,
            "persons": args.persons,
            "days": args.days,
            "repeat": args.repeat,
            "generate_s": gen_s,
            "parquet_export_s": export_s,
            "data_dir": var,
            "results": results,
        },  # fmt: skip
    )


if __name__ == "__main__":
    main()
