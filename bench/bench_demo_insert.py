"""Benchmark: demo-data insert rate and the ClickHouse layer's per-query overhead.

    .venv/bin/python bench/bench_demo_insert.py [--events 2000000] [--days 30] [--iterations 2000]
                                                [--compare-events 300000] [--name NAME]

Runs against a throwaway chdb directory (never var/), prints a table and writes
bench/results/<name>.json. See bench/README.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import math
import os
import platform
import shutil
import statistics
import tempfile
import time

import common

END = dt.date(2026, 3, 1)  # a fixed window: every run writes the same data
INSERT_REPORT = (
    "events", "stored_events", "visitors", "persons", "seconds", "events_per_second", "cpu_us_per_event",
    "generate_cpu_us_per_event", "people_cpu_us_per_event", "encode_cpu_us_per_event",
    "insert_call_cpu_us_per_event", "engine_cpu_us_per_event", "parts_after_insert", "merge_seconds_after",
    "merge_cpu_us_per_event", "cpu_bound_ceiling_events_per_second", "loadavg_1m_before", "loadavg_1m_after",
)  # fmt: skip
PATHS_REPORT = (
    "path",
    "events",
    "seconds",
    "events_per_second",
    "cpu_us_per_event",
    "cpu_ratio_to_json_text",
)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def bench_insert(target_events: int, days: int, seed: int) -> dict:
    """generate_demo_data end to end (wall clock, CPU of the whole process) and its stages:
    generation (main thread), encoding + sorting + the people tables (insert threads'
    Python), the insert calls' own thread time, and the engine (the rest of the process
    CPU: chdb's worker threads parse, write parts and fill the event_uuids view)."""
    from analytics_app import clickhouse as ch  # noqa: PLC0415
    from analytics_app import demo  # noqa: PLC0415

    # Size the run from pilot chunks (pure generation, nothing written); the first warms up.
    pilot_spec = demo.DemoSpec(1, 3 * demo.PERSONS_PER_CHUNK, days, seed, END)
    demo.generate_chunk(pilot_spec, 0)
    pilot_events = sum(demo.generate_chunk(pilot_spec, i).n_events for i in (1, 2))
    persons = max(1, round(target_events * 2 * demo.PERSONS_PER_CHUNK / pilot_events))

    load_before = os.getloadavg()[0]
    stages: dict = {}
    cpu_before = time.process_time()
    summary = demo.write(demo.DemoSpec(1, persons, days, seed, END), stages=stages)
    cpu = time.process_time() - cpu_before
    stored = ch.query(
        "SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": 1}
    ).scalar()
    n = summary["events"]
    parts = ch.query(
        "SELECT count() FROM system.parts WHERE active AND table = 'events' AND database = currentDatabase()",
        global_=True,
    ).scalar()
    # Background merges of the new parts are not part of the run; measure them apart.
    merge_wall, merge_cpu = time.perf_counter(), time.process_time()
    quiet = 0
    while quiet < 3 and time.perf_counter() - merge_wall < 600:
        merging = ch.query("SELECT count() FROM system.merges", global_=True).scalar()
        quiet = 0 if merging else quiet + 1
        time.sleep(1)
    merge_wall, merge_cpu = time.perf_counter() - merge_wall - 3, time.process_time() - merge_cpu
    per_event = {k: v / n * 1e6 for k, v in stages.items()}
    python = sum(stages.values())
    return {
        **summary,
        "stored_events": stored,
        "persons_simulated": persons,
        "cpu_seconds": round(cpu, 2),
        "cpu_us_per_event": round(cpu / n * 1e6, 1),
        "generate_cpu_us_per_event": round(per_event.get("generate_cpu_s", 0), 2),
        "people_cpu_us_per_event": round(per_event.get("people_cpu_s", 0), 2),
        "encode_cpu_us_per_event": round(per_event.get("encode_cpu_s", 0), 2),
        "insert_call_cpu_us_per_event": round(per_event.get("insert_thread_cpu_s", 0), 2),
        "engine_cpu_us_per_event": round((cpu - python) / n * 1e6, 2),
        "parts_after_insert": parts,
        "merge_seconds_after": round(max(0.0, merge_wall), 1),
        "merge_cpu_us_per_event": round(merge_cpu / n * 1e6, 2),
        "cpu_bound_ceiling_events_per_second": round(os.cpu_count() * n / cpu),
        "loadavg_1m_before": round(load_before, 2),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
    }


def bench_paths(events: int, days: int, seed: int) -> list[dict]:
    """The same pre-generated chunks written sequentially (one thread) by the portable
    JSON-text path (ch.insert, the engine parses the properties text) and by the
    layer's bulk path (`ch.insert_bulk`: Native blocks on chdb), each into its own project:
    insert CPU per event, compared."""
    from analytics_app import demo  # noqa: PLC0415

    rows = []
    for project_id, label, insert in (
        (2, "json_text (baseline)", demo.insert_json_text),
        (3, "native", lambda chunks: demo.insert_batch(chunks, {})),
    ):
        spec = demo.DemoSpec(project_id, 10**9, days, seed, END)
        chunks, total, index = [], 0, 0
        while total < events:
            chunks.append(demo.generate_chunk(spec, index))
            total, index = total + chunks[-1].n_events, index + 1
        wall, cpu = time.perf_counter(), time.process_time()
        written = insert(chunks)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        rows.append(
            {
                "path": label,
                "events": written,
                "seconds": round(wall, 2),
                "events_per_second": round(written / wall),
                "cpu_us_per_event": round(cpu / written * 1e6, 2),
            }
        )
    for row in rows:
        row["cpu_ratio_to_json_text"] = round(row["cpu_us_per_event"] / rows[0]["cpu_us_per_event"], 2)
    return rows


