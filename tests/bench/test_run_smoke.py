"""bench/run.py end to end on a tiny data set: generation in a child, the warm-up, the trends
and retention scripts with their DuckDB checks, and the rendered docs/performance.md text."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_run_tiny(tmp_path):
    env = {**os.environ, "BENCH_RESULTS": str(tmp_path)}
    env.pop("DJANGO_SETTINGS_MODULE", None)
    cmd = [sys.executable, "bench/run.py", "--events", "20000", "--persons", "2000", "--repeat", "1",
           "--kinds", "trends", "retention", "--no-doc"]  # fmt: skip
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=280, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    run = json.loads((tmp_path / "run.json").read_text())
    assert all(step["ok"] for step in run["steps"]), run["steps"]
    assert run["data"]["stored_events"] > 15_000
    kinds = {q["kind"] for q in run["queries"]}
    assert kinds == {"trends", "retention"}
    # every Sextant answer equals DuckDB's on the same rows (merged identities included)
    assert all(q["agree"] for q in run["queries"]), run["queries"]
    assert all(step["peak_rss_mb"] > 0 and step["cpu_s"] > 0 for step in run["steps"])
    assert all(q["cpu_s"] is not None and q["cpu_s"] >= 0 for q in run["queries"]), run["queries"]
    data_dir = run["data"]["dir"]
    sys.path.insert(0, str(ROOT / "bench"))
    try:
        os.environ["BENCH_RESULTS"] = str(tmp_path)
        import run as bench_run  # noqa: PLC0415

        bench_run.common.RESULTS = tmp_path
        text = bench_run.render()
    finally:
        os.environ.pop("BENCH_RESULTS", None)
        sys.path.remove(str(ROOT / "bench"))
        subprocess.run(["rm", "-rf", data_dir], check=False)  # noqa: S603, S607
    assert "## Queries" in text and "DAU (unique persons)" in text
    assert "| kind | query | Sextant | CPU | DuckDB | ratio | answers agree |" in text
