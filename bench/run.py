"""One entry point for the benchmarks: generate data once, run every insight kind and the
ingestion and replay loads, write docs/performance.md.

    .venv/bin/python bench/run.py --size 10m                 # 10M events, 200k persons, 90 days
    .venv/bin/python bench/run.py --events 20000 --persons 2000 --repeat 1   # a smoke run, seconds
    .venv/bin/python bench/run.py --reuse DIR                # time again on an earlier directory
    .venv/bin/python bench/run.py --growth --sizes 3m 10m    # cost ratio per query between sizes

Each step runs in its own child process (chdb opens a directory in one process only, and
a child's resource usage is its own): data generation (bench/common.generate_into), the
squash of the merged identities' person overrides (as the hourly job leaves a live server:
the 10% merged persons stay merged, their old events carry the current person) and the
merge of funnel_events' months into one part each (as a live server does to a month left
alone for an hour, migration 0014), one
warm-up pass over the events (page cache), then each per-kind script of bench/ on the
same directory with `--reuse` (their DuckDB comparisons included) and BENCH_WARMUP=2, so
every timed query had two untimed runs first (a fresh process's first runs grow its
memory). Per step: wall time, CPU time (user + system of the child, chdb's and DuckDB's
threads included) and peak memory (the child's maximum resident set, ru_maxrss: Sextant's
queries and DuckDB's run in the same child, so this is the larger of the two), and the
load average when it started. Per query: the medians the
script wrote to bench/results/<kind>.json and its ratio against DuckDB.

The results go to bench/results/run.json (or growth.json) and docs/performance.md is
rendered from the latest of both.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import common

SIZES = {  # name -> (events, persons)
    "small": (200_000, 20_000),
    "3m": (3_000_000, 200_000),
    "10m": (10_000_000, 200_000),
    "30m": (30_000_000, 200_000),
}
BENCH = common.ROOT / "bench"
DOC = common.ROOT / "docs" / "performance.md"
LOGS = common.RESULTS / "run-logs"
# Funnel variants run besides the plain one (bench_funnels.py --only); the rest take minutes at 10M.
FUNNEL_VARIANTS = ["breakdown $browser", "exclusion", "strict", "unordered", "actors"]
# Untimed runs before each timed query (common.timed): a fresh process's first runs grow its
# memory and are slower than a long-running server's.
WARMUP_RUNS = 2
QUERY_KINDS = ["trends", "retention", "paths", "funnels", "explorer"]
LOAD_KINDS = ["persons", "ingestion", "replay_snapshots", "replay_list", "pages"]


# --- child processes -------------------------------------------------------------------------


def run_child(name: str, argv: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run `argv` (a Python script of bench/ and its arguments) in a child; its output goes
    to bench/results/run-logs/<name>.log. Wall, CPU (user + system) and peak RSS of the child."""
    LOGS.mkdir(parents=True, exist_ok=True)
    log = LOGS / f"{name}.log"
    load = os.getloadavg()[0]
    print(f"- {name}: {' '.join(argv)}", flush=True)
    t0 = time.perf_counter()
    with log.open("w") as out:
        proc = subprocess.Popen(  # noqa: S603 - our own scripts, argv built here
            [sys.executable, *argv],
            cwd=common.ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            env={**os.environ, **(env or {})},
        )
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.perf_counter() - t0
    step = {
        "step": name,
        "ok": proc.returncode == 0,
        "wall_s": round(wall, 2),
        "cpu_s": round(usage.ru_utime + usage.ru_stime, 2),
        "peak_rss_mb": round(usage.ru_maxrss / 1024),  # KiB on Linux
        "load_1m_at_start": round(load, 2),
        "log": os.path.relpath(log, common.ROOT),
    }
    state = "ok" if step["ok"] else f"FAILED (exit {proc.returncode}, see {step['log']})"
    print(
        f"  {state}: {wall:.1f} s wall, {step['cpu_s']:.1f} s CPU, {step['peak_rss_mb']} MB peak", flush=True
    )
    return step