def bench_query_overhead(iterations: int) -> list[dict]:
    from analytics_app import clickhouse as ch  # noqa: PLC0415

    conn = ch.backend().connection()  # the raw chdb connection of this thread
    cases = [
        (
            "SELECT 1",
            lambda: conn.query("SELECT 1", "JSONCompact").bytes(),
            lambda: ch.query("SELECT 1", global_=True),
        ),
        (
            "SELECT {project_id:UInt32}",
            lambda: conn.query(
                "SELECT {project_id:UInt32}", "JSONCompact", params={"project_id": "1"}
            ).bytes(),
            lambda: ch.query("SELECT {project_id:UInt32}", {"project_id": 1}),
        ),
    ]
    rows = []
    for sql, raw, layer in cases:
        timings, cpu_us = {}, {}
        for label, fn in (("raw chdb", raw), ("ch.query", layer)):
            for _ in range(50):
                fn()
            samples = []
            cpu = time.process_time()
            for _ in range(iterations):
                t0 = time.perf_counter_ns()
                fn()
                samples.append((time.perf_counter_ns() - t0) / 1000)
            cpu_us[label] = (time.process_time() - cpu) / iterations * 1e6
            timings[label] = samples
        raw_median = statistics.median(timings["raw chdb"])
        for label, samples in timings.items():
            median = statistics.median(samples)
            rows.append(
                {
                    "sql": sql,
                    "path": label,
                    "iterations": iterations,
                    "median_us": round(median, 1),
                    "p99_us": round(percentile(samples, 0.99), 1),
                    "ratio_to_raw": round(median / raw_median, 2),
                    "overhead_us": round(median - raw_median, 1),
                    "cpu_us_mean": round(cpu_us[label], 1),
                    "cpu_ratio_to_raw": round(cpu_us[label] / cpu_us["raw chdb"], 2),
                }
            )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--events", type=int, default=1_000_000, help="Approximate events to insert (default 1M)."
    )
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--iterations", type=int, default=2000, help="Queries per path for the overhead test."
    )
    parser.add_argument(
        "--name", default="bench_demo_insert", help="Results file name (bench/results/<name>.json)."
    )
    parser.add_argument(
        "--compare-events",
        type=int,
        default=300_000,
        help="Events written by each path (JSON text vs Native) for the per-path comparison (0: skip).",
    )
    parser.add_argument("--keep", action="store_true", help="Keep the throwaway data directory.")
    args = parser.parse_args()

    var_dir = tempfile.mkdtemp(prefix="sextant-bench-")
    try:
        common.setup_django(var_dir)
        print(f"measuring per-query overhead ({args.iterations} iterations per path) ...", flush=True)
        overhead = bench_query_overhead(args.iterations)
        paths = []
        if args.compare_events > 0:
            print(f"writing ~{args.compare_events:,} events by each insert path ...", flush=True)
            paths = bench_paths(args.compare_events, args.days, args.seed)
            from analytics_app import clickhouse as ch  # noqa: PLC0415

            for table in ("events", "event_uuids", "persons", "person_distinct_ids"):
                ch.command(f"TRUNCATE TABLE {table}", global_=True)  # no merges left to compete
        insert = {}
        if args.events > 0:
            print(f"data dir {var_dir}; inserting ~{args.events:,} demo events ...", flush=True)
            insert = bench_insert(args.events, args.days, args.seed)
    finally:
        from analytics_app import clickhouse as ch  # noqa: PLC0415

        ch.configure(None)
        if not args.keep:
            shutil.rmtree(var_dir, ignore_errors=True)

    print()
    print("demo data insert" if insert else "demo data insert: skipped (--events 0)")
    for key in INSERT_REPORT if insert else ():
        print(
            f"  {key:34s} {insert[key]:>14,}"
            if isinstance(insert[key], int)
            else f"  {key:34s} {insert[key]:>14}"
        )
    if paths:
        print()
        print("insert paths, same chunks, one thread")
        print("  " + "".join(f"{k:>24s}" for k in PATHS_REPORT))
        for row in paths:
            print("  " + "".join(f"{row[k]!s:>24s}" for k in PATHS_REPORT))
    print()
    print(
        f"  {'query':28s} {'path':10s} {'median µs':>10s} {'p99 µs':>10s} {'x raw':>7s} {'CPU µs':>8s} {'x raw':>7s}"
    )
    for row in overhead:
        print(
            f"  {row['sql']:28s} {row['path']:10s} {row['median_us']:>10} {row['p99_us']:>10} {row['ratio_to_raw']:>7}"
            f" {row['cpu_us_mean']:>8} {row['cpu_ratio_to_raw']:>7}"
        )

    common.write_results(
        args.name,
        {
            "bench": "demo_insert",
            "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
            "commit": common.git_commit(),
            "machine": {
                "cpus": os.cpu_count(),
                "python": platform.python_version(),
                "chdb": importlib.metadata.version("chdb-core"),
                "pyarrow": importlib.metadata.version("pyarrow"),
                "numpy": importlib.metadata.version("numpy"),
            },
            "args": vars(args),
            "insert": insert,
            "insert_paths": paths,
            "query_overhead": overhead,
        },
    )


if __name__ == "__main__":
    main()
