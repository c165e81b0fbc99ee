"""Trends benchmark: TrendsQueryRunner on ~10M events vs DuckDB over the same data in Parquet.

    .venv/bin/python bench/bench_trends.py [--events 10000000] [--persons 200000] [--days 90] [--repeat 3]

Generates events in-engine (INSERT ... SELECT FROM numbers(), JSON properties
$browser / $current_url / plan / revenue, a person_distinct_ids row per person)
in a throwaway chdb directory, then times (median of --repeat) three 90-day daily
trends through TrendsQueryRunner: total count broken down by $browser (top 10 +
Other), unique persons (DAU), total count. The same rows are exported to Parquet
(properties flattened, person already resolved) and the same aggregations run in
DuckDB in this process. Prints a table, writes bench/results/trends.json.
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

    start_us = int((end - dt.timedelta(days=days)).timestamp() * 1_000_000)
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
                concat('{{"$browser":"', ['Chrome', 'Chrome', 'Chrome', 'Chrome', 'Safari', 'Safari', 'Firefox', 'Edge',
                    'Opera', 'Samsung Internet', 'Brave', 'Vivaldi', 'Yandex', 'UC Browser', ''][1 + cityHash64(p, 2) % 15],
                    '","$current_url":"https://shop.example.com/p/', toString(cityHash64(number, 3) % 500),
                    '","plan":"', ['free', 'free', 'pro', 'enterprise'][1 + p % 4],
                    '","revenue":', toString(cityHash64(number, 4) % 10000 / 100), '}}')::JSON,
                concat('s', toString(p), '-', toString(intDiv(toUnixTimestamp(ts), 1800)))
            FROM (
                SELECT number, cityHash64(number, 0) % {n_persons} AS p,
                    fromUnixTimestamp64Micro(toInt64({start_us} + cityHash64(number, 5) % {span_us}), 'UTC') AS ts
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
        SELECT e.event AS event, e.timestamp AS ts, toString(if(pdi.person_id = toUUID('00000000-0000-0000-0000-000000000000'), e.person_id, pdi.person_id)) AS person_id,
            ifNull(e.properties.`$browser`::Nullable(String), '') AS browser,
            ifNull(e.properties.`$current_url`::Nullable(String), '') AS current_url,
            ifNull(e.properties.plan::Nullable(String), '') AS plan,
            toFloat64OrNull(toString(e.properties.revenue)) AS revenue
        FROM events AS e
        LEFT JOIN (SELECT distinct_id, argMax(person_id, version) AS person_id FROM person_distinct_ids
                   WHERE project_id = {PROJECT_ID} GROUP BY distinct_id) AS pdi ON pdi.distinct_id = e.distinct_id
        WHERE e.project_id = {PROJECT_ID}
        """,
        global_=True,
    )
    return time.perf_counter() - t0


