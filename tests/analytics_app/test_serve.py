"""`manage.py serve` as a real process: it stays up with more than 1,024 open descriptors.

chdb merging wide parts holds thousands of files open in the server process; waitress's
default select() loop died with `ValueError: filedescriptor out of range in select()`
once a socket got a descriptor numbered 1024 or more (issue 13, defect 1). The process
here opens 1,100 files before it serves, so every socket it creates (the listener and
each accepted connection) is numbered above 1,100.
"""

from __future__ import annotations

import json
import os
import resource
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
HELD_FILES = 1_100
STARTUP_SECONDS = 120

# Runs in the server process: a user, a project and a key (printed as JSON), 1,100 open
# files, then the real `manage.py serve`.
SERVER = """
import json, os, sys
import django
django.setup()
from django.core.management import call_command
from io import StringIO
call_command("migrate", verbosity=0)
out = StringIO()
call_command("bootstrap", email="ops@example.com", password="correct horse", project="Wide", json=True, stdout=out)
print("BOOTSTRAP " + out.getvalue().strip(), flush=True)
held = [open(os.devnull, "rb") for _ in range({held})]
print("HIGHEST_FD", max(f.fileno() for f in held), flush=True)
call_command("serve", "--host", "127.0.0.1", "--port", sys.argv[1], "--no-migrate")
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _request(url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, dict]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        url, data=data, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310 - loopback only
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def _read_line(proc, prefix: str, deadline: float) -> str:
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        if line.startswith(prefix):
            return line[len(prefix) :].strip()
    raise AssertionError(f"the server process never printed {prefix!r}; it exited with {proc.poll()}")


@pytest.fixture
def server_with_many_files(tmp_path):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < HELD_FILES + 200:
        pytest.skip(f"the hard open-file limit ({hard}) is below what the test needs")
    port = _free_port()
    var = tmp_path / "var"
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "CLICKHOUSE_URL")}
    env.update(SEXTANT_VAR_DIR=str(var), DJANGO_SETTINGS_MODULE="analytics_app.settings", LOG_LEVEL="WARNING")
    log = (tmp_path / "server.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-c", SERVER.format(held=HELD_FILES), str(port)],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
        # The test process may run with a low soft limit; the server needs 1,100 + its own.
        preexec_fn=lambda: resource.setrlimit(
            resource.RLIMIT_NOFILE, (hard if hard != resource.RLIM_INFINITY else 65536, hard)
        ),
    )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        creds = json.loads(_read_line(proc, "BOOTSTRAP ", deadline))
        assert int(_read_line(proc, "HIGHEST_FD ", deadline)) > 1024
        base = f"http://127.0.0.1:{port}"
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if _request(f"{base}/health/")[0] == 200:
                    break
            except OSError:
                time.sleep(0.5)
        yield proc, base, creds
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=30)
        proc.stdout.close()
        log.close()
        assert "out of range" not in (tmp_path / "server.log").read_text()


def test_the_embedded_server_answers_with_more_than_1024_descriptors_open(server_with_many_files):
    proc, base, creds = server_with_many_files
    assert proc.poll() is None
    status, body = _request(f"{base}/health/")
    assert (status, body) == (200, {"status": "ok"})

    # Five batches through capture, each on a fresh connection (a new, high descriptor).
    for n in range(5):
        events = [
            {
                "event": "wide",
                "distinct_id": f"user-{i}",
                "uuid": str(uuid.uuid4()),
                "properties": {f"k{j}": f"v{n}-{i}-{j}" for j in range(30)},
            }
            for i in range(100)
        ]
        status, body = _request(f"{base}/batch/", {"api_key": creds["project_token"], "batch": events})
        assert (status, body) == (200, {"status": 1})

    status, body = _request(
        f"{base}/api/projects/{creds['project_id']}/query/",
        {"kind": "EventNamesQuery", "days": 1},
        {"Authorization": f"Bearer {creds['personal_api_key']}"},
    )
    assert status == 200, body
    assert [(r["event"], r["count"], r["persons"]) for r in body["results"]] == [("wide", 500, 100)]
    assert proc.poll() is None


def test_serve_raises_the_soft_open_file_limit_to_the_hard_one():
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    code = (
        "import resource; from analytics_app.embedded import raise_open_file_limit;"
        "print(*raise_open_file_limit(), resource.getrlimit(resource.RLIMIT_NOFILE)[0])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={**os.environ, "DJANGO_SETTINGS_MODULE": "analytics_app.settings"},
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (256, hard)),
        check=True,
    )
    expected = hard if hard != resource.RLIM_INFINITY else 1_048_576
    assert out.stdout.split() == ["256", str(expected), str(expected)]
