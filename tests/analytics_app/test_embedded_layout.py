"""chdb lets one process open the store: a second process is refused at its start, with
what to run instead, and the query API answers the documented 503 while another process
holds the store (issue 13, defect 6). Every test here runs two real processes."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.urls import reverse

from analytics_app import clickhouse as ch
from analytics_app.clickhouse.backends import ChdbBackend

REPO = Path(__file__).resolve().parents[2]

# A second process pointed at this test process's store, as each production entry point
# starts: the consumer command, gunicorn importing the WSGI module, a Celery worker.
SECOND_PROCESSES = {
    "the ingest consumer": [sys.executable, "manage.py", "ingest_consumer"],
    "the web server": [sys.executable, "-c", "import analytics_app.wsgi"],
    "a Celery worker": [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "analytics_app",
        "worker",
        "--pool",
        "solo",
        "--without-heartbeat",
        "--without-mingle",
        "--without-gossip",
    ],
}


@pytest.mark.parametrize("role", list(SECOND_PROCESSES))
def test_a_second_process_on_the_embedded_store_is_refused_with_what_to_run_instead(role, tmp_path):
    ch.query("SELECT 1", global_=True)  # this process holds the store
    path = ch.backend().path
    env = {
        **os.environ,
        "CLICKHOUSE_URL": f"chdb://{path}",
        "SEXTANT_VAR_DIR": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "analytics_app.settings",
        # The consumer needs a stream to read; it is refused before it connects to Redis.
        "REDIS_URL": os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15",
    }
    if role == "a Celery worker":
        env["REDIS_URL"] = ""  # an in-memory broker: nothing to connect to either
    out = subprocess.run(
        SECOND_PROCESSES[role], cwd=REPO, env=env, capture_output=True, text=True, timeout=120
    )
    assert out.returncode == 1, out.stdout[-2000:] + out.stderr[-2000:]
    assert f"Sextant: refusing to start {role}." in out.stderr
    assert f"is in use by process {os.getpid()}" in out.stderr
    assert "python manage.py serve" in out.stderr
    assert "clickhouse://" in out.stderr
    assert "Traceback" not in out.stderr


@pytest.fixture
def store_held_elsewhere(tmp_path, monkeypatch):
    """Another process opens a chdb store; this process's layer points at it."""
    store = tmp_path / "held"
    code = (
        "import django, sys; django.setup();"
        "from analytics_app import clickhouse as ch;"
        f"ch.configure('chdb://{store}');"
        "ch.query('SELECT 1', global_=True);"
        "print('READY', flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen(
        [sys.executable, "-c", code],
        cwd=REPO,
        env={
            **os.environ,
            "SEXTANT_VAR_DIR": str(tmp_path),
            "DJANGO_SETTINGS_MODULE": "analytics_app.settings",
        },
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        deadline = time.monotonic() + 120
        line = ""
        while time.monotonic() < deadline and not line.startswith("READY"):
            line = holder.stdout.readline()
            if not line:
                break
        assert line.startswith("READY"), holder.poll()
        monkeypatch.setattr(ch, "_backend", ChdbBackend(str(store)))
        yield holder
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)
        holder.stdout.close()


def test_the_query_api_answers_503_json_while_another_process_holds_the_store(
    client, project, api_key, store_held_elsewhere
):
    response = client.post(
        reverse("api_query", kwargs={"project_id": project.pk}),
        {"kind": "EventNamesQuery"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == "The events store is unavailable; try again shortly."
    assert f"is in use by process {store_held_elsewhere.pid}" in body["detail"]


def test_health_answers_503_while_another_process_holds_the_store(client, alice, store_held_elsewhere):
    response = client.get("/health/")
    assert (response.status_code, response.json()) == (503, {"status": "error"})  # no details for anonymous
    client.force_login(alice)
    response = client.get("/health/")
    assert response.status_code == 503
    assert f"process {store_held_elsewhere.pid}" in response.json()["clickhouse"]
