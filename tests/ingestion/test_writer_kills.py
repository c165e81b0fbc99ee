"""A writer process killed with SIGKILL in the middle of an insert, then the batch redelivered.

Real processes on a scratch chdb store: `manage.py shell` stores a 100-event batch with
the writer's `write_jobs` and is killed (-9) at a random moment; a new process stores
the same batch again, as the stream consumer or the spool does after a crash. A view
made for the test, a plain copy of every row inserted into events, sleeps 20 ms per row,
so the insert spends about 2 s between the events part and the views' parts and most
kills land in that gap (the gap the fault suite hit only once, under load). Afterwards
every event is in `events` once (no FINAL), in the copy once, in event_uuids, and once
in trends_rollup.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest

BASE = Path(__file__).resolve().parents[2]
PROJECT = 7
ROUNDS = 4

SETUP = """
from analytics_app import clickhouse as ch
ch.command("CREATE TABLE kill_copy (project_id UInt32, uuid UUID) ENGINE = MergeTree ORDER BY (project_id, uuid) "
           "SETTINGS non_replicated_deduplication_window = 1000", global_=True)
ch.command("CREATE MATERIALIZED VIEW kill_copy_mv TO kill_copy AS SELECT project_id, uuid FROM events "
           "WHERE sleepEachRow(0.02) = 0", global_=True)
"""

WRITE = """
import json, sys
from ingestion.processing import Job
from ingestion.writer import write_jobs
rows = json.load(open(BATCH))
print("writing", flush=True)
write_jobs([Job(PROJECT, events=rows)])
print("stored", flush=True)
"""

COUNT = """
import json
from analytics_app import clickhouse as ch
p = {"project_id": PROJECT}
one = lambda sql: list(ch.query(sql, p).rows[0])
print(json.dumps({
    "events": one("SELECT count(), uniqExact(uuid) FROM events WHERE project_id = {project_id:UInt32}"),
    "copy": one("SELECT count(), uniqExact(uuid) FROM kill_copy WHERE project_id = {project_id:UInt32}"),
    "known": one("SELECT uniqExact(uuid) FROM event_uuids WHERE project_id = {project_id:UInt32}"),
    "rollup": one("SELECT sum(events) FROM trends_rollup WHERE project_id = {project_id:UInt32}"),
}))
"""


def _env(directory: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SEXTANT_", "REDIS_", "DATABASE_"))}
    env.update(
        SEXTANT_VAR_DIR=str(directory / "var"),
        CLICKHOUSE_URL=f"chdb://{directory / 'var' / 'chdb'}",
        DJANGO_SETTINGS_MODULE="analytics_app.settings",
        LOG_LEVEL="WARNING",
        PYTHONUNBUFFERED="1",
    )
    return env


def _code(template: str, **values) -> str:
    for name, value in values.items():
        template = template.replace(name, repr(value))
    return template


def _manage(env, *args, timeout=180) -> str:
    done = subprocess.run(  # noqa: S603
        [sys.executable, str(BASE / "manage.py"), *args],
        env=env,
        cwd=BASE,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def _batch(n: int, round_: int) -> list[dict]:
    return [
        {
            "uuid": str(uuid.uuid4()),
            "event": f"kill-{i % 3}",
            "distinct_id": f"user-{i % 10}",
            "person_id": "00000000-0000-0000-0000-000000000000",
            "timestamp": f"2026-11-{10 + round_:02d}T12:{i // 60:02d}:{i % 60:02d}+00:00",
            "properties": json.dumps({"$browser": "Chrome", "$current_url": f"https://shop.example/{i}"}),
            "session_id": "",
            "window_id": "",
        }
        for i in range(n)
    ]


@pytest.mark.skipif(
    os.environ.get("CLICKHOUSE_URL", "chdb").split(":")[0] != "chdb", reason="embedded store only"
)
def test_a_writer_killed_mid_insert_leaves_nothing_twice_and_nothing_missing():
    directory = Path(tempfile.mkdtemp(prefix="sextant-kills-"))
    env = _env(directory)
    rng = random.Random(29)
    try:
        _manage(env, "migrate_clickhouse")
        _manage(env, "shell", "-c", SETUP)
        sent = 0
        killed_mid_write = 0
        for round_ in range(ROUNDS):
            batch = _batch(100, round_)
            sent += len(batch)
            path = directory / f"batch-{round_}.json"
            path.write_text(json.dumps(batch))
            code = _code(WRITE, BATCH=str(path), PROJECT=PROJECT)
            child = subprocess.Popen(  # noqa: S603
                [sys.executable, str(BASE / "manage.py"), "shell", "-c", code],
                env=env,
                cwd=BASE,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
                start_new_session=True,
            )
            lines = []
            while "writing" not in lines and len(lines) < 5:  # the shell may first say what it imported
                lines.append(child.stdout.readline().strip())
            assert lines[-1] == "writing", lines
            time.sleep(rng.uniform(0.3, 1.6))  # into the ~2 s the test view takes
            os.killpg(child.pid, signal.SIGKILL)
            child.wait(timeout=30)
            killed_mid_write += child.returncode == -signal.SIGKILL
            out = _manage(env, "shell", "-c", code)  # the redelivery, by a new process
            assert out.splitlines()[-2:] == ["writing", "stored"], out
        assert killed_mid_write == ROUNDS
        found = json.loads(
            _manage(env, "shell", "-c", _code(COUNT, PROJECT=PROJECT)).strip().splitlines()[-1]
        )
        assert found == {"events": [sent, sent], "copy": [sent, sent], "known": [sent], "rollup": [sent]}
    finally:
        shutil.rmtree(directory, ignore_errors=True)
