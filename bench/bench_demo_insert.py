"""Benchmark: demo-data insert rate and the ClickHouse layer's per-query overhead.

    .venv/bin/python bench/bench_demo_insert.py [--events 2000000] [--days 30] [--iterations 2000] [--name NAME]

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
    "generate_only_events_per_second", "generate_cpu_us_per_event", "insert_cpu_us_per_event",
    "cpu_bound_ceiling_events_per_second", "loadavg_1m_before", "loadavg_1m_after",
)  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def bench_insert(target_events: int, days: int, seed: int) -> dict:
    from analytics_app import clickhouse as ch  # noqa: PLC0415
    from analytics_app import demo  # noqa: PLC0415

    # Size the run from pilot chunks (pure generation, nothing written); the first warms up.
    pilot_spec = demo.DemoSpec(1, 3 * demo.PERSONS_PER_CHUNK, days, seed, END)
    demo.generate_chunk(pilot_spec, 0)
    wall, cpu = time.perf_counter(), time.process_time()
    pilot_events = sum(demo.generate_chunk(pilot_spec, i).n_events for i in (1, 2))
    generate_wall, generate_cpu = time.perf_counter() - wall, time.process_time() - cpu
    persons = max(1, round(target_events * 2 * demo.PERSONS_PER_CHUNK / pilot_events))

    load_before = os.getloadavg()[0]
    cpu_before = time.process_time()
    summary = demo.generate(1, persons, days, seed, end=END)
    cpu = time.process_time() - cpu_before
    stored = ch.query(
        "SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": 1}
    ).scalar()
    return {
        **summary,
        "stored_events": stored,
        "persons_simulated": persons,
        "cpu_seconds": round(cpu, 2),
        "cpu_us_per_event": round(cpu / summary["events"] * 1e6, 1),
        "generate_only_events_per_second": round(pilot_events / generate_wall),
        "generate_cpu_us_per_event": round(generate_cpu / pilot_events * 1e6, 1),
        "insert_cpu_us_per_event": round((cpu / summary["events"] - generate_cpu / pilot_events) * 1e6, 1),
        "cpu_bound_ceiling_events_per_second": round(os.cpu_count() * summary["events"] / cpu),
        "loadavg_1m_before": round(load_before, 2),
        "loadavg_1m_after": round(os.getloadavg()[0], 2),
    }


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
    parser.add_argument("--keep", action="store_true", help="Keep the throwaway data directory.")
    args = parser.parse_args()

    var_dir = tempfile.mkdtemp(prefix="sextant-bench-")
    try:
        common.setup_django(var_dir)
        insert = {}
        if args.events > 0:
            print(f"data dir {var_dir}; inserting ~{args.events:,} demo events ...", flush=True)
            insert = bench_insert(args.events, args.days, args.seed)
        print(f"measuring per-query overhead ({args.iterations} iterations per path) ...", flush=True)
        overhead = bench_query_overhead(args.iterations)
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
    print()
    print(
        f"  {'query':28s} {'path':10s} {'median µs':>10s} {'p99 µs':>10s} {'x raw':>7s} {'CPU µs':>8s} {'x raw':>7s}"
    )
    for row in overhead:
        print(
            f"  {row['sql']:28s} {row['path']:10s} {row['median_us']:>10} {row['p99_us']:>10} {row['ratio_to_raw']:>7}"
            f" {row['cpu_us_mean']:>8} {row['cpu_ratio_to_raw']:>7}"
        )

    common.write_results(args.name, {
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
        "query_overhead": overhead,
    })


if __name__ == "__main__":
    main()
