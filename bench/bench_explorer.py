"""Explorer benchmark: keyset pages through EventsQueryRunner on ~10M events vs DuckDB over Parquet.

    .venv/bin/python bench/bench_explorer.py [--events 10000000] [--persons 200000] [--days 30] [--repeat 3] [--limit 100]
        [--deep-page 1000] [--reuse DIR]

Generates events with bench/common.py's generator (sessions over the --days before
now, microsecond timestamps, JSON properties) in a throwaway chdb directory, then times
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

import datetime as dt
import os
import time

import common


def main() -> None:  # noqa: PLR0915 - one linear script
    parser = common.data_parser(__doc__, days=30)
    parser.add_argument("--limit", type=int, default=100)
    parser.add_argument("--deep-page", type=int, default=1000)
    args = parser.parse_args()

    now = dt.datetime.now(dt.UTC)
    data = common.load_or_generate(args, "explorer", now)
    from explorer.forms import EventsSpec
    from explorer.queries import EventsQueryRunner
    from insights.blocks import DateRange

    project = common.BenchProject()
    date_range = DateRange(f"-{args.days + 1}d")
    filters = {"all events": "", "event = $pageview": "$pageview"}

    def page(event: str, after, two_step: bool):
        runner = EventsQueryRunner(
            project, EventsSpec(date_range=date_range, event=event, limit=args.limit, after=after)
        )
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
            first = common.timed(lambda e=event, t=two_step: page(e, None, t), args.repeat)
            deep = common.timed(lambda e=event, c=cursor, t=two_step: page(e, c, t), args.repeat)
            sextant[f"{label} | {mode}"] = {
                "first_s": first.median,
                "deep_s": deep.median,
                "first_cpu_s": first.cpu,
                "deep_cpu_s": deep.cpu,
                "walk_s": walk_s,
                "first_uuids": [str(r.uuid) for r in first.value.rows],
                "deep_uuids": [str(r.uuid) for r in deep.value.rows],
            }

    parquet = f"{data.dir}/events.parquet"
    export_s = common.export_parquet(parquet, properties=True)
    con = common.duckdb_connect(parquet)
    start = (now - dt.timedelta(days=args.days + 1)).strftime("%Y-%m-%d %H:%M:%S")
    duck: dict[str, dict] = {}
    for label, event in filters.items():
        where = f"ts >= TIMESTAMPTZ '{start}+00'" + (f" AND event = '{event}'" if event else "")
        cols = "uuid, event, distinct_id, person_id, ts, properties"
        first_sql = f"SELECT {cols} FROM ev WHERE {where} ORDER BY ts DESC, uuid DESC LIMIT {args.limit + 1}"
        skip = args.limit * (args.deep_page - 1) - 1
        c_ts, c_uuid = con.execute(
            f"SELECT ts, uuid FROM ev WHERE {where} ORDER BY ts DESC, uuid DESC LIMIT 1 OFFSET {skip}"
        ).fetchone()
        deep_sql = (
            f"SELECT {cols} FROM ev WHERE {where} AND ts <= $ts AND (ts < $ts OR uuid < $u) "
            f"ORDER BY ts DESC, uuid DESC LIMIT {args.limit + 1}"
        )
        first = common.timed(lambda sql=first_sql: con.execute(sql).fetchall(), args.repeat)
        deep = common.timed(
            lambda sql=deep_sql, t=c_ts, u=c_uuid: con.execute(sql, {"ts": t, "u": u}).fetchall(), args.repeat
        )
        duck[label] = {
            "first_s": first.median,
            "deep_s": deep.median,
            "first_uuids": [r[0] for r in first.value[: args.limit]],
            "deep_uuids": [r[0] for r in deep.value[: args.limit]],
        }

    print()
    table, rows = [], []
    for key, s in sextant.items():
        label, mode = key.split(" | ")
        d = duck[label]
        for which, name in (("first", "first page"), ("deep", f"page {args.deep_page}")):
            ratio = common.ratio(s[f"{which}_s"], d[f"{which}_s"])
            same = set(s[f"{which}_uuids"]) == set(d[f"{which}_uuids"])
            table.append(
                {
                    f"page (limit {args.limit})": f"{name}, {label}, {mode}",
                    "Sextant": common.ms(s[f"{which}_s"]),
                    "DuckDB": common.ms(d[f"{which}_s"]),
                    "ratio": f"{ratio:.2f}x",
                    "same rows": same,
                }
            )
            rows.append(
                {
                    "page": name,
                    "filter": label,
                    "mode": mode,
                    "sextant_s": round(s[f"{which}_s"], 4),
                    "sextant_cpu_s": round(s[f"{which}_cpu_s"], 4),
                    "duckdb_s": round(d[f"{which}_s"], 4),
                    "ratio": round(ratio, 3),
                    "same_rows": same,
                }
            )
    common.print_table(table)
    common.write_results(
        "explorer",
        {
            **common.data_payload(args, data, export_s),
            "limit": args.limit,
            "deep_page": args.deep_page,
            "walk_s": {label: round(sextant[f"{label} | two-step"]["walk_s"], 1) for label in filters},
            "load_avg_1m_after": os.getloadavg()[0],
            "notes": "Sextant resolves person_id through person_distinct_ids for the page's rows; DuckDB reads a pre-resolved Parquet file. "
            "DuckDB's deep-page cursor comes from OFFSET (untimed); Sextant walks its own cursors.",
            "results": rows,
        },
    )
    print(f"(data dir {data.dir}; delete it when done, or pass it to --reuse)")


if __name__ == "__main__":
    main()
