"""Funnels benchmark: FunnelQueryRunner / FunnelActorsQueryRunner on generated data, vs DuckDB.

    .venv/bin/python bench/bench_funnels.py [--events 10000000] [--persons 200000] [--days 90] [--repeat 3]
        [--reuse DIR] [--only SUBSTRING ...] [--out NAME]

--reuse DIR reopens a directory made by an earlier run (its generated events, its
Parquet export and its bench.json parameters) instead of generating again; the
directory is printed at the start of every run and kept.

Generates events with bench/common.py's generator (sessions of $pageview,
$autocapture, settings_changed and the funnel events signed_up / activated / purchase,
$browser and plan per person, $session_id, a person_distinct_ids row per person) in a
throwaway chdb directory, then times (median of --repeat, no warm-up) a 4-step ordered
funnel ($pageview -> signed_up -> activated -> purchase, 14-day window) in its
variants. The same rows are exported to Parquet (person resolved) and the plain
funnel's counts are computed in DuckDB with a chained ASOF JOIN (greedy earliest next
step) in the same run; the counts must agree. Prints a table, writes
bench/results/<--out>.json (default funnels).
"""

from __future__ import annotations

import datetime as dt
import os

import common

STEPS = ["$pageview", "signed_up", "activated", "purchase"]


def duckdb_funnel(path: str, start: dt.datetime, end: dt.datetime, window_days: int):
    con = common.duckdb_connect(path, threads=2, table=True, columns="person_id, ts, event")
    sql = f"""
    WITH s1 AS (SELECT person_id, ts FROM ev WHERE event = '{STEPS[0]}' AND ts >= TIMESTAMPTZ '{start.isoformat()}' AND ts < TIMESTAMPTZ '{end.isoformat()}'),
    s2 AS (SELECT person_id, ts FROM ev WHERE event = '{STEPS[1]}'),
    s3 AS (SELECT person_id, ts FROM ev WHERE event = '{STEPS[2]}'),
    s4 AS (SELECT person_id, ts FROM ev WHERE event = '{STEPS[3]}'),
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


def main() -> None:
    parser = common.data_parser(__doc__, days=90)
    parser.add_argument(
        "--only", nargs="*", default=None, help="run only variants whose name contains one of these"
    )
    parser.add_argument("--out", default="funnels", help="bench/results/<OUT>.json")
    args = parser.parse_args()

    data = common.load_or_generate(args, "funnels", dt.datetime.now(dt.UTC).replace(microsecond=0))
    var, end, gen_s = data.dir, data.end, data.generate_s
    from funnels.queries import FunnelActorsQueryRunner, FunnelQueryRunner
    from funnels.spec import FunnelActorsSpec, FunnelSpec

    start = end - dt.timedelta(days=args.days)
    project = common.BenchProject()
    base = {
        "kind": "FunnelsQuery",
        "date_from": start.isoformat(),
        "date_to": end.isoformat(),
        "steps": [{"event": e} for e in STEPS],
        "window": {"value": 14, "unit": "day"},
    }
    variants = {
        "ordered, counts only (auto: windowFunnel)": ({**base, "conversion_times": False}, "auto"),
        "ordered, counts only (arrays engine)": ({**base, "conversion_times": False}, "arrays"),
        "ordered + conversion times": (base, "auto"),
        "ordered + breakdown $browser + times": ({**base, "breakdown": {"property": "$browser"}}, "auto"),
        "ordered + breakdown, last touch": (
            {**base, "breakdown": {"property": "plan", "attribution": "last_touch"}},
            "auto",
        ),
        "ordered + exclusion": (
            {**base, "exclusions": [{"event": "settings_changed", "from_step": 1, "to_step": 2}]},
            "auto",
        ),
        "strict (every event read)": ({**base, "order": "strict"}, "auto"),
        "unordered": ({**base, "order": "unordered"}, "auto"),
    }
    variants["actors: dropped at step 3, first 100"] = (None, "arrays")
    # The same event as two steps (a bipartite matching per attempt: unordered.py's
    # hall_basis_layers).
    same_event = [
        {"event": "$pageview"},
        {"event": "$pageview", "properties": [{"key": "$browser", "value": "Chrome"}]},
    ]
    variants["unordered, same event as two steps"] = (
        {**base, "order": "unordered", "steps": same_event + base["steps"][1:]},
        "auto",
    )
    if args.only:
        keep = {k for k in variants if any(o in k for o in args.only)}
        variants = {
            k: v for k, v in variants.items() if k in keep or k.startswith("ordered, counts only (auto")
        }
    rows, reference_counts = [], None
    for name, (body, engine) in variants.items():
        if body is None:
            continue
        spec = FunnelSpec.from_json(body, project)
        runner = FunnelQueryRunner(project, spec, engine=engine)
        t = common.timed(lambda r=runner: r.run(), args.repeat, warmup=False)
        median, runs, result = t.median, t.runs, t.value
        counts = [s.count for s in result.results[0].steps] if spec.breakdown is None else None
        if name.startswith("ordered, counts only (auto"):
            reference_counts = counts
        rows.append(
            {
                "variant": name,
                "engine": result.engine,
                "median_s": median,
                "runs_s": runs,
                "cpu_s": t.cpu,
                "counts": counts,
            }
        )
        print(f"  {name:45s} {median:7.3f} s  {result.engine:12s} {counts}", flush=True)
    if "actors: dropped at step 3, first 100" in variants:
        actors_spec = FunnelActorsSpec.from_json(
            {**base, "kind": "FunnelsActorsQuery", "step": 2, "status": "dropped", "limit": 100}, project
        )
        t = common.timed(
            lambda: FunnelActorsQueryRunner(project, actors_spec).run(), args.repeat, warmup=False
        )
        median, runs, actors = t.median, t.runs, t.value
        rows.append(
            {
                "variant": "actors: dropped at step 3, first 100",
                "engine": "arrays",
                "median_s": median,
                "runs_s": runs,
                "cpu_s": t.cpu,
                "counts": [actors.total],
            }
        )
        print(
            f"  {'actors: dropped at step 3, first 100':45s} {median:7.3f} s  total {actors.total:,}",
            flush=True,
        )

    parquet = os.path.join(var, "funnel_events.parquet")
    export_s = 0.0
    if not os.path.exists(parquet):  # kept for --reuse
        export_s = common.export_parquet(
            parquet, where="e.event IN (" + ", ".join(f"'{s}'" for s in STEPS) + ")"
        )
    con, sql = duckdb_funnel(parquet, start, end, 14)
    duck_median, duck_runs, duck_counts, _ = common.timed(
        lambda: list(con.execute(sql).fetchone()), args.repeat, warmup=False
    )
    agree = duck_counts == reference_counts
    plain = rows[0]["median_s"]

    print()
    print(f"{'variant':48s} {'engine':13s} {'median s':>9s} {'vs plain':>9s} {'vs DuckDB':>10s}")
    for r in rows:
        print(
            f"{r['variant']:48s} {r['engine']:13s} {r['median_s']:9.3f} {r['median_s'] / plain:9.2f} {r['median_s'] / duck_median:10.2f}"
        )
    print(
        f"{'DuckDB chained ASOF JOIN (counts)':48s} {'duckdb':13s} {duck_median:9.3f} {duck_median / plain:9.2f} {1:10.2f}"
    )
    print(f"\ncounts: sextant {reference_counts}  duckdb {duck_counts}  agree={agree}")
    print(f"generation {gen_s:.1f} s, parquet export {export_s:.1f} s")

    common.write_results(
        args.out,
        {
            "events": args.events,
            "persons": args.persons,
            "days": args.days,
            "repeat": args.repeat,
            "seed": args.seed,
            "generated_at": dt.datetime.now(dt.UTC).isoformat(),
            "generation_s": gen_s,
            "parquet_export_s": export_s,
            "dir": var,
            "stored_events": data.events,
            "variants": rows,
            "duckdb": {"median_s": duck_median, "runs_s": duck_runs, "counts": duck_counts, "agree": agree},
        },
    )


if __name__ == "__main__":
    main()
