"""The ingestion fault suite (`manage.py fault_suite`; a short run is tests/ingestion/test_fault_suite.py).

It runs Sextant as real processes on loopback, in a scratch directory, and
hurts them while an SDK-style client sends events:

- `kills`: clients send N events in batches of 100 (each event with its uuid; a
  batch that gets no 200 is re-sent with the same uuids, like posthog-js and
  posthog-python), while the server process (web + writer, or web + stream
  consumer) and, in Redis mode, Redis itself are killed with SIGKILL at random
  moments and restarted;
- `refusals`: ClickHouse refuses every insert for a while (TOO_MANY_PARTS, then
  NOT_ENOUGH_SPACE, through the layer's fault seam
  analytics_app/clickhouse/faults.py) and then recovers;
- `replay`: the events of both are sent twice more.

For each it prints sent / acknowledged / stored / lost / duplicated (lost = an
acknowledged uuid that is not stored; duplicated = stored rows minus distinct
uuids; counted from a plain MergeTree copy of every row inserted into `events`, since
`events` is a ReplacingMergeTree whose merges would hide a duplicate) and the
quarantine count. The pass line: lost = 0, duplicated = 0,
nothing quarantined, every acknowledged event stored within the stated bound
after the faults end, and the server alive (GET /health/ answers 200).

Modes: `embedded` (SQLite + chdb, `manage.py serve`) and `redis` (PostgreSQL +
a private redis-server with appendonly + chdb, `manage.py serve` runs the
consumer thread). With chdb only one process may open the store, so the stored
events are counted by a short `manage.py shell` after the server stopped.
Everything is bounded: every wait has a deadline, every loop a count.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
MANAGE = str(BASE_DIR / "manage.py")
BATCH = 100
BOUND_SECONDS = 60.0  # after the faults end, every acknowledged event must be stored within this


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, timeout: float, step: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(Exception):
            if condition():
                return True
        time.sleep(step)
    return False


class RedisServer:
    """A private redis-server on a loopback port (never the shared one), killable with SIGKILL."""

    def __init__(self, directory: Path, *, appendonly: bool = True):
        self.dir = directory
        self.dir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        self.appendonly = appendonly
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        binary = shutil.which("redis-server")
        if not binary:
            raise RuntimeError("redis-server is not installed")
        args = [binary, "--bind", "127.0.0.1", "--port", str(self.port), "--dir", str(self.dir), "--save", ""]
        args += (
            ["--appendonly", "yes", "--appendfsync", "always"] if self.appendonly else ["--appendonly", "no"]
        )
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # noqa: S603
        import redis  # noqa: PLC0415

        client = redis.Redis(host="127.0.0.1", port=self.port, socket_timeout=2)
        if not wait_until(lambda: client.ping(), 15):
            raise RuntimeError("redis-server did not start")
        if not wait_until(lambda: client.info("persistence").get("loading") == 0, 30):
            raise RuntimeError("redis-server did not finish loading its append-only file")

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()


class Server:
    """`manage.py serve` in its own process group, on a loopback port."""

    def __init__(self, env: dict[str, str], log_path: Path):
        self.env = env
        self.port = free_port()
        self.log_path = log_path
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120.0) -> None:
        log = open(self.log_path, "ab")  # noqa: SIM115 - owned by the child
        self.proc = subprocess.Popen(  # noqa: S603
            [
                sys.executable,
                MANAGE,
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-migrate",
            ],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=BASE_DIR,
            start_new_session=True,
        )
        log.close()
        self.starts += 1
        if not wait_until(self.alive, timeout, 0.2):
            raise RuntimeError(f"the server did not come up; see {self.log_path}")

    def alive(self) -> bool:
        if self.proc is None or self.proc.poll() is not None:
            return False
        with urllib.request.urlopen(self.url + "/health/", timeout=5) as response:  # noqa: S310 - loopback
            return response.status == 200

    def kill(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclasses.dataclass
class Tally:
    name: str
    sent: int = 0
    acknowledged: int = 0
    stored: int = 0
    lost: int = 0
    duplicated: int = 0
    quarantined: int = 0
    requests: int = 0
    retries: int = 0
    answers: dict = dataclasses.field(default_factory=dict)
    seconds_to_stored: float = 0.0

    @property
    def passed(self) -> bool:
        return self.lost == 0 and self.duplicated == 0 and self.quarantined == 0

    def line(self) -> str:
        codes = " ".join(f"{k}:{v}" for k, v in sorted(self.answers.items()))
        return (
            f"{self.name:<10} sent {self.sent:>6}  acknowledged {self.acknowledged:>6}  stored {self.stored:>6}  "
            f"lost {self.lost}  duplicated {self.duplicated}  quarantined {self.quarantined}  "
            f"requests {self.requests} (retries {self.retries}; answers {codes})"
        )


class Client:
    """SDK-style sender: batches of BATCH events; a batch without a 200 is re-sent unchanged."""

    def __init__(self, url_of, token: str, *, threads: int = 4, give_up_after: float = 180.0):
        self.url_of = url_of  # the server's port changes on restart
        self.token = token
        self.threads = threads
        self.give_up_after = give_up_after
        self.lock = threading.Lock()
        self.acked: set[str] = set()
        self.names: dict[str, str] = {}  # uuid -> event name (the scenario)
        self.pace = 0.0  # seconds a thread waits between its batches (an SDK flushes on a timer)

    def make_batches(self, name: str, n: int) -> list[list[dict]]:
        now = time.time()
        events = [
            {
                "event": name,
                "distinct_id": f"user-{i % 500}",
                "uuid": str(uuid.uuid4()),
                "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(now)) + f".{i % 1000:03d}Z",
                "properties": {"i": i, "$lib": "fault-suite"},
            }
            for i in range(n)
        ]
        self.names.update((e["uuid"], name) for e in events)
        return [events[i : i + BATCH] for i in range(0, n, BATCH)]

    def send_all(self, batches: list[list[dict]], tally: Tally) -> None:
        tally.sent += sum(len(b) for b in batches)
        work = list(batches)
        threads = [threading.Thread(target=self._worker, args=(work, tally)) for _ in range(self.threads)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=self.give_up_after + 60)

    def _worker(self, work: list, tally: Tally) -> None:
        while True:
            with self.lock:
                if not work:
                    return
                batch = work.pop()
            self._send(batch, tally)
            if self.pace:
                time.sleep(self.pace)

    def _send(self, batch: list[dict], tally: Tally) -> None:
        body = json.dumps({"api_key": self.token, "batch": batch}).encode()
        deadline = time.monotonic() + self.give_up_after
        attempt = 0
        while time.monotonic() < deadline:  # bounded: an SDK gives up eventually too
            status, retry_after = self._post(body)
            with self.lock:
                tally.requests += 1
                tally.answers[status] = tally.answers.get(status, 0) + 1
                if status == 200:
                    tally.acknowledged += len(batch)
                    self.acked.update(e["uuid"] for e in batch)
                    return
                tally.retries += 1
            time.sleep(min(retry_after or 0.2 * 2**attempt, 2.0))
            attempt += 1

    def _post(self, body: bytes) -> tuple[int, float | None]:
        request = urllib.request.Request(  # noqa: S310 - loopback
            self.url_of() + "/batch/", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
                return response.status, None
        except urllib.error.HTTPError as exc:
            after = exc.headers.get("Retry-After")
            return exc.code, float(after) if after and after.isdigit() else None
        except (OSError, urllib.error.URLError):
            return 0, None  # connection refused/reset: the server is down


# `events` is a ReplacingMergeTree on uuid: a background merge would hide a duplicate
# insert. This plain table, filled by a materialized view from every INSERT into
# events (scratch store only), keeps every row ever inserted, so duplicates stay countable.
# Like every table below events it deduplicates blocks by the insert's token
# (migration 0013): the writer repeats an interrupted insert, and only the tables that
# missed the block take it.
SETUP_SCRIPT = """
from analytics_app import clickhouse as ch
ch.command("CREATE TABLE IF NOT EXISTS fault_suite_rows (project_id UInt32, uuid UUID, event String) "
           "ENGINE = MergeTree ORDER BY (project_id, uuid) SETTINGS non_replicated_deduplication_window = 1000",
           global_=True)
