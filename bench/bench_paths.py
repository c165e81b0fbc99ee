"""Paths benchmark: PathsQueryRunner on ~10M events vs DuckDB over the same data in Parquet.

    .venv/bin/python bench/bench_paths.py [--events 10000000] [--persons 200000] [--days 90] [--repeat 3] [--reuse DIR]
        [--events-path]

Generates sessions with bench/common.py's generator in a throwaway chdb directory:
each session has 1-12 events 1-79 s apart, landing with a $pageview mostly on "/",
then pricing, docs, blog posts and product pages with numeric ids (some with query
strings and trailing slashes), $autocapture, signed_up, ...; about one session in six
ends with `purchase`. 90% of sessions carry a $session_id; the rest rely on the
30-minute split. Times (median of --repeat after one warm-up), through
PathsQueryRunner, with two cleaning rules (/product/<id> and /blog/<slug>):
  - depth 5 from the landing page "/" (forward, $pageview),
  - depth 5 back from `purchase` (backward, $pageview + purchase),
and the same two in DuckDB over a Parquet export (person resolved) in this process,
with the same semantics written with window functions; edges are compared.
Sextant reads the sessions with a $session_id from the pre-grouped session_paths table
(migration 0005); --events-path also times the query over the events table
(session_table=False) in the same run, alternating with the table path per query.
Prints a table of ratios, writes bench/results/paths.json.
"""

from __future__ import annotations

import datetime as dt
import os

import common

END = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def timed_cpu(fn, repeat: int):
    """common.timed and its median CPU seconds per run (both engines run in-process: less
    sensitive to other jobs on a shared machine than wall time)."""
    t = common.timed(fn, repeat)
    return t, t.cpu


def duck_sql(
    parquet: str,
    start: dt.datetime,
    end: dt.datetime,
    *,
    events: list[str],
    start_point=None,
    end_point=None,
    limit=5,
) -> str:
    """The same semantics in DuckDB (window functions): node, cleaning, sessions, 30-minute
    split, collapse, cut, edges (top 50) plus per-node sessions for drop-off."""
    url_path = "regexp_extract(current_url, '^[a-z]+://[^/?#]*([^?#]*)', 1)"
    node = f"CASE WHEN event = '$pageview' THEN (CASE WHEN rtrim({url_path}, '/') = '' THEN '/' ELSE rtrim({url_path}, '/') END) ELSE event END"
    for rule in common.PATH_RULES:
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


