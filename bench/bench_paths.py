"""Paths benchmark: PathsQueryRunner on ~10M events vs DuckDB over the same data in Parquet.

    .venv/bin/python bench/bench_paths.py [--events 10000000] [--persons 200000] [--days 90] [--repeat 3] [--reuse DIR]

Generates sessions in-engine (INSERT ... SELECT FROM numbers() ARRAY JOIN) in a
throwaway chdb directory: each session has 1-12 events a few seconds to minutes
apart; ~88% are $pageview with a $current_url (landing mostly on "/", then pricing,
docs, blog posts and product pages with numeric ids, some with query strings and
trailing slashes), the rest `click`, and about one session in six ends with
`purchase`. 90% of sessions carry a $session_id; the rest rely on the 30-minute split.
Times (median of --repeat after one warm-up), through PathsQueryRunner, with two
cleaning rules (/product/<id> and /blog/<slug>):
  - depth 5 from the landing page "/" (forward),
  - depth 5 back from `purchase` (backward, $pageview + purchase),
and the same two in DuckDB over a Parquet export (person resolved) in this process,
with the same semantics written with window functions; edges are compared.
Prints a table of ratios, writes bench/results/paths.json.
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
CHUNK_SESSIONS = 200_000
AVG_EVENTS_PER_SESSION = 6.5
RULES = [{"regex": r"/product/\d+", "alias": "/product/:id"}, {"regex": r"^/blog/[^/]+$", "alias": "/blog/:slug"}]
PAGES = ["/", "/pricing", "/docs", "/docs/install", "/blog/", "/product/", "/product/", "/product/", "/cart", "/checkout", "/about", "/signup"]


class BenchProject:
    id = pk = PROJECT_ID
    time_zone = "UTC"
    tz = zoneinfo.ZoneInfo("UTC")


def setup(var: str) -> None:
    os.environ["SEXTANT_VAR_DIR"] = var
    os.environ["CLICKHOUSE_URL"] = "chdb://" + os.path.join(var, "chdb")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_app.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ.setdefault("CLICKHOUSE_MAX_EXECUTION_TIME", "600")  # the machine is shared; do not time out
    import django

    django.setup()
    from analytics_app.clickhouse import migrate

    migrate.run()


def generate(n_events: int, n_persons: int, days: int, start: dt.datetime) -> float:
    from analytics_app import clickhouse as ch

    start_s = int(start.timestamp())
    n_sessions = int(n_events / AVG_EVENTS_PER_SESSION)
    pages = "[" + ", ".join(f"'{p}'" for p in PAGES) + "]"
    t0 = time.perf_counter()
    for offset in range(0, n_sessions, CHUNK_SESSIONS):
        size = min(CHUNK_SESSIONS, n_sessions - offset)
        # Bench-only statement: every number below is an int from argparse, not request data.
        ch.command(
            f"""
            INSERT INTO events (uuid, project_id, event, distinct_id, person_id, timestamp, properties, session_id)
            SELECT generateUUIDv4(s * 16 + i), {PROJECT_ID}, ev,
                concat('u', toString(p)), reinterpretAsUUID(toFixedString(MD5(concat('p', toString(p))), 16)),
                toDateTime64(t0 + i * (5 + cityHash64(s, i, 3) % 90) + i * i, 6, 'UTC'),
                if(ev = '$pageview',
                   concat('{{"$current_url":"https://shop.example.com', page,
                          if(cityHash64(s, i, 4) % 4 = 0, '?utm_source=news', ''), '"}}'),
                   '{{}}')::JSON,
                if(cityHash64(s, 9) % 10 = 0, '', concat('s', toString(s)))
            FROM (
                SELECT s, p, n, t0, i,
                    multiIf(i = n - 1 AND cityHash64(s, 8) % 6 = 0, 'purchase', cityHash64(s, i, 2) % 8 = 0, 'click', '$pageview') AS ev,
                    multiIf(i = 0, ['/', '/', '/', '/pricing', '/blog/', '/product/'][1 + cityHash64(s, 5) % 6],
                            {pages}[1 + cityHash64(s, i, 6) % {len(PAGES)}]) AS base,
                    multiIf(base = '/product/', concat(base, toString(cityHash64(s, i, 7) % 5000)),
                            base = '/blog/', concat(base, 'post-', toString(cityHash64(s, i, 7) % 300), if(i % 2 = 0, '/', '')),
                            base) AS page
                FROM (
                    SELECT number AS s, cityHash64(number, 1) % {n_persons} AS p, 1 + cityHash64(number, 2) % 12 AS n,
                        {start_s} + cityHash64(number, 3) % {days * 86400} AS t0
                    FROM numbers({offset}, {size})
                )
                ARRAY JOIN range(n) AS i
            )
            """,
            global_=True,
        )
        print(f"  generated {offset + size:,} sessions", flush=True)
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
        SELECT toString(e.uuid) AS uuid, e.event AS event, e.timestamp AS ts, e.session_id AS session_id, e.mat_current_url AS current_url,
            toString(if(pdi.person_id = toUUID('00000000-0000-0000-0000-000000000000'), e.person_id, pdi.person_id)) AS person_id
        FROM events AS e
        LEFT JOIN (SELECT distinct_id, argMax(person_id, version) AS person_id FROM person_distinct_ids
                   WHERE project_id = {PROJECT_ID} GROUP BY distinct_id) AS pdi ON pdi.distinct_id = e.distinct_id
        WHERE e.project_id = {PROJECT_ID}
        """,
        global_=True,
    )
    return time.perf_counter() - t0


