"""Funnels benchmark: FunnelQueryRunner / FunnelActorsQueryRunner on generated data, vs DuckDB.

    .venv/bin/python bench/bench_funnels.py [--events 10000000] [--persons 200000] [--days 90] [--repeat 3]
        [--reuse DIR] [--only SUBSTRING ...] [--out NAME]

--reuse DIR reopens a directory made by an earlier run (its generated events, its
Parquet export and its bench.json parameters) instead of generating again; the
directory is printed at the start of every run and kept.

Generates events in-engine (INSERT ... SELECT FROM numbers(): $pageview, click,
settings_changed and the funnel events signup / activate / purchase, JSON properties
$browser and plan, a session id per person and half hour, a person_distinct_ids row
per person) in a throwaway chdb directory, then times (median of --repeat) a 4-step
ordered funnel ($pageview -> signup -> activate -> purchase, 14-day window) in its
variants. The same rows are exported to Parquet (person resolved) and the plain
funnel's counts are computed in DuckDB with a chained ASOF JOIN (greedy earliest next
step) in the same run; the counts must agree. Prints a table, writes
bench/results/funnels.json.
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
STEPS = ["$pageview", "signup", "activate", "purchase"]


class BenchProject:
    id = pk = PROJECT_ID
    time_zone = "UTC"
    name = "bench"
    tz = zoneinfo.ZoneInfo("UTC")


def setup(var: str) -> None:
    os.environ["SEXTANT_VAR_DIR"] = var
    os.environ["CLICKHOUSE_URL"] = "chdb://" + os.path.join(var, "chdb")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_app.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("CLICKHOUSE_MAX_EXECUTION_TIME", "900")  # the old engine needs minutes at 10M on a loaded machine
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
        # Event mix per 1000: 450 $pageview, 250 click, 250 settings_changed, 25 signup, 15 activate, 10 purchase.
        ch.command(
            f"""
            INSERT INTO events (uuid, project_id, event, distinct_id, person_id, timestamp, properties, session_id)
            SELECT generateUUIDv4(number), {PROJECT_ID},
                multiIf(r < 450, '$pageview', r < 700, 'click', r < 950, 'settings_changed',
                        r < 975, 'signup', r < 990, 'activate', 'purchase'),
                concat('u', toString(p)),
                reinterpretAsUUID(toFixedString(MD5(concat('p', toString(p))), 16)),
                ts,
                concat('{{"$browser":"', ['Chrome', 'Chrome', 'Chrome', 'Safari', 'Safari', 'Firefox', 'Edge', ''][1 + cityHash64(p, 2) % 8],
                    '","plan":"', ['free', 'free', 'pro', 'enterprise'][1 + cityHash64(number, 6) % 4], '"}}')::JSON,
                concat('s', toString(p), '-', toString(intDiv(toUnixTimestamp(ts), 1800)))
            FROM (
                SELECT number, cityHash64(number, 0) % {n_persons} AS p, cityHash64(number, 1) % 1000 AS r,
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
        SELECT e.event AS event, e.timestamp AS ts,
            toString(if(pdi.person_id = toUUID('00000000-0000-0000-0000-000000000000'), e.person_id, pdi.person_id)) AS person_id
        FROM events AS e
        LEFT JOIN (SELECT distinct_id, argMax(person_id, version) AS person_id FROM person_distinct_ids
                   WHERE project_id = {PROJECT_ID} GROUP BY distinct_id) AS pdi ON pdi.distinct_id = e.distinct_id
        WHERE e.project_id = {PROJECT_ID} AND e.event IN ('$pageview', 'signup', 'activate', 'purchase')
        """,
        global_=True,
    )
    return time.perf_counter() - t0


def duckdb_funnel(path: str, start: dt.datetime, end: dt.datetime, window_days: int):
    import duckdb

    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute(f"CREATE TABLE ev AS SELECT person_id, ts, event FROM read_parquet('{path}')")
    sql = f"""
    WITH s1 AS (SELECT person_id, ts FROM ev WHERE event = '$pageview' AND ts >= TIMESTAMPTZ '{start.isoformat()}' AND ts < TIMESTAMPTZ '{end.isoformat()}'),
    s2 AS (SELECT person_id, ts FROM ev WHERE event = 'signup'),
    s3 AS (SELECT person_id, ts FROM ev WHERE event = 'activate'),
    s4 AS (SELECT person_id, ts FROM ev WHERE event = 'purchase'),
    chain AS (SELECT s1.person_id, s1.ts t1, s2.ts t2, s3.ts t3, s4.ts t4 FROM s1
      ASOF LEFT JOIN s2 ON s1.person_id = s2.person_id AND s2.ts >= s1.ts
      ASOF LEFT JOIN s3 ON s2.person_id = s3.person_id AND s3.ts >= s2.ts
      ASOF LEFT JOIN s4 ON s3.person_id = s4.person_id AND s4.ts >= s3.ts),
    lvl AS (SELECT person_id, max(CASE WHEN t4 <= t1 + INTERVAL {window_days} DAY THEN 4 WHEN t3 <= t1 + INTERVAL {window_days} DAY THEN 3
                                       WHEN t2 <= t1 + INTERVAL {window_days} DAY THEN 2 ELSE 1 END) level FROM chain GROUP BY person_id)
    SELECT count(*) FILTER (WHERE level >= 1), count(*) FILTER (WHERE level >= 2), count(*) FILTER (WHERE level >= 3),
           count(*) FILTER (WHERE level >= 4) FROM lvl
    """
    return con, sql


def timed(fn, repeat: int):
    runs, value = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        value = fn()
        runs.append(time.perf_counter() - t0)
    return statistics.median(runs), runs, value


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", metavar="DIR", help="a directory from an earlier run: skip generation")
    parser.add_argument("--only", nargs="*", default=None, help="run only variants whose name contains one of these")
    parser.add_argument("--out", default="funnels", help="bench/results/<OUT>.json")
    args = parser.parse_args()

    if args.reuse:
        var = os.path.abspath(args.reuse)
        meta = json.loads(Path(var, "bench.json").read_text())
        args.events, args.persons, args.days = meta["events"], meta["persons"], meta["days"]
        end = dt.datetime.fromisoformat(meta["end"])
        setup(var)
        gen_s = meta["generation_s"]
        print(f"reusing {args.events:,} events for {args.persons:,} persons over {args.days} days in {var}", flush=True)
    else:
        var = tempfile.mkdtemp(prefix="sextant-bench-funnels-")
        setup(var)
        end = dt.datetime.now(dt.UTC).replace(microsecond=0)
        print(f"generating {args.events:,} events for {args.persons:,} persons over {args.days} days in {var}", flush=True)
        gen_s = generate(args.events, args.persons, args.days, end)
        meta = {"events": args.events, "persons": args.persons, "days": args.days, "end": end.isoformat(), "generation_s": gen_s}
        Path(var, "bench.json").write_text(json.dumps(meta))
    from funnels.queries import FunnelActorsQueryRunner, FunnelQueryRunner
    from funnels.spec import FunnelActorsSpec, FunnelSpec

    start = end - dt.timedelta(days=args.days)
    project = BenchProject()
    base = {
        "kind": "FunnelsQuery", "date_from": start.isoformat(), "date_to": end.isoformat(),
        "steps": [{"event": e} for e in STEPS], "window": {"value": 14, "unit": "day"},
    }
    variants = {
        "ordered, counts only (auto: windowFunnel)": ({**base, "conversion_times": False}, "auto"),
        "ordered, counts only (arrays engine)": ({**base, "conversion_times": False}, "arrays"),
        "ordered + conversion times": (base, "auto"),
        "ordered + breakdown $browser + times": ({**base, "breakdown": {"property": "$browser"}}, "auto"),
        "ordered + breakdown, last touch": ({**base, "breakdown": {"property": "plan", "attribution": "last_touch"}}, "auto"),
        "ordered + exclusion": ({**base, "exclusions": [{"event": "settings_changed", "from_step": 1, "to_step": 2}]}, "auto"),
        "strict (every event read)": ({**base, "order": "strict"}, "auto"),
        "unordered": ({**base, "order": "unordered"}, "auto"),
    }
    variants["actors: dropped at step 3, first 100"] = (None, "arrays")
    if args.only:
        keep = {k for k in variants if any(o in k for o in args.only)}
        variants = {k: v for k, v in variants.items() if k in keep or k.startswith("ordered, counts only (auto")}
    rows, reference_counts = [], None
    for name, (body, engine) in variants.items():
        if body is None:
            continue
        spec = FunnelSpec.from_json(body, project)
        runner = FunnelQueryRunner(project, spec, engine=engine)
        median, runs, result = timed(lambda r=runner: r.run(), args.repeat)
        counts = [s.count for s in result.results[0].steps] if spec.breakdown is None else None
        if name.startswith("ordered, counts only (auto"):
            reference_counts = counts
        rows.append({"variant": name, "engine": result.engine, "median_s": median, "runs_s": runs, "counts": counts})
        print(f"  {name:45s} {median:7.3f} s  {result.engine:12s} {counts}", flush=True)
    if "actors: dropped at step 3, first 100" in variants:
        actors_spec = FunnelActorsSpec.from_json({**base, "kind": "FunnelsActorsQuery", "step": 2, "status": "dropped", "limit": 100}, project)
        median, runs, actors = timed(lambda: FunnelActorsQueryRunner(project, actors_spec).run(), args.repeat)
        rows.append({"variant": "actors: dropped at step 3, first 100", "engine": "arrays", "median_s": median, "runs_s": runs, "counts": [actors.total]})
        print(f"  {'actors: dropped at step 3, first 100':45s} {median:7.3f} s  total {actors.total:,}", flush=True)

    parquet = os.path.join(var, "funnel_events.parquet")
    export_s = 0.0
    if not os.path.exists(parquet):
        export_s = export_parquet(parquet)
    con, sql = duckdb_funnel(parquet, start, end, 14)
    duck_median, duck_runs, duck_counts = timed(lambda: list(con.execute(sql).fetchone()), args.repeat)
    agree = duck_counts == reference_counts
    plain = rows[0]["median_s"]

    print()
    print(f"{'variant':48s} {'engine':13s} {'median s':>9s} {'vs plain':>9s} {'vs DuckDB':>10s}")
    for r in rows:
        print(f"{r['variant']:48s} {r['engine']:13s} {r['median_s']:9.3f} {r['median_s'] / plain:9.2f} {r['median_s'] / duck_median:10.2f}")
    print(f"{'DuckDB chained ASOF JOIN (counts)':48s} {'duckdb':13s} {duck_median:9.3f} {duck_median / plain:9.2f} {1:10.2f}")
    print(f"\ncounts: sextant {reference_counts}  duckdb {duck_counts}  agree={agree}")
    print(f"generation {gen_s:.1f} s, parquet export {export_s:.1f} s")

    out = {
        "events": args.events, "persons": args.persons, "days": args.days, "repeat": args.repeat,
        "generated_at": dt.datetime.now(dt.UTC).isoformat(), "generation_s": gen_s, "parquet_export_s": export_s,
        "dir": var, "variants": rows,
        "duckdb": {"median_s": duck_median, "runs_s": duck_runs, "counts": duck_counts, "agree": agree},
        "load_average": os.getloadavg(),
    }
    results = ROOT / "bench" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / f"{args.out}.json").write_text(json.dumps(out, indent=2, default=str))
    print(f"wrote {results / (args.out + '.json')}")


if __name__ == "__main__":
    main()