def timed(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", metavar="DIR", help="time again on the data dir of an earlier run (no generation)")
    args = parser.parse_args()

    var = args.reuse or tempfile.mkdtemp(prefix="sextant-bench-trends-")
    setup(var)
    from analytics_app import clickhouse as ch
    from insights.trends.queries import TrendsQueryRunner
    from insights.trends.spec import TrendsSpec

    now = dt.datetime.now(dt.UTC)
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if args.reuse:
        last = ch.query("SELECT max(timestamp) FROM events WHERE project_id = {project_id:UInt32}", {"project_id": PROJECT_ID}).scalar()
        today = (last + dt.timedelta(days=1)).replace(hour=0, minute=0, second=0, microsecond=0)
        gen_s = 0.0
    else:
        print(f"Generating {args.events:,} events, {args.persons:,} persons, {args.days} days in {var} ...", flush=True)
        gen_s = generate(args.events, args.persons, args.days, today)
    count = ch.query("SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": PROJECT_ID}).scalar()
    print(f"  {count:,} events in {gen_s:.1f} s")

    date_from = (today - dt.timedelta(days=args.days)).date().isoformat()
    date_to = (today - dt.timedelta(days=1)).date().isoformat()
    base = {"kind": "TrendsQuery", "interval": "day", "date_from": date_from, "date_to": date_to}
    cases = {
        "count by $browser (top 10 + Other)": {**base, "series": [{"event": "$pageview"}], "breakdown": {"property": "$browser", "limit": 10}},
        "DAU (unique persons)": {**base, "series": [{"event": "$pageview", "math": "dau"}]},
        "total count": {**base, "series": [{"event": "$pageview"}]},
    }
    project = BenchProject()
    sextant = {}
    for name, body in cases.items():
        spec = TrendsSpec.from_json(body)
        TrendsQueryRunner(project, spec).run()  # warm-up
        seconds, result = timed(lambda spec=spec: TrendsQueryRunner(project, spec).run(), args.repeat)
        sextant[name] = {"seconds": seconds, "series": len(result.series), "total": sum(s.total for s in result.series if s.breakdown_value is not None) or result.series[0].total}

    parquet = os.path.join(var, "events.parquet")
    export_s = export_parquet(parquet)
    print(f"  exported Parquet ({os.path.getsize(parquet) / 1e6:.0f} MB) in {export_s:.1f} s")

    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(f"CREATE VIEW ev AS SELECT * FROM read_parquet('{parquet}')")
    start = f"{date_from} 00:00:00"
    end = f"{(today).date().isoformat()} 00:00:00"
    where = f"event = '$pageview' AND ts >= TIMESTAMPTZ '{start}+00' AND ts < TIMESTAMPTZ '{end}+00'"
    duck_sql = {
        "count by $browser (top 10 + Other)": f"""
            WITH top AS (SELECT browser FROM ev WHERE {where} GROUP BY browser ORDER BY count(*) DESC, browser LIMIT 10)
            SELECT date_trunc('day', ts) AS d, CASE WHEN browser IN (SELECT browser FROM top) THEN browser ELSE 'Other' END AS b, count(*)
            FROM ev WHERE {where} GROUP BY GROUPING SETS ((d, b), (b))""",
        "DAU (unique persons)": f"""
            SELECT date_trunc('day', ts) AS d, count(DISTINCT person_id) FROM ev WHERE {where} GROUP BY GROUPING SETS ((d), ())""",
        "total count": f"""
            SELECT date_trunc('day', ts) AS d, count(*) FROM ev WHERE {where} GROUP BY GROUPING SETS ((d), ())""",
    }
    duck = {}
    for name, sql in duck_sql.items():
        con.execute(sql).fetchall()  # warm-up
        seconds, rows = timed(lambda sql=sql: con.execute(sql).fetchall(), args.repeat)
        totals = [r[-1] for r in rows if r[0] is None]
        duck[name] = {"seconds": seconds, "total": sum(totals)}

    print()
    print(f"{'query (90 days, daily)':<38} {'Sextant (chdb)':>15} {'DuckDB parquet':>15} {'ratio':>8}  totals match")
    rows = []
    for name in cases:
        s, d = sextant[name], duck[name]
        ratio = s["seconds"] / d["seconds"] if d["seconds"] else float("inf")
        match = s["total"] == d["total"]
        print(f"{name:<38} {s['seconds'] * 1000:>12.0f} ms {d['seconds'] * 1000:>12.0f} ms {ratio:>7.2f}x  {match} ({s['total']:,})")
        rows.append({"query": name, "sextant_s": round(s["seconds"], 4), "duckdb_s": round(d["seconds"], 4), "ratio": round(ratio, 3),
                     "sextant_total": s["total"], "duckdb_total": d["total"], "under_500ms": s["seconds"] < 0.5})
    out = {
        "when": now.isoformat(), "events": count, "persons": args.persons, "days": args.days, "repeat": args.repeat,
        "generate_s": round(gen_s, 1), "parquet_export_s": round(export_s, 1), "cpu_count": os.cpu_count(),
        "notes": "Sextant resolves person_id through person_distinct_ids at query time; the Parquet file has it resolved already.",
        "results": rows,
    }
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "trends.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote bench/results/trends.json (data dir {var}; delete it when done)")


if __name__ == "__main__":
    main()
