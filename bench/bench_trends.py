"""Trends benchmark: TrendsQueryRunner on ~10M events vs DuckDB over the same data in Parquet.

    .venv/bin/python bench/bench_trends.py [--events 10000000] [--persons 200000] [--days 90] [--repeat 3] [--reuse DIR]

Generates events with bench/common.py's generator (ending today at midnight UTC) in a
throwaway chdb directory, then times (median of --repeat, after one warm-up) three
daily trends over --days through TrendsQueryRunner: $pageview count broken down by
$browser (top 10 + Other), unique persons (DAU), total count. The same rows are
exported to Parquet (properties flattened, person already resolved) and the same
aggregations run in DuckDB in this process; totals are compared. Each query also runs
on the raw events path (SEXTANT_TRENDS_ROLLUPS off: no trends_rollup), timed the same
way, and its answer must be identical to the rollup's. Prints a table, writes
bench/results/trends.json.
"""

from __future__ import annotations

import datetime as dt

import common


def main() -> None:
    args = common.data_parser(__doc__, days=90).parse_args()
    midnight = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    data = common.load_or_generate(args, "trends", midnight)
    from trends.queries import TrendsQueryRunner
    from trends.spec import TrendsSpec

    today = data.end  # midnight of the generation day (--reuse: of the original run)
    date_from = (today - dt.timedelta(days=args.days)).date().isoformat()
    date_to = (today - dt.timedelta(days=1)).date().isoformat()
    base = {"kind": "TrendsQuery", "interval": "day", "date_from": date_from, "date_to": date_to}
    cases = {
        "count by $browser (top 10 + Other)": {
            **base,
            "series": [{"event": "$pageview"}],
            "breakdown": {"property": "$browser", "limit": 10},
        },
        "DAU (unique persons)": {**base, "series": [{"event": "$pageview", "math": "dau"}]},
        "total count": {**base, "series": [{"event": "$pageview"}]},
    }
    from django.test import override_settings

    project = common.BenchProject()
    sextant = {}

    def answer(result):
        return [(s.breakdown_value, s.data, s.total) for s in result.series]

    for name, body in cases.items():
        spec = TrendsSpec.from_json(body)
        t = common.timed(lambda spec=spec: TrendsQueryRunner(project, spec).run(), args.repeat)
        with override_settings(SEXTANT_TRENDS_ROLLUPS=False):
            raw = common.timed(lambda spec=spec: TrendsQueryRunner(project, spec).run(), args.repeat)
        result = t.value
        total = sum(s.total for s in result.series if s.breakdown_value is not None) or result.series[0].total
        sextant[name] = {"seconds": t.median, "cpu": t.cpu, "series": len(result.series), "total": total,
                         "raw_seconds": raw.median, "raw_cpu": raw.cpu, "identical": answer(result) == answer(raw.value)}  # fmt: skip
        print(
            f"  {name}: rollup {common.ms(t.median)}, raw {common.ms(raw.median)}, identical {sextant[name]['identical']}"
        )

    parquet = f"{data.dir}/events.parquet"
    export_s = common.export_parquet(parquet)
    con = common.duckdb_connect(parquet)
    where = (f"event = '$pageview' AND ts >= TIMESTAMPTZ '{date_from} 00:00:00+00'"
             f" AND ts < TIMESTAMPTZ '{today.date().isoformat()} 00:00:00+00'")  # fmt: skip
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
        t = common.timed(lambda sql=sql: con.execute(sql).fetchall(), args.repeat)
        duck[name] = {"seconds": t.median, "total": sum(r[-1] for r in t.value if r[0] is None)}

    print()
    table, rows = [], []
    for name in cases:
        s, d = sextant[name], duck[name]
        ratio = common.ratio(s["seconds"], d["seconds"])
        match = s["total"] == d["total"]
        table.append(
            common.vs_duckdb(
                (f"query ({args.days} days, daily)", name),
                s["seconds"],
                d["seconds"],
                ("totals match", f"{match} ({s['total']:,})"),
            )
            | {"raw events path": common.ms(s["raw_seconds"]), "rollup = raw": str(s["identical"])}
        )
        rows.append(
            {
                "query": name,
                "sextant_s": round(s["seconds"], 4),
                "sextant_cpu_s": round(s["cpu"], 4),
                "duckdb_s": round(d["seconds"], 4),
                "ratio": round(ratio, 3),
                "raw_s": round(s["raw_seconds"], 4),
                "raw_cpu_s": round(s["raw_cpu"], 4),
                "rollup_identical": s["identical"],
                "sextant_total": s["total"],
                "duckdb_total": d["total"],
                "under_500ms": s["seconds"] < 0.5,
            }
        )
    common.print_table(table)
    common.write_results(
        "trends",
        {
            **common.data_payload(args, data, export_s),
            "notes": "Median of --repeat after a warm-up. Sextant resolves person_id through person_distinct_ids at query time; "
            "the Parquet file has it resolved already.",
            "results": rows,
        },
    )
    print(f"(data dir {data.dir}; delete it when done, or pass it to --reuse)")


if __name__ == "__main__":
    main()