ch.command("CREATE MATERIALIZED VIEW IF NOT EXISTS fault_suite_rows_mv TO fault_suite_rows "
           "AS SELECT project_id, uuid, toString(event) AS event FROM events", global_=True)
"""

COUNT_SCRIPT = """
import json
from analytics_app import clickhouse as ch
pid = PROJECT_ID
rows = ch.query(
    "SELECT event, uniqExact(uuid) AS u, groupUniqArray(toString(uuid)) AS ids "
    "FROM events WHERE project_id = {project_id:UInt32} GROUP BY event", {"project_id": pid}).dicts()
inserted = {r["event"]: r["n"] - r["u"] for r in ch.query(
    "SELECT event, count() AS n, uniqExact(uuid) AS u "
    "FROM fault_suite_rows WHERE project_id = {project_id:UInt32} GROUP BY event", {"project_id": pid}).dicts()}
for r in rows:
    r["duplicated"] = inserted.get(r["event"], 0)
warn = ch.query(
    "SELECT type, count() AS n FROM ingestion_warnings WHERE project_id = {project_id:UInt32} GROUP BY type",
    {"project_id": pid}).dicts()
print(json.dumps({"events": rows, "warnings": warn}))
"""


class Suite:
    def __init__(self, mode: str, events: int, kills: int, *, seed: int = 13, out=print, keep: bool = False):
        self.mode = mode
        self.events = events
        self.kills = kills
        self.random = random.Random(seed)
        self.out = out
        self.keep = keep
        self.dir = Path(tempfile.mkdtemp(prefix=f"sextant-faults-{mode}-"))
        self.fault_file = self.dir / "clickhouse-fault"
        self.redis: RedisServer | None = None
        self.database_url = ""
        self._database: tuple[str, str] | None = None
        self.env: dict[str, str] = {}
        self.tallies: list[Tally] = []
        self.alive = False
        self.refused_attempts = 0
        self.notes: list[str] = []

    # ---------------------------------------------------------------- set-up
    def _environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SEXTANT_", "REDIS_", "DATABASE_"))}
        env.update(
            {
                "SEXTANT_VAR_DIR": str(self.dir / "var"),
                "CLICKHOUSE_URL": f"chdb://{self.dir / 'var' / 'chdb'}",
                "SEXTANT_CLICKHOUSE_FAULT_FILE": str(self.fault_file),
                "SEXTANT_RATE_LIMIT_EVENTS_PER_SECOND": "1000000",
                "SEXTANT_INGEST_CLAIM_IDLE_MS": "5000",
                "SEXTANT_INGEST_RECLAIM_EVERY_MS": "1000",
                "SEXTANT_INGEST_BUSY_WAIT_MS": "2000",
                "DJANGO_SETTINGS_MODULE": "analytics_app.settings",
                "LOG_LEVEL": "WARNING",
                "PYTHONUNBUFFERED": "1",
            }
        )
        env.pop("CLICKHOUSE_URL_OVERRIDE", None)
        if self.mode == "redis":
            env["REDIS_URL"] = self.redis.url
            env["DATABASE_URL"] = self.database_url
        return env

    def _create_database(self) -> None:
        import psycopg  # noqa: PLC0415

        url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
        if not url.startswith("postgres"):
            url = "postgres://postgres@127.0.0.1:5432/postgres"
        base = url.rsplit("/", 1)[0] + "/postgres"  # the maintenance database of the same server
        name = f"sextant_faults_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # a generated identifier, not input
        self.database_url = base.rsplit("/", 1)[0] + "/" + name
        self._database = (base, name)

    def _drop_database(self) -> None:
        import psycopg  # noqa: PLC0415

        base, name = self._database
        with psycopg.connect(base, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def _manage(self, *args: str, timeout: float = 300) -> str:
        done = subprocess.run(  # noqa: S603
            [sys.executable, MANAGE, *args],
            env=self.env,
            cwd=BASE_DIR,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode:
            raise RuntimeError(f"manage.py {args[0]} failed: {done.stderr[-2000:]}")
        return done.stdout

    def setup(self) -> None:
        if self.mode == "redis":
            self.redis = RedisServer(self.dir / "redis")
            self.redis.start()
            self._create_database()
        self.env = self._environment()
        self._manage("migrate", "--noinput")
        self._manage("shell", "-c", SETUP_SCRIPT)
        creds = json.loads(
            self._manage(
                "bootstrap",
                "--email",
                "faults@example.com",
                "--password",
                "fault-suite-pw",
                "--project",
                "Fault suite",
                "--json",
            )  # fmt: skip
        )
        self.project_id, self.token = creds["project_id"], creds["project_token"]
        self.server = Server(self.env, self.dir / "server.log")
        self.server.start()
        self.client = Client(lambda: self.server.url, self.token)

    def teardown(self) -> None:
        """Stop whatever set-up got to start (it may have failed half-way)."""
        server = getattr(self, "server", None)
        if server is not None:
            with contextlib.suppress(Exception):
                server.stop()
        if self.redis:
            self.redis.stop()
        if getattr(self, "_database", None):
            with contextlib.suppress(Exception):
                self._drop_database()
        if not self.keep:
            shutil.rmtree(self.dir, ignore_errors=True)

    # ---------------------------------------------------------------- faults
    def _killer(self, stop: threading.Event, kills: int, spacing: float) -> None:
        """Kill -9 the server (and, in Redis mode, every other time Redis) at random moments; restart."""
        for n in range(kills):
            if stop.wait(self.random.uniform(0.3, spacing)):
                return
            victim = "redis" if self.redis and n % 2 == 1 else "server"  # the server holds the consumer
            if victim == "redis":
                self.redis.kill()
                time.sleep(self.random.uniform(0.1, 1.0))
                self.redis.start()
            else:
                self.server.kill()
                time.sleep(self.random.uniform(0.1, 1.0))
                self.server.start()
            self.notes.append(f"killed {victim} (-9) and restarted it")

    def _wait_stored(self) -> float:
        """Wait (bounded) until what was acknowledged is stored: embedded, until the spool has
        nothing after its checkpoint; Redis, until the consumer group has nothing pending and no lag."""
        started = time.monotonic()
        if not self.redis:
            from .spool import backlog  # noqa: PLC0415

            folder = self.dir / "var" / "chdb" / "sextant-spool"
            if not wait_until(lambda: backlog(folder) == 0, BOUND_SECONDS, 0.2):
                self.notes.append(f"the spool was not drained within {BOUND_SECONDS:.0f}s")
            return time.monotonic() - started
        import redis  # noqa: PLC0415

        client = redis.Redis.from_url(self.redis.url, socket_timeout=5)

        def drained() -> bool:
            groups = client.xinfo_groups("sextant:ingest")
            return bool(groups) and groups[0]["pending"] == 0 and groups[0]["lag"] == 0

        if not wait_until(drained, BOUND_SECONDS, 0.2):
            self.notes.append(f"the stream was not drained within {BOUND_SECONDS:.0f}s")
        return time.monotonic() - started

    def _phase(self, what: str, since: float) -> float:
        now = time.monotonic()
        self.notes.append(f"{what}: {now - since:.1f}s")
        return now

    def run(self) -> bool:
        clock = time.monotonic()
        try:
            self.setup()
            clock = self._phase("set-up (migrate, bootstrap, first start)", clock)
            kills = Tally("kills")
            batches_kills = self.client.make_batches("fault_kills", self.events)
            stop = threading.Event()
            spacing = max(1.0, min(8.0, self.events / 2500))
            killer = threading.Thread(target=self._killer, args=(stop, self.kills, spacing))
            # Paced so the sending spans the kills: on an idle machine the unpaced batches were
            # all answered before the first kill, and the kills hit nothing in flight.
            self.client.pace = self.kills * spacing * self.client.threads / max(1, len(batches_kills))
            killer.start()
            self.client.send_all(batches_kills, kills)
            self.client.pace = 0.0
            killer.join(timeout=self.kills * (spacing + 130))
            stop.set()
            if not self.server.alive():
                self.server.start()
            clock = self._phase(f"send {self.events} events through {self.kills} kills", clock)
            kills.seconds_to_stored = self._wait_stored()
            clock = self._phase("until stored after the kills", clock)

            refusals = Tally("refusals")
            batches_refusals = self.client.make_batches("fault_refusals", max(BATCH, self.events // 5))
            sender = threading.Thread(target=self.client.send_all, args=(batches_refusals, refusals))
            self.fault_file.write_text("252")
            sender.start()
            time.sleep(3)
            self.fault_file.write_text("243")
            time.sleep(3)
            self.fault_file.unlink()
            sender.join(timeout=600)
            clock = self._phase("send through 3 s of TOO_MANY_PARTS + 3 s of NOT_ENOUGH_SPACE", clock)
            refusals.seconds_to_stored = self._wait_stored()
            clock = self._phase("until stored after the refusals", clock)

            replay = Tally("replay")
            for _ in range(2):
                self.client.send_all(batches_kills + batches_refusals, replay)
            clock = self._phase("replay twice", clock)
            replay.seconds_to_stored = self._wait_stored()
            alive = self.alive = self.server.alive()
            self.notes.append(f"server alive after the faults: {alive}; server starts: {self.server.starts}")
            log = self.server.log_path.read_text(errors="replace")
            self.refused_attempts = log.count("refused the batch") + log.count("cannot take inserts now")
            self.notes.append(f"insert attempts refused by the faults and retried: {self.refused_attempts}")
            self.server.stop()
            self._count({"fault_kills": kills, "fault_refusals": refusals}, replay)
            self._phase("stop and count", clock)
            self.tallies = [kills, refusals, replay]
            for tally in self.tallies:
                self.out(tally.line())
            for note in self.notes:
                self.out("  " + note)
            return alive and all(t.passed for t in self.tallies)
        finally:
            self.teardown()

    def _count(self, by_event: dict[str, Tally], replay: Tally) -> None:
        script = COUNT_SCRIPT.replace("PROJECT_ID", str(int(self.project_id)))
        found = json.loads(self._manage("shell", "-c", script).strip().splitlines()[-1])
        quarantined = sum(w["n"] for w in found["warnings"])
        if quarantined:
            self.notes.append(f"quarantined: {found['warnings']}")
        rows = {r["event"]: r for r in found["events"]}
        stored_ids: set[str] = set()
        for name, tally in by_event.items():
            row = rows.get(name, {"u": 0, "ids": [], "duplicated": 0})
            ids = set(row["ids"])
            stored_ids |= ids
            acked = {u for u in self.client.acked if self.client.names.get(u) == name}
            tally.stored = row["u"]  # distinct uuids stored
            tally.duplicated = row["duplicated"]  # rows inserted more than once
            tally.lost = len(acked - ids)
            tally.quarantined = quarantined
        replay.stored = sum(rows.get(n, {"u": 0})["u"] for n in by_event)
        replay.duplicated = sum(rows[n]["duplicated"] for n in by_event if n in rows)
        replay.lost = len(self.client.acked - stored_ids)
        replay.quarantined = quarantined