def duck_sql(parquet: str, start: dt.datetime, end: dt.datetime, *, events: list[str], start_point=None, end_point=None, limit=5) -> str:
    """The same semantics in DuckDB (window functions): node, cleaning, sessions, 30-minute
    split, collapse, cut, edges (top 50) plus per-node sessions for drop-off."""
    url_path = "regexp_extract(current_url, '^[a-z]+://[^/?#]*([^?#]*)', 1)"
    node = f"CASE WHEN event = '$pageview' THEN (CASE WHEN rtrim({url_path}, '/') = '' THEN '/' ELSE rtrim({url_path}, '/') END) ELSE event END"
    for rule in RULES:
        node = f"regexp_replace({node}, '{rule['regex']}', '{rule['alias']}', 'g')"
    ev_list = ", ".join(f"'{e}'" for e in events)
    if end_point:
        anchor, keep = f"node = '{end_point}'", f"i <= a AND i > a - {limit}"
        step = f"{limit} - (a - i)"
    else:
        anchor, keep = f"node = '{start_point}'", f"i >= a AND i < a + {limit}"
        step = "i - a + 1"
    return f"""
    WITH ev AS (
        SELECT CASE WHEN session_id <> '' THEN session_id ELSE 'p' || person_id END AS k, session_id, ts, uuid, {node} AS node
        FROM read_parquet('{parquet}')
        WHERE event IN ({ev_list}) AND ts >= TIMESTAMPTZ '{start.isoformat()}' AND ts < TIMESTAMPTZ '{end.isoformat()}'
          AND NOT (event = '$pageview' AND current_url = '')
    ),
    gaps AS (SELECT *, lag(ts) OVER (PARTITION BY k ORDER BY ts, uuid) AS prev_ts FROM ev),
    parts AS (
        SELECT *, sum(CASE WHEN session_id = '' AND prev_ts IS NOT NULL AND ts - prev_ts > INTERVAL 30 MINUTE THEN 1 ELSE 0 END)
                  OVER (PARTITION BY k ORDER BY ts, uuid ROWS UNBOUNDED PRECEDING) AS part
        FROM gaps
    ),
    runs AS (SELECT *, lag(node) OVER (PARTITION BY k, part ORDER BY ts, uuid) AS prev_node FROM parts),
    seq AS (
        SELECT k, part, ts, node, row_number() OVER (PARTITION BY k, part ORDER BY ts, uuid) AS i
        FROM runs WHERE prev_node IS NULL OR prev_node <> node
    ),
    anchors AS (SELECT k, part, min(i) AS a FROM seq WHERE {anchor} GROUP BY k, part),
    path AS (SELECT seq.k, seq.part, seq.ts, seq.node, {step} AS step FROM seq JOIN anchors USING (k, part) WHERE {keep}),
    steps AS (
        SELECT k, part, step, step || '_' || node AS source, ts,
            lead(step || '_' || node) OVER w AS target, lead(ts) OVER w AS next_ts
        FROM path WINDOW w AS (PARTITION BY k, part ORDER BY step)
    ),
    edges AS (
        SELECT source, coalesce(target, '') AS target, count(*) AS value,
            avg(CASE WHEN target IS NULL THEN 0 ELSE epoch(next_ts) - epoch(ts) END) AS avg_seconds
        FROM steps GROUP BY ALL
    )
    SELECT source, target, value, avg_seconds FROM (
        SELECT * FROM edges WHERE target <> '' ORDER BY value DESC, source, target LIMIT 50
    )
    UNION ALL
    SELECT source, '' AS target, sum(value), 0 FROM edges GROUP BY source
    """


