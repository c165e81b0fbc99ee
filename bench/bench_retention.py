"""Retention benchmark: RetentionQueryRunner on ~10M events vs DuckDB over the same data in Parquet.

    .venv/bin/python bench/bench_retention.py [--events 10000000] [--persons 200000] [--days 90] [--repeat 3] [--reuse DIR]

Generates events in-engine (INSERT ... SELECT FROM numbers()) in a throwaway chdb
directory: every person has a first-seen day and activity decaying from it
(exponential, mean 14 days, wrapping at the end of the 90 days), 8 event names,
a person_distinct_ids row and a persons row with a `plan` property per person.
Times (median of --repeat, after one warm-up) the 30-day daily matrix and the
12-week weekly matrix, first_time and recurring, and one weekly matrix broken
down by the person property `plan`, through RetentionQueryRunner. The same rows are
exported to Parquet (person resolved, plan joined) and the same matrices computed in
DuckDB in this process; the sum of every matrix cell is compared. Prints a table of
ratios, writes bench/results/retention.json.
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


def generate(n_events: int, n_persons: int, days: int, start: dt.datetime) -> float:
    from analytics_app import clickhouse as ch

    start_s = int(start.timestamp())
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
                concat('{{"$browser":"', ['Chrome', 'Safari', 'Firefox', 'Edge'][1 + cityHash64(p, 2) % 4], '"}}')::JSON,
                concat('s', toString(p), '-', toString(intDiv(toUnixTimestamp(ts), 1800)))
            FROM (
                SELECT number, p,
                    toDateTime64({start_s} + ((cityHash64(p, 7) % {days}
                        + toUInt32(-log((cityHash64(number, 6) % 1000000 + 1) / 1000001.0) * 14)) % {days}) * 86400
                        + cityHash64(number, 5) % 86400, 6, 'UTC') AS ts
                FROM (SELECT number, cityHash64(number, 0) % {n_persons} AS p FROM numbers({offset}, {size}))
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
    ch.command(
        f"""
        INSERT INTO persons (project_id, id, created_at, properties, version)
        SELECT {PROJECT_ID}, reinterpretAsUUID(toFixedString(MD5(concat('p', toString(number))), 16)), now64(3),
            concat('{{"plan":"', ['free', 'free', 'pro', 'enterprise'][1 + number % 4], '"}}'), 1
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
            JSONExtractString(pp.properties, 'plan') AS plan
        FROM events AS e
        LEFT JOIN (SELECT distinct_id, argMax(person_id, version) AS person_id FROM person_distinct_ids
                   WHERE project_id = {PROJECT_ID} GROUP BY distinct_id) AS pdi ON pdi.distinct_id = e.distinct_id
        LEFT JOIN (SELECT id, argMax(properties, version) AS properties FROM persons WHERE project_id = {PROJECT_ID} GROUP BY id) AS pp
            ON pp.id = if(pdi.person_id = toUUID('00000000-0000-0000-0000-000000000000'), e.person_id, pdi.person_id)
        WHERE e.project_id = {PROJECT_ID}
        """,
        global_=True,
    )
    return time.perf_counter() - t0


def duck_sql(parquet: str, period: str, start: dt.date, end: dt.date, total: int, first_time: bool, breakdown: bool) -> str:
    """The same matrix in DuckDB: cohort index, offset, (plan), persons."""
    unit = {"day": "day", "week": "week"}[period]
    bv = "plan" if breakdown else "''"
    start_ts = f"TIMESTAMPTZ '{start.isoformat()} 00:00:00+00'"
    end_ts = f"TIMESTAMPTZ '{end.isoformat()} 00:00:00+00'"
    idx = f"date_diff('{unit}', DATE '{start.isoformat()}', CAST(date_trunc('{unit}', ts) AS DATE))"
    n = date_diff_periods(period, start, end)
    if first_time:
        cohorts = f"""SELECT person_id, any_value(bv) AS bv, {idx.replace('ts', 'min(ts)')} AS c
                      FROM (SELECT person_id, ts, {bv} AS bv FROM read_parquet('{parquet}') WHERE event = '$pageview' AND ts < {end_ts})
                      GROUP BY person_id HAVING min(ts) >= {start_ts}"""
    else:
        cohorts = f"""SELECT DISTINCT person_id, {bv} AS bv, {idx} AS c FROM read_parquet('{parquet}')
                      WHERE event = '$pageview' AND ts >= {start_ts} AND ts < {end_ts}"""
    returns = f"""SELECT DISTINCT person_id, {idx} AS r FROM read_parquet('{parquet}')
                  WHERE event = '$pageview' AND ts >= {start_ts} AND ts < {end_ts}"""
    return f"""
        WITH co AS ({cohorts}), re AS ({returns})
        SELECT c, 0 AS k, bv, count(*) FROM co GROUP BY c, bv
        UNION ALL
        SELECT co.c, re.r - co.c AS k, co.bv, count(*) FROM co JOIN re ON re.person_id = co.person_id
        WHERE re.r > co.c AND re.r - co.c < {total} AND re.r < {n}
        GROUP BY co.c, k, co.bv
    """


def date_diff_periods(period: str, start: dt.date, end: dt.date) -> int:
    return (end - start).days // (1 if period == "day" else 7)


def timed(fn, repeat: int) -> tuple[float, object]:
    fn()  # warm-up
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

    var = args.reuse or tempfile.mkdtemp(prefix="sextant-bench-retention-")
    setup(var)
    from analytics_app import clickhouse as ch
    from retention.queries import RetentionQueryRunner
    from retention.spec import RetentionSpec

    now = dt.datetime.now(dt.UTC)
    # A Monday, so 12 weekly periods end exactly on the data's last day.
    end = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    start = end - dt.timedelta(days=args.days)
    if args.reuse:
        gen_s = 0.0
    else:
        print(f"Generating {args.events:,} events, {args.persons:,} persons, {args.days} days in {var} ...", flush=True)
        gen_s = generate(args.events, args.persons, args.days, start)
    count = ch.query("SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": PROJECT_ID}).scalar()
    print(f"  {count:,} events in {gen_s:.1f} s", flush=True)

    daily_from = (end - dt.timedelta(days=30)).date()
    weekly_from = (end - dt.timedelta(weeks=12)).date()
    last_day = (end - dt.timedelta(days=1)).date().isoformat()
    cases = {
        "30-day daily, recurring": ("day", daily_from, 30, "recurring", False),
        "30-day daily, first_time": ("day", daily_from, 30, "first_time", False),
        "12-week weekly, recurring": ("week", weekly_from, 12, "recurring", False),
        "12-week weekly, first_time": ("week", weekly_from, 12, "first_time", False),
        "12-week weekly, recurring, by person plan": ("week", weekly_from, 12, "recurring", True),
    }
    project = BenchProject()
    sextant = {}
    for name, (period, date_from, total, kind, breakdown) in cases.items():
        body = {"kind": "RetentionQuery", "period": period, "date_from": date_from.isoformat(), "date_to": last_day,
                "total_intervals": total, "retention_type": kind, "target_event": {"event": "$pageview"}}
        if breakdown:
            body["breakdown"] = {"property": "plan", "type": "person"}
        spec = RetentionSpec.from_json(body)
        seconds, result = timed(lambda spec=spec: RetentionQueryRunner(project, spec).run(), args.repeat)
        cells = sum(sum(r.values) for r in result.rows)
        sextant[name] = {"seconds": seconds, "cells": cells, "rows": len(result.rows)}
        print(f"  sextant {name}: {seconds * 1000:.0f} ms", flush=True)

    parquet = os.path.join(var, "events.parquet")
    export_s = export_parquet(parquet)
    print(f"  exported Parquet ({os.path.getsize(parquet) / 1e6:.0f} MB) in {export_s:.1f} s", flush=True)

    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET threads = 2")
    duck = {}
    for name, (period, date_from, total, kind, breakdown) in cases.items():
        sql = duck_sql(parquet, period, date_from, end.date(), total, kind == "first_time", breakdown)
        seconds, rows = timed(lambda sql=sql: con.execute(sql).fetchall(), args.repeat)
        duck[name] = {"seconds": seconds, "cells": sum(r[-1] for r in rows)}
        print(f"  duckdb {name}: {seconds * 1000:.0f} ms", flush=True)

    print()
    print(f"{'query':<44} {'Sextant (chdb)':>15} {'DuckDB parquet':>15} {'ratio':>8}  cells match")
    rows = []
    for name in cases:
        s, d = sextant[name], duck[name]
        ratio = s["seconds"] / d["seconds"] if d["seconds"] else float("inf")
        match = s["cells"] == d["cells"]
        print(f"{name:<44} {s['seconds'] * 1000:>12.0f} ms {d['seconds'] * 1000:>12.0f} ms {ratio:>7.2f}x  {match} ({s['cells']:,})")
        rows.append({"query": name, "sextant_s": round(s["seconds"], 4), "duckdb_s": round(d["seconds"], 4), "ratio": round(ratio, 3),
                     "sextant_cells": s["cells"], "duckdb_cells": d["cells"], "under_1s": s["seconds"] < 1.0})
    out = {
        "when": now.isoformat(), "events": count, "persons": args.persons, "days": args.days, "repeat": args.repeat,
        "generate_s": round(gen_s, 1), "parquet_export_s": round(export_s, 1), "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "notes": "Median of --repeat after a warm-up. Sextant resolves person_id through person_distinct_ids and "
                 "person properties through persons at query time; the Parquet file has both resolved already. "
                 "The machine is shared (other engineers' jobs): compare ratios, not absolute times. "
                 "`cells` is the sum of every matrix value (cohort sizes + returns), compared between the engines.",
        "results": rows,
    }
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "retention.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote bench/results/retention.json (data dir {var}; delete it when done)")


if __name__ == "__main__":
    main()
