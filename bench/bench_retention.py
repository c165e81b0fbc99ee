"""Retention benchmark: RetentionQueryRunner on ~10M events vs DuckDB over the same data in Parquet.

    .venv/bin/python bench/bench_retention.py [--events 10000000] [--persons 200000] [--days 90] [--repeat 3] [--reuse DIR]

Generates events with bench/common.py's generator (every person has a first-seen day
and sessions decaying from it, exponential with a mean of 14 days; a persons row with a
`plan` property per person) in a throwaway chdb directory, ending 2026-06-01 (a Monday).
Any directory can be reused: the weekly range is widened to whole Monday weeks on both
ends, in Sextant and in the DuckDB reference alike. Times (median of --repeat,
after one warm-up) the 30-day daily matrix and the 12-week weekly matrix, first_time and
recurring, and one weekly matrix broken down by the person property `plan`, through
RetentionQueryRunner. The same rows are exported to Parquet (person resolved, person plan
joined) and the same matrices computed in DuckDB in this process; the sum of every
matrix cell is compared. Each matrix also runs on the raw events path
(SEXTANT_TRENDS_ROLLUPS off: no trends_rollup), timed the same way, and its answer must be
identical to the rollup's. Prints a table of ratios, writes bench/results/retention.json.
"""

from __future__ import annotations

import datetime as dt

import common

END = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)


def duck_sql(
    parquet: str, period: str, start: dt.date, end: dt.date, total: int, first_time: bool, breakdown: bool
) -> str:
    """The same matrix in DuckDB: cohort index, offset, (person plan), persons.

    `start` / `end` (exclusive) are widened to whole periods first, as Sextant does
    (docs/retention.md: a weekly range from a Wednesday starts with that week's Monday and
    runs to the end of the week holding its last day), so any data window works, not only
    one ending on a Monday."""
    unit = {"day": "day", "week": "week"}[period]
    if period == "week":
        start = start - dt.timedelta(days=start.weekday())
        last = end - dt.timedelta(days=1)
        end = last - dt.timedelta(days=last.weekday()) + dt.timedelta(weeks=1)
    bv = "person_plan" if breakdown else "''"
    start_ts = f"TIMESTAMPTZ '{start.isoformat()} 00:00:00+00'"
    end_ts = f"TIMESTAMPTZ '{end.isoformat()} 00:00:00+00'"
    step = 1 if period == "day" else 7
    idx = f"date_diff('day', DATE '{start.isoformat()}', CAST(date_trunc('{unit}', ts) AS DATE)) // {step}"
    n = (end - start).days // step
    if first_time:
        cohorts = f"""SELECT person_id, any_value(bv) AS bv, {idx.replace("ts", "min(ts)")} AS c
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


def main() -> None:
    args = common.data_parser(__doc__, days=90).parse_args()
    data = common.load_or_generate(args, "retention", END)
    from retention.queries import RetentionQueryRunner
    from retention.spec import RetentionSpec

    end = data.end
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
    from django.test import override_settings

    def answer(result):
        return [(r.cohort_index, r.breakdown_value, r.values) for r in result.rows]

    project = common.BenchProject()
    sextant = {}
    for name, (period, date_from, total, kind, breakdown) in cases.items():
        body = {
            "kind": "RetentionQuery",
            "period": period,
            "date_from": date_from.isoformat(),
            "date_to": last_day,
            "total_intervals": total,
            "retention_type": kind,
            "target_event": {"event": "$pageview"},
        }
        if breakdown:
            body["breakdown"] = {"property": "plan", "type": "person"}
        spec = RetentionSpec.from_json(body)
        t = common.timed(lambda spec=spec: RetentionQueryRunner(project, spec).run(), args.repeat)
        with override_settings(SEXTANT_TRENDS_ROLLUPS=False):
            raw = common.timed(lambda spec=spec: RetentionQueryRunner(project, spec).run(), args.repeat)
        sextant[name] = {
            "seconds": t.median,
            "cpu": t.cpu,
            "cells": sum(sum(r.values) for r in t.value.rows),
            "rows": len(t.value.rows),
            "raw_seconds": raw.median,
            "raw_cpu": raw.cpu,
            "identical": answer(t.value) == answer(raw.value),
        }
        print(
            f"  sextant {name}: rollup {common.ms(t.median)}, raw {common.ms(raw.median)}, "
            f"identical {sextant[name]['identical']}",
            flush=True,
        )

    parquet = f"{data.dir}/events.parquet"
    export_s = common.export_parquet(parquet, persons=True)
    con = common.duckdb_connect(threads=2)
    duck = {}
    for name, (period, date_from, total, kind, breakdown) in cases.items():
        sql = duck_sql(parquet, period, date_from, end.date(), total, kind == "first_time", breakdown)
        t = common.timed(lambda sql=sql: con.execute(sql).fetchall(), args.repeat)
        duck[name] = {"seconds": t.median, "cells": sum(r[-1] for r in t.value)}
        print(f"  duckdb {name}: {common.ms(t.median)}", flush=True)

    print()
    table, rows = [], []
    for name in cases:
        s, d = sextant[name], duck[name]
        ratio = common.ratio(s["seconds"], d["seconds"])
        match = s["cells"] == d["cells"]
        table.append(
            common.vs_duckdb(
                ("query", name), s["seconds"], d["seconds"], ("cells match", f"{match} ({s['cells']:,})")
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
                "sextant_cells": s["cells"],
                "duckdb_cells": d["cells"],
                "under_1s": s["seconds"] < 1.0,
            }
        )
    common.print_table(table)
    common.write_results(
        "retention",
        {
            **common.data_payload(args, data, export_s),
            "notes": "Median of --repeat after a warm-up. Sextant resolves person_id through person_distinct_ids and "
            "person properties through persons at query time; the Parquet file has both resolved already. "
            "The machine is shared (other engineers' jobs): compare ratios, not absolute times. "
            "`cells` is the sum of every matrix value (cohort sizes + returns), compared between the engines.",
            "results": rows,
        },
    )
    print(f"(data dir {data.dir}; delete it when done, or pass it to --reuse)")


if __name__ == "__main__":
    main()