def timed(fn, repeat: int) -> tuple[float, list[float], object]:
    fn()  # warm-up
    times, out = [], None
    for _ in range(repeat):
        t0 = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times), times, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--reuse", metavar="DIR", help="time again on the data dir of an earlier run (no generation)")
    args = parser.parse_args()

    var = args.reuse or tempfile.mkdtemp(prefix="sextant-bench-paths-")
    setup(var)
    from analytics_app import clickhouse as ch
    from paths.queries import PathsQueryRunner
    from paths.spec import PathsSpec

    now = dt.datetime.now(dt.UTC)
    end = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
    start = end - dt.timedelta(days=args.days)
    if args.reuse:
        gen_s = 0.0
    else:
        print(f"Generating ~{args.events:,} events, {args.persons:,} persons, {args.days} days in {var} ...", flush=True)
        gen_s = generate(args.events, args.persons, args.days, start)
    count = ch.query("SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": PROJECT_ID}).scalar()
    print(f"  {count:,} events in {gen_s:.1f} s", flush=True)

    common = {"kind": "PathsQuery", "date_from": start.isoformat(), "date_to": end.isoformat(), "step_limit": 5, "path_cleaning": RULES}
    cases = {
        "depth 5 from landing page /": ({**common, "start_point": "/"}, {"events": ["$pageview"], "start_point": "/"}),
        "depth 5 back from purchase": (
            {**common, "end_point": "purchase", "include_event_types": ["$pageview", "purchase"]},
            {"events": ["$pageview", "purchase"], "end_point": "purchase"},
        ),
    }
    project = BenchProject()
    sextant = {}
    for name, (body, _) in cases.items():
        spec = PathsSpec.from_json(body)
        seconds, runs, result = timed(lambda spec=spec: PathsQueryRunner(project, spec, rules=spec.path_cleaning).run(), args.repeat)
        sextant[name] = {"seconds": seconds, "runs": runs, "edges": [(e.source, e.target, e.value) for e in result.edges], "sessions": result.sessions}
        print(f"  sextant {name}: {seconds * 1000:.0f} ms (runs {[round(r, 3) for r in runs]}), {result.sessions:,} sessions", flush=True)

    parquet = os.path.join(var, "events.parquet")
    export_s = export_parquet(parquet)
    print(f"  exported Parquet ({os.path.getsize(parquet) / 1e6:.0f} MB) in {export_s:.1f} s", flush=True)

    import duckdb

    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute("SET threads = 2")
    duck = {}
    for name, (_, kw) in cases.items():
        sql = duck_sql(parquet, start, end, **kw)
        seconds, runs, rows = timed(lambda sql=sql: con.execute(sql).fetchall(), args.repeat)
        edges = [(s, t, v) for s, t, v, _ in rows if t != ""]
        sessions = sum(v for s, t, v, _ in rows if t == "" and s.startswith("1_")) if kw.get("start_point") else None
        duck[name] = {"seconds": seconds, "runs": runs, "edges": edges, "sessions": sessions}
        print(f"  duckdb {name}: {seconds * 1000:.0f} ms (runs {[round(r, 3) for r in runs]})", flush=True)

    print()
    print(f"{'query':<32} {'Sextant (chdb)':>15} {'DuckDB parquet':>15} {'ratio':>8}  edges match")
    rows = []
    for name in cases:
        s, d = sextant[name], duck[name]
        ratio = s["seconds"] / d["seconds"] if d["seconds"] else float("inf")
        match = s["edges"] == d["edges"]
        print(f"{name:<32} {s['seconds'] * 1000:>12.0f} ms {d['seconds'] * 1000:>12.0f} ms {ratio:>7.2f}x  {match} ({len(s['edges'])} edges)")
        rows.append({
            "query": name, "sextant_s": round(s["seconds"], 4), "sextant_runs": [round(r, 4) for r in s["runs"]],
            "duckdb_s": round(d["seconds"], 4), "duckdb_runs": [round(r, 4) for r in d["runs"]], "ratio": round(ratio, 3),
            "edges_match": match, "sessions": s["sessions"], "under_1s": s["seconds"] < 1.0,
        })
    out = {
        "when": now.isoformat(), "events": count, "persons": args.persons, "days": args.days, "repeat": args.repeat,
        "generate_s": round(gen_s, 1), "parquet_export_s": round(export_s, 1), "cpu_count": os.cpu_count(),
        "load_average": os.getloadavg(),
        "notes": "Median of --repeat after a warm-up. Sextant resolves person_id through person_distinct_ids at query "
                 "time and also computes drop-off per node; the Parquet file has the person resolved already. "
                 "The machine is shared (other engineers' jobs): compare ratios, not absolute times. "
                 "`edges_match` compares the top-50 (source, target, sessions) lists of both engines.",
        "results": rows,
    }
    (ROOT / "bench" / "results").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "results" / "paths.json").write_text(json.dumps(out, indent=2) + "\n")
    print(f"\nwrote bench/results/paths.json (data dir {var}; delete it when done)")


if __name__ == "__main__":
    main()
