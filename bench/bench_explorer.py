"""Explorer benchmark: keyset pages through EventsQueryRunner on ~10M events vs DuckDB over Parquet.

    .venv/bin/python bench/bench_explorer.py [--events 10000000] [--persons 200000] [--days 30] [--repeat 3] [--limit 100]

Generates events in-engine (INSERT ... SELECT FROM numbers(), random microsecond
timestamps over --days, JSON properties) in a throwaway chdb directory, then times
(median of --repeat, after one warm-up):

- the first page (latest --limit rows) of the explorer, no filter and `event = '$pageview'`;
- the 1000th page: the runner walks 999 cursors first (untimed), then the 1000th page is timed;

each through EventsQueryRunner in its default two-step mode (keys first, then
properties for those rows) and in one step (`two_step = False`). The same rows
are exported to Parquet and the same "latest N rows" / keyset page run in DuckDB
(in this process; its deep-page cursor comes from its own ORDER BY ... OFFSET,
untimed). Prints a table, writes bench/results/explorer.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import statistics
import sys
import tempfile
import time
import zoneinfo
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PROJECT_ID = 1
CHUNK = 1_000_000


class BenchProject:
    id = pk = PROJECT_ID
    time_zone = "UTC"
    tz = zoneinfo.ZoneInfo("UTC")


def setup(var: str) -> None:
    os.environ["SEXTANT_VAR_DIR"] = var
    os.environ["CLICKHOUSE_URL"] = "chdb://" + os.path.join(var, "chdb")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_app.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django

    django.setup()
    from analytics_app.clickhouse import migrate

    migrate.run()


def generate(n_events: int, n_persons: int, days: int, end: dt.datetime) -> float:
    from analytics_app import clickhouse as ch

    end_us = int(end.timestamp() * 1_000_000)
    span_us = days * 86_400 * 1_000_000
    t0 = time.perf_counter()
    for offset in range(0, n_events, CHUNK):
        size = min(CHUNK, n_events - offset)
        # Bench-only statement: every number below is an int from argparse, not request data.
        ch.command(
            f"""
            INSERT INTO events (uuid, project_id, event, distinct_id, person_id, timestamp, properties, session_id)
            SELECT generateUUIDv4(number), {PROJECT_ID},
                ['$pageview', '$pageview', '$pageview', '$pageview', 'click', 'click', 'signup', 'purchase'][1 + cityHash64(number, 1) % 8],
                concat('u', toString(p)),
                reinterpretAsUUID(toFixedString(MD5(concat('p', toString(p))), 16)),
                ts,
                concat('{{"$browser":"', ['Chrome', 'Chrome', 'Safari', 'Firefox', 'Edge'][1 + cityHash64(p, 2) % 5],
                    '","$current_url":"https://shop.example.com/p/', toString(cityHash64(number, 3) % 500),
                    '","plan":"', ['free', 'free', 'pro', 'enterprise'][1 + p % 4],
                    '","email":"u', toString(p), '@example.com","revenue":', toString(cityHash64(number, 4) % 10000 / 100), '}}')::JSON,
                concat('s', toString(p), '-', toString(intDiv(toUnixTimestamp(ts), 1800)))
            FROM (
                SELECT number, cityHash64(number, 0) % {n_persons} AS p,
                    fromUnixTimestamp64Micro(toInt64({end_us} - 1 - cityHash64(number, 5) % {span_us}), 'UTC') AS ts
                FROM numbers({offset}, {size})
            )
            """,
            global_=True,
        )
        print(f"  generated {offset + size:,} events", flush=True)
    ch.command(
        f"""
        INSERT INTO person_distinct_ids (project_id, distinct_id, person_id, version)
        SELECT {PROJECT_ID}, concat('u', toString(number)), reinterpretAsUUID(toFixedString(MD5(concat('p', toString(number))), 16)), 1
        FROM numbers({n_persons})
        """,
        global_=True,
    )
    return time.perf_counter() - t0


def export_parquet(path: str) -> float:
    from analytics_app import clickhouse as ch

    t0 = time.perf_counter()
    if os.path.exists(path):
        os.remove(path)
    ch.command(
        f"""
        INSERT INTO FUNCTION file('{path}', Parquet)
        SELECT toString(uuid) AS uuid, event, distinct_id, toString(person_id) AS person_id, timestamp AS ts,
            toString(properties) AS properties
        FROM events WHERE project_id = {PROJECT_ID}
        """,
        global_=True,
    )
    return time.perf_counter() - t0


def timed(fn, repeat: int) -> tuple[float, object]:
    fn()  # warm-up
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--deep-page", type=int, default=1000)
    args = parser.parse_args()

    var = tempfile.mkdtemp(prefix="sextant-bench-explorer-")
    setup(var)
    from analytics_app import clickhouse as ch
    from explorer.forms import EventsSpec
    from explorer.queries import EventsQueryRunner
    from insights.blocks import DateRange

    now = dt.datetime.now(dt.UTC)
    print(f"Generating {args.events:,} events, {args.persons:,} persons over {args.days} days in {var} ...", flush=True)
    gen_s = generate(args.events, args.persons, args.days, now)
    count = ch.query("SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": PROJECT_ID}).scalar()
    print(f"  {count:,} events in {gen_s:.1f} s", flush=True)

    project = BenchProject()
    date_range = DateRange(f"-{args.days + 1}d")
    filters = {"all events": "", "event = $pageview": "$pageview"}

    def page(event: str, after, two_step: bool):
        runner = EventsQueryRunner(project, EventsSpec(date_range=date_range, event=event, limit=args.limit, after=after))
        runner.two_step = two_step
        return runner.run()

    sextant: dict[str, dict] = {}
    deep_cursor = {}
    for label, event in filters.items():
        cursor, t0 = None, time.perf_counter()
        for _ in range(args.deep_page - 1):
            cursor = page(event, cursor, True).next
        walk_s = time.perf_counter() - t0
        deep_cursor[label] = cursor
        print(f"  walked {args.deep_page - 1} pages ({label}) in {walk_s:.1f} s", flush=True)
        for mode, two_step in (("two-step", True), ("one-step", False)):
            first_s, first = timed(lambda e=event, t=two_step: page(e, None, t), args.repeat)
            deep_s, deep = timed(lambda e=event, c=cursor, t=two_step: page(e, c, t), args.repeat)
            sextant[f"{label} | {mode}"] = {
                "first_s": first_s, "deep_s": deep_s, "walk_s": walk_s,
                "first_uuids": [str(r.uuid) for r in first.rows], "deep_uuids": [str(r.uuid) for r in deep.rows],
            }

    parquet = os.path.join(var, "events.parquet")
    export_s = export_parquet(parquet)
    print(f"  exported Parquet ({os.path.getsize(parquet) / 1e6:.0f} MB) in {export_s:.1f} s", flush=True)

    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW ev AS SELECT * FROM read_parquet('{parquet}')")
    start = (now - dt.timedelta(days=args.days + 1)).strftime("%Y-%m-%d %H:%M:%S")
    duck: dict[str, dict] = {}
    for label, event in filters.items():
        where = f"ts >= TIMESTAMPTZ '{start}+00'" + (f" AND event = '{event}'" if event else "")
        cols = "uuid, event, distinct_id, person_id, ts, properties"
        first_sql = f"SELECT {cols} FROM ev WHERE {where} ORDER BY ts DESC, uuid DESC LIMIT {args.limit + 1}"
        skip = args.limit * (args.deep_page - 1) - 1
        c_ts, c_uuid = con.execute(f"SELECT ts, uuid FROM ev WHERE {where} ORDER BY ts DESC, uuid DESC LIMIT 1 OFFSET {skip}").fetchone()
        deep_sql = (
            f"SELECT {cols} FROM ev WHERE {where} AND ts <= $ts AND (ts < $ts OR uuid < $u) "
            f"ORDER BY ts DESC, uuid DESC LIMIT {args.limit + 1}"
        )
        first_s, first = timed(lambda sql=first_sql: con.execute(sql).fetchall(), args.repeat)
        deep_s, deep = timed(lambda sql=deep_sql, t=c_ts, u=c_uuid: con.execute(sql, {"ts": t, "u": u}).fetchall(), args.repeat)
        duck[label] = {"first_s": first_s, "deep_s": deep_s, "first_uuids": [r[0] for r in first[: args.limit]], "deep_uuids": [r[0] for r in deep[: args.limit]]}

    print()
    header = f"{'page (limit ' + str(args.limit) + ')':<40} {'Sextant':>10} {'DuckDB':>10} {'ratio':>7}  same rows"
    print(header)
    print("-" * len(header))
    rows = []
    for key, s in sextant.items():
        label, mode = key.split(" | ")
        d = duck[label]
        for which, name in (("first", "first page"), ("deep", f"page {args.deep_page}")):
            ratio = s[f"{which}_s"] / d[f"{which}_s"] if d[f"{which}_s"] else float("inf")
            same = set(s[f"{which}_uuids"]) == set(d[f"{which}_uuids"])
            title = f"{name}, {label}, {mode}"
            print(f"{title:<40} {s[f'{which}_s'] * 1000:>7.0f} ms {d[f'{which}_s'] * 1000:>7.0f} ms {ratio:>6.2f}x  {same}")
            rows.append({"page": name, "filter": label, "mode": mode, "sextant_s": round(s[f"{which}_s"], 4),
                         "duckdb_s": round(d[f"{which}_s"], 4), "ratio": round(ratio, 3), "same_rows": same})
    out = {
        "when": now.isoformat(), "events": count, "persons": args.persons, "days": args.days, "repeat": args.repeat,
        "limit": args.limit, "deep_page": args.deep_page, "generate_s": round(gen_s, 1), "parquet_export_s": round(export_s, 1),
        "walk_s": {label: round(sextant[f"{label} | two-step"]["walk_s"], 1) for label in filters},
        "cpu_count": os.cpu_count(), "load_avg_1m_after": os.getloadavg()[0],
        "notes": "Sextant resolves person_id through person_distinct_ids for the page's rows; DuckDB reads a pre-resolved Parquet file. "
                 "DuckDB's deep-page cursor comes from OFFSET (untimed); Sextant walks its own cursors.",
        "results": rows,
    }
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "explorer.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote bench/results/explorer.json (data dir {var}; delete it when done)")


if __name__ == "__main__":
    main()