def generate(var: str, events: int, persons: int, days: int, seed: int, end: dt.datetime) -> dict:
    argv = [str(BENCH / "run.py"), "--generate-into", var, "--events", str(events), "--persons", str(persons),
            "--days", str(days), "--seed", str(seed), "--end", end.isoformat()]  # fmt: skip
    step = run_child(f"generate-{events}", argv)
    if not step["ok"]:
        raise SystemExit(f"generation failed: {step['log']}")
    return step


def warm(var: str) -> dict:
    return run_child("warm-up", [str(BENCH / "run.py"), "--warm", var])


def squash(var: str) -> dict:
    """Squash the merged identities' overrides of a new directory, as the hourly Celery job
    (ingestion/squash.py) has done on a live server: the queries then resolve no override,
    and the data still holds the merged persons. Then merge funnel_events' months as a live
    server does an hour after the last insert into a month (migration 0014, FORCE_MERGE)."""
    return run_child("squash merged identities", [str(BENCH / "run.py"), "--squash", var])


def read_json(name: str) -> dict:
    path = common.RESULTS / f"{name}.json"
    return json.loads(path.read_text()) if path.exists() else {}


# --- per-kind scripts and their results --------------------------------------------------------


def query_rows(kind: str, payload: dict) -> list[dict]:
    """The per-query medians of one script's JSON, as rows: kind, query, sextant_s, cpu_s (None where
    the script measures none), duckdb_s, agree."""
    rows = []
    if kind == "funnels":
        duck = payload.get("duckdb", {})
        for i, v in enumerate(payload.get("variants", [])):
            rows.append({"kind": kind, "query": v["variant"], "sextant_s": v["median_s"], "cpu_s": v.get("cpu_s"),
                         "duckdb_s": duck.get("median_s") if i == 0 else None,
                         "agree": duck.get("agree") if i == 0 else None})  # fmt: skip
        return rows
    if kind == "replay_list":
        for label, r in payload.get("results", {}).items():
            if "sextant_s" in r:
                rows.append({"kind": kind, "query": label, "sextant_s": r["sextant_s"],
                             "duckdb_s": r["duckdb_s"], "agree": r["same"]})  # fmt: skip
            elif "median_s" in r:
                rows.append(
                    {
                        "kind": kind,
                        "query": label,
                        "sextant_s": r["median_s"],
                        "duckdb_s": None,
                        "agree": None,
                    }
                )
        return rows
    if kind == "replay_snapshots":
        for session, r in payload.get("results", {}).items():
            for label, seconds in r.get("medians_s", {}).items():
                rows.append({"kind": kind, "query": f"{session}: {label}", "sextant_s": seconds,
                             "cpu_s": r.get("cpu_medians_s", {}).get(label), "duckdb_s": None, "agree": None})  # fmt: skip
        return rows
    if kind == "ingestion":
        for r in payload.get("runs", []):
            rows.append({"kind": kind, "query": f"/batch/ {r['mode']}: {r['events']:,} events, "
                         f"{r['events_per_second_stored']} stored ev/s, p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms",
                         "sextant_s": None, "duckdb_s": None, "agree": None})  # fmt: skip
        return rows
    if kind == "persons":
        for r in payload.get("rows", []):
            rows.append({"kind": kind, "query": f"PersonStore.apply: {r['batch']} ({r['events']:,} events)",
                         "sextant_s": r["median ms"] / 1000, "duckdb_s": None, "agree": None})  # fmt: skip
        return rows
    for r in payload.get("results", []):  # trends, retention, paths, explorer
        label = r.get("query") or ", ".join(str(r[k]) for k in ("page", "filter", "mode") if k in r)
        agree = next(
            (r[k] for k in ("match", "same", "same_rows", "totals_match", "edges_match") if k in r), None
        )
        if agree is None and "sextant_cells" in r:
            agree = r["sextant_cells"] == r["duckdb_cells"]
        if agree is None and "sextant_total" in r:
            agree = r["sextant_total"] == r["duckdb_total"]
        rows.append({"kind": kind, "query": label, "sextant_s": r.get("sextant_s"), "cpu_s": r.get("sextant_cpu_s", r.get("cpu_s")),
                     "duckdb_s": r.get("duckdb_s"), "agree": agree})  # fmt: skip
        if (
            "raw_s" in r
        ):  # trends, retention: the same query on the raw events path; agree = identical to the rollup's
            rows.append({"kind": kind, "query": f"{label} (raw events, SEXTANT_TRENDS_ROLLUPS=0)",
                         "sextant_s": r["raw_s"], "cpu_s": r.get("raw_cpu_s"), "duckdb_s": r.get("duckdb_s"),
                         "agree": r["rollup_identical"]})  # fmt: skip
    return rows