def main() -> None:
    parser = common.data_parser(__doc__, days=90)
    parser.add_argument(
        "--events-path",
        action="store_true",
        help="also time the query over the events table (without session_paths / path_node_keys)",
    )
    args = parser.parse_args()
    data = common.load_or_generate(args, "paths", END)
    from paths.queries import PathsQueryRunner
    from paths.spec import PathsSpec

    end = data.end
    start = end - dt.timedelta(days=args.days)
    base = {
        "kind": "PathsQuery",
        "date_from": start.isoformat(),
        "date_to": end.isoformat(),
        "step_limit": 5,
        "path_cleaning": common.PATH_RULES,
    }
    cases = {
        "depth 5 from landing page /": (
            {**base, "start_point": "/"},
            {"events": ["$pageview"], "start_point": "/"},
        ),
        "depth 5 back from purchase": (
            {**base, "end_point": "purchase", "include_event_types": ["$pageview", "purchase"]},
            {"events": ["$pageview", "purchase"], "end_point": "purchase"},
        ),
    }
    project = common.BenchProject()
    sextant, events_path = {}, {}
    for name, (body, _) in cases.items():
        spec = PathsSpec.from_json(body)
        if args.events_path:
            t, cpu = timed_cpu(
                lambda spec=spec: PathsQueryRunner(
                    project, spec, rules=spec.path_cleaning, session_table=False
                ).run(),
                args.repeat,
            )
            events_path[name] = {"seconds": t.median, "runs": t.runs, "cpu": cpu, "result": t.value.to_json()}
            print(
                f"  sextant (events table) {name}: {common.ms(t.median)} (runs {[round(r, 3) for r in t.runs]}, "
                f"cpu {common.ms(cpu)}/run), load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
        t, cpu = timed_cpu(
            lambda spec=spec: PathsQueryRunner(project, spec, rules=spec.path_cleaning).run(), args.repeat
        )
        result = t.value
        if args.events_path:
            events_path[name]["same_result"] = events_path[name].pop("result") == result.to_json()
        sextant[name] = {
            "seconds": t.median,
            "runs": t.runs,
            "edges": [(e.source, e.target, e.value) for e in result.edges],
            "sessions": result.sessions,
            "cpu": cpu,
        }
        print(
            f"  sextant {name}: {common.ms(t.median)} (runs {[round(r, 3) for r in t.runs]}, cpu {common.ms(cpu)}/run), "
            f"{result.sessions:,} sessions, load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )

    parquet = f"{data.dir}/events.parquet"
    export_s = common.export_parquet(parquet)
    con = common.duckdb_connect(threads=2)
    duck = {}
    for name, (_, kw) in cases.items():
        sql = duck_sql(parquet, start, end, **kw)
        t, cpu = timed_cpu(lambda sql=sql: con.execute(sql).fetchall(), args.repeat)
        edges = [(s, tg, v) for s, tg, v, _ in t.value if tg != ""]
        duck[name] = {"seconds": t.median, "runs": t.runs, "edges": edges, "cpu": cpu}
        print(
            f"  duckdb {name}: {common.ms(t.median)} (runs {[round(r, 3) for r in t.runs]}, cpu {common.ms(cpu)}/run), "
            f"load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )

    print()
    table, rows = [], []
    for name in cases:
        s, d = sextant[name], duck[name]
        ratio = common.ratio(s["seconds"], d["seconds"])
        match = s["edges"] == d["edges"]
        table.append(
            common.vs_duckdb(
                ("query", name),
                s["seconds"],
                d["seconds"],
                ("edges match", f"{match} ({len(s['edges'])} edges)"),
            )
        )
        rows.append(
            {
                "query": name,
                "sextant_s": round(s["seconds"], 4),
                "sextant_runs": [round(r, 4) for r in s["runs"]],
                "duckdb_s": round(d["seconds"], 4),
                "duckdb_runs": [round(r, 4) for r in d["runs"]],
                "ratio": round(ratio, 3),
                "sextant_cpu_s": round(s["cpu"], 4),
                "duckdb_cpu_s": round(d["cpu"], 4),
                "cpu_ratio": round(common.ratio(s["cpu"], d["cpu"]), 3),
                "edges_match": match,
                "sessions": s["sessions"],
                "under_1s": s["seconds"] < 1.0,
            }
        )
        if name in events_path:
            old = events_path[name]
            rows[-1].update(
                {
                    "events_path_s": round(old["seconds"], 4),
                    "events_path_runs": [round(r, 4) for r in old["runs"]],
                    "events_path_cpu_s": round(old["cpu"], 4),
                    "events_path_ratio": round(common.ratio(old["seconds"], d["seconds"]), 3),
                    "events_path_same_result": old["same_result"],
                }
            )
            table.append(
                common.vs_duckdb(
                    ("query", f"{name} (events table)"),
                    old["seconds"],
                    d["seconds"],
                    ("edges match", f"same result as session_paths: {old['same_result']}"),
                )
            )
    common.print_table(table)
    common.write_results(
        "paths",
        {
            **common.data_payload(args, data, export_s),
            "notes": "Median of --repeat after a warm-up. Sextant resolves person_id through person_distinct_ids at query "
            "time and also computes drop-off per node; the Parquet file has the person resolved already. "
            "The machine is shared (other engineers' jobs): compare ratios, not absolute times. "
            "`edges_match` compares the top-50 (source, target, sessions) lists of both engines. "
            "`*_cpu_s`: CPU seconds of this process per run (both engines run in-process), warm-up included. "
            "`events_path_*` (with --events-path): the same query over the events table instead of "
            "session_paths / path_node_keys, same run.",
            "results": rows,
        },
    )
    print(f"(data dir {data.dir}; delete it when done, or pass it to --reuse)")


if __name__ == "__main__":
    main()