def kind_argv(kind: str, var: str, meta: dict, args) -> tuple[list[str], str]:
    """(argv, results name) of one kind."""
    reuse = ["--reuse", var, "--repeat", str(args.repeat)]
    small = meta["events"] < 1_000_000
    if kind == "funnels":
        return [str(BENCH / "bench_funnels.py"), *reuse, "--only", *FUNNEL_VARIANTS], "funnels"
    if kind == "explorer":
        deep = max(2, min(200, meta["stored_events"] // 400))  # walking 999 cursors takes minutes at 10M
        return [str(BENCH / "bench_explorer.py"), *reuse, "--deep-page", str(deep)], "explorer"
    if kind in ("trends", "retention", "paths"):
        return [str(BENCH / f"bench_{kind}.py"), *reuse], kind
    if kind == "persons":
        return [str(BENCH / "bench_persons.py"), "--runs", "3"], "persons"
    if kind == "pages":  # the demo data of ./scripts/run.sh, in a directory of its own
        return [str(BENCH / "bench_pages.py"), "--persons", "2000" if small else "20000"], "pages"
    if kind == "ingestion":
        requests = "200" if small else "1000"
        return [str(BENCH / "bench_ingestion.py"), "--mode", "embedded", "--requests", requests,
                "--clients", "4", "--dedup-rows", "0"], "ingestion"  # fmt: skip
    if kind == "replay_snapshots":
        return [
            str(BENCH / "bench_replay_snapshots.py"),
            "--runs",
            "3" if small else "7",
        ], "bench_replay_snapshots"
    if kind == "replay_list":
        recordings = "5000" if small else "100000"
        return [str(BENCH / "bench_replay_list.py"), "--recordings", recordings, "--persons", "2000" if small else "20000",
                "--repeat", str(args.repeat)], "replay_list"  # fmt: skip
    raise ValueError(kind)


def run_kinds(kinds: list[str], var: str, meta: dict, args, progress=None) -> tuple[list[dict], list[dict]]:
    """Run each kind's script; `progress(steps, queries)` after each (partial results survive)."""
    steps, queries = [], []
    for kind in kinds:
        argv, name = kind_argv(kind, var, meta, args)
        results = common.RESULTS / f"{name}.json"
        if results.exists():
            results.unlink()  # never report an earlier run's numbers
        step = run_child(kind, argv, {"BENCH_WARMUP": str(WARMUP_RUNS)})
        steps.append(step)
        if step["ok"]:
            queries.extend(query_rows(kind, read_json(name)))
        if progress:
            progress(steps, queries)
    return steps, queries


# --- machine facts and the document ------------------------------------------------------------


def machine() -> dict[str, Any]:
    model, mem = "", ""
    try:
        model = next(
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        )
        kib = int(
            next(
                line.split()[1]
                for line in Path("/proc/meminfo").read_text().splitlines()
                if line.startswith("MemTotal")
            )
        )
        mem = f"{kib / 1024 / 1024:.1f} GiB"
    except (OSError, StopIteration, ValueError):
        pass
    versions = {}
    for module in ("chdb", "duckdb"):
        try:
            versions[module] = __import__(module).__version__
        except (ImportError, AttributeError):
            versions[module] = "?"
    return {"cpus": os.cpu_count(), "cpu_model": model, "memory": mem, "python": platform.python_version(),
            "platform": platform.platform(), **versions, "commit": common.git_commit(),
            "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}  # fmt: skip


def fmt_s(seconds) -> str:
    if seconds is None:
        return "-"
    return f"{seconds * 1000:.0f} ms" if seconds < 10 else f"{seconds:.1f} s"


def fmt_ratio(a, b) -> str:
    return f"{a / b:.2f}x" if a is not None and b else "-"


def table(headers: list[str], rows: list[list]) -> list[str]:
    out = ["| " + " | ".join(headers) + " |", "| " + " | ".join("---" for _ in headers) + " |"]
    out += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return out


def render() -> str:
    run, growth = read_json("run"), read_json("growth")
    lines = [
        "# Performance",
        "",
        "Generated by `bench/run.py` (see bench/README.md); do not edit by hand. Numbers compare",
        "within one run on one machine: chdb runs inside the benchmark process, so anything else",
        "on the machine competes for the same cores (see the load average of each step).",
        "",
    ]
    if run:
        m, data = run["machine"], run["data"]
        lines += ["## Machine", ""]
        lines += table(["cpus", "model", "memory", "python", "chdb", "duckdb", "commit", "when"],
                       [[m["cpus"], m["cpu_model"], m["memory"], m["python"], m["chdb"], m["duckdb"], m["commit"], m["when"]]])  # fmt: skip
        lines += ["", "## Data", ""]
        gen = data.get("generate_step") or {}
        lines += [
            f"{data['stored_events']:,} events, {data['persons']:,} persons ({common.MERGED_PERCENT}% with a merged "
            f"anonymous distinct_id), {data['days']} days ending {data['end'][:16]} UTC, seed {data['seed']}; "
            + (
                f"generated in {data['generate_s']} s ({gen.get('cpu_s', '-')} s CPU, peak {gen.get('peak_rss_mb', '-')} MB)."
                if gen
                else f"reused directory (generated in {data['generate_s']} s)."
            ),
            "",
            "## Steps (one child process each)",
            "",
            "Wall and CPU (user + system, all threads) of the whole step: data export to Parquet, the",
            "DuckDB runs and the warm-up runs included. Peak memory is the child's maximum resident set",
            "(Sextant's and DuckDB's queries run in the same child).",
            "",
        ]
        lines += table(
            ["step", "ok", "wall", "CPU", "peak memory", "load (1 min) at start"],
            [
                [
                    s["step"],
                    "yes" if s["ok"] else "NO",
                    f"{s['wall_s']} s",
                    f"{s['cpu_s']} s",
                    f"{s['peak_rss_mb']} MB",
                    s["load_1m_at_start"],
                ]
                for s in run["steps"]
            ],  # fmt: skip
        )
        lines += ["", "## Queries", "", f"Medians of the timed runs after {WARMUP_RUNS} untimed runs (`--repeat` "
                  f"{run['args']['repeat']}); CPU = the process's CPU time (user + system, every thread) "
                  "per Sextant run, less sensitive than wall time to other jobs on the machine; "
                  "ratio = Sextant / DuckDB on the same rows in Parquet.", ""]  # fmt: skip
        lines += table(
            ["kind", "query", "Sextant", "CPU", "DuckDB", "ratio", "answers agree"],
            [
                [
                    q["kind"],
                    q["query"],
                    fmt_s(q["sextant_s"]),
                    fmt_s(q.get("cpu_s")),
                    fmt_s(q["duckdb_s"]),
                    fmt_ratio(q["sextant_s"], q["duckdb_s"]),
                    "-" if q["agree"] is None else ("yes" if q["agree"] else "NO"),
                ]
                for q in run["queries"]
            ],  # fmt: skip
        )
        done = (
            ""
            if run.get("complete", True)
            else " The run was stopped before its last steps: they are missing."
        )
        load = ", ".join(f"{x:.1f}" for x in run["load_after"])
        lines += ["", f"Load average (1, 5, 15 min) after the run: {load}.{done}", ""]
    if growth:
        sizes = growth["sizes"]
        counts = ", ".join(f"{s['events']:,}" for s in sizes)
        lines += ["## Growth", "", f"The same queries at {counts} events "
                  f"({sizes[0]['persons']:,} persons), each on its own generated directory; cost ratio = time at the "
                  "larger size / time at the smallest, data ratio in the header.", ""]  # fmt: skip
        base = sizes[0]
        headers = ["kind", "query", *[f"{s['events']:,}" for s in sizes]]
        headers += [f"x{s['events'] / base['events']:.1f} data: cost" for s in sizes[1:]]
        by_query: dict[tuple, list] = {}
        for i, s in enumerate(sizes):
            for q in s["queries"]:
                by_query.setdefault((q["kind"], q["query"]), [None] * len(sizes))[i] = q["sextant_s"]
        rows = []
        for (kind, query), times in by_query.items():
            rows.append([kind, query, *[fmt_s(t) for t in times],
                         *[fmt_ratio(t, times[0]) for t in times[1:]]])  # fmt: skip
        lines += table(headers, rows)
        lines += ["", "Peak memory and CPU per step and size:", ""]
        lines += table(
            ["events", "step", "wall", "CPU", "peak memory", "load at start"],
            [
                [
                    f"{s['events']:,}",
                    st["step"],
                    f"{st['wall_s']} s",
                    f"{st['cpu_s']} s",
                    f"{st['peak_rss_mb']} MB",
                    st["load_1m_at_start"],
                ]
                for s in sizes
                for st in s["steps"]
            ],  # fmt: skip
        )
        lines += [""]
    elif DOC.exists():
        lines += carried_growth(DOC.read_text())
    return "\n".join(lines)


CARRIED = "*Carried over from an earlier `bench/run.py --growth` run: this run measured no growth.*"


def carried_growth(doc: str) -> list[str]:
    """The Growth section of an earlier docs/performance.md (a growth run takes most of an
    hour; a run without one keeps the last one's), marked as carried over; [] if none."""
    start = doc.find("\n## Growth\n")
    if start < 0:
        return []
    section = doc[start + 1 :].rstrip("\n").split("\n")
    if CARRIED not in section:
        section[1:1] = ["", CARRIED]
    return [*section, ""]


# --- modes -------------------------------------------------------------------------------------


def data_dir(args, events: int, persons: int, end: dt.datetime) -> tuple[str, dict, dict | None]:
    """(directory, its bench.json, the generation step or None when reused)."""
    if args.reuse:
        meta = json.loads(Path(args.reuse, common.META_FILE).read_text())
        if meta.get("generator") != common.GENERATOR or "stored_events" not in meta:
            raise SystemExit(f"{args.reuse} was not made by this version of bench/run.py: generate again")
        return os.path.abspath(args.reuse), meta, None
    var = tempfile.mkdtemp(prefix=f"sextant-bench-run-{events}-")
    step = generate(var, events, persons, args.days, args.seed, end)
    meta = json.loads(Path(var, common.META_FILE).read_text())
    print(f"  {meta['stored_events']:,} events in {var}", flush=True)
    return var, meta, step


def sizes_of(args) -> tuple[int, int]:
    if args.size:
        return SIZES[args.size]
    return args.events, args.persons


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size", choices=sorted(SIZES), help="events and persons together (overrides both)")
    parser.add_argument("--events", type=int, default=10_000_000)
    parser.add_argument("--persons", type=int, default=200_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per query (median reported)")
    parser.add_argument(
        "--reuse", metavar="DIR", help="a directory of an earlier bench/run.py: no generation"
    )
    parser.add_argument(
        "--kinds", nargs="*", default=QUERY_KINDS + LOAD_KINDS, help="steps to run (default all)"
    )
    parser.add_argument("--growth", action="store_true", help="run the query kinds at each of --sizes")
    parser.add_argument(
        "--sizes", nargs="*", default=["3m", "10m"], help="--growth sizes: names or event counts"
    )
    parser.add_argument(
        "--keep", action="store_true", help="keep generated directories (default: --growth deletes)"
    )
    parser.add_argument("--no-doc", action="store_true", help="do not rewrite docs/performance.md")
    parser.add_argument(
        "--render", action="store_true", help="only render docs/performance.md from the results"
    )
    parser.add_argument("--generate-into", help=argparse.SUPPRESS)
    parser.add_argument("--end", help=argparse.SUPPRESS)
    parser.add_argument("--warm", help=argparse.SUPPRESS)
    parser.add_argument("--squash", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.generate_into:  # child: generate one directory
        common.generate_into(args.generate_into, args.events, args.persons, args.days, args.seed,
                             dt.datetime.fromisoformat(args.end))  # fmt: skip
        return
    if args.squash:  # child: the hourly squash of person overrides, with no minimum age
        common.setup_django(args.squash)
        from analytics_app import clickhouse as ch  # noqa: PLC0415
        from ingestion.squash import squash_project  # noqa: PLC0415

        print(squash_project(common.PROJECT_ID, min_age=dt.timedelta(0)), flush=True)
        # ... and the merge a live server makes of each month left alone for an hour
        # (funnel_events' FORCE_MERGE, migration 0014), done now instead of in an hour
        t0 = time.perf_counter()
        ch.command("OPTIMIZE TABLE funnel_events FINAL", global_=True)
        print(f"funnel_events merged in {time.perf_counter() - t0:.1f} s", flush=True)
        return
    if args.warm:  # child: read every column of the events once (page cache)
        common.setup_django(args.warm)
        from analytics_app import clickhouse as ch  # noqa: PLC0415

        ch.command("SELECT count() FROM events WHERE NOT ignore(*) FORMAT Null", global_=True)
        return

    if args.render:
        DOC.write_text(render() + "\n")
        return
    # The window ends at today's UTC midnight: recent enough for the explorer's relative range.
    end = dt.datetime.now(dt.UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    if args.growth:
        sizes = []
        for size in args.sizes:
            events, persons = SIZES[size] if size in SIZES else (int(size), args.persons)
            var, meta, gen = data_dir(
                argparse.Namespace(**{**vars(args), "reuse": None}), events, persons, end
            )
            squashed = squash(var)
            warmed = warm(var)
            steps, queries = run_kinds([k for k in args.kinds if k in QUERY_KINDS], var, meta, args)
            sizes.append({"events": meta["stored_events"], "persons": persons, "dir": var,
                          "steps": [gen, squashed, warmed, *steps], "queries": queries})  # fmt: skip
            if not args.keep:
                subprocess.run(["rm", "-rf", var], check=False)  # noqa: S603, S607
        common.write_results("growth", {"machine": machine(), "args": vars(args), "sizes": sizes})
    else:
        events, persons = sizes_of(args)
        var, meta, gen = data_dir(args, events, persons, end)
        steps = [gen, squash(var)] if gen else []
        steps.append(warm(var))
        data = {**meta, "dir": var, "generate_step": gen}

        def save(kind_steps, queries, complete=False):
            common.write_results("run", {"machine": machine(), "args": vars(args), "data": data,
                                         "steps": steps + kind_steps, "queries": queries,
                                         "load_after": os.getloadavg(), "complete": complete})  # fmt: skip

        kind_steps, queries = run_kinds(args.kinds, var, meta, args, save)
        save(kind_steps, queries, complete=True)
        print(f"(data dir {var}: pass it to --reuse, delete it when done)")
    if not args.no_doc:
        DOC.write_text(render() + "\n")
        print(f"wrote {DOC.relative_to(common.ROOT)}")


if __name__ == "__main__":
    main()
