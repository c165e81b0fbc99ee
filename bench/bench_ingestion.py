"""Ingestion benchmark: events/s accepted by /batch/ and request latency, over real HTTP.

    .venv/bin/python bench/bench_ingestion.py [--requests 2000] [--clients 8] [--batch 100]
        [--mode embedded|redis|both] [--dedup-rows 5000000] [--profile] [--loop poll|select]

Runs in one process (chdb allows one process per data dir): a waitress server
serving analytics_app.wsgi.application in a thread on 127.0.0.1:<free port>,
N client threads with keep-alive http.client connections. `redis` mode needs
REDIS_URL (default redis://127.0.0.1:6379/0) and runs the stream consumer as a
thread. `--loop` picks waitress's poll() loop (what `manage.py serve` runs) or its
default select() loop (before issue 13). Also measures the uuid dedup lookup on an event_uuids table of
--dedup-rows rows. Writes bench/results/ingestion.json and prints a table.
"""

from __future__ import annotations

import argparse
import cProfile
import datetime as dt
import json
import os
import pstats
import statistics
import subprocess
import sys
import threading
import time
import uuid
from http.client import HTTPConnection

import common


def setup_django(redis_url: str | None) -> str:
    os.environ["SEXTANT_RATE_LIMIT_EVENTS_PER_SECOND"] = "10000000"
    if redis_url:
        os.environ["REDIS_URL"] = redis_url
    else:
        os.environ.pop("REDIS_URL", None)
    return common.setup_django(django_migrate=True)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def run_http(project, *, requests: int, clients: int, batch: int, mode: str, loop: str = "poll") -> dict:
    import logging

    from waitress.server import create_server

    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" is expected under load

    from analytics_app import clickhouse as ch
    from analytics_app.wsgi import application

    server = create_server(
        application, host="127.0.0.1", port=0, threads=max(8, clients), asyncore_use_poll=loop == "poll"
    )
    port = server.effective_port
    threading.Thread(target=server.run, daemon=True).start()
    consumer = None
    if mode == "redis":
        from ingestion import stream

        stream.client().delete(stream.stream_name())
        consumer = stream.Consumer(block_ms=50, count=200)
        threading.Thread(target=consumer.run, daemon=True).start()

    from ingestion import writer as ingest_writer

    ingest_writer.stats.reset()
    per_client = requests // clients
    # The load runs in a separate process (this script with --client), so the
    # client's JSON encoding and socket work does not hold this process's GIL.
    proc = subprocess.run(
        [
            sys.executable,
            __file__,
            "--client",
            "--port",
            str(port),
            "--token",
            project.api_token,
            "--requests",
            str(per_client * clients),
            "--clients",
            str(clients),
            "--batch",
            str(batch),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    client_result = json.loads(proc.stdout.strip().splitlines()[-1])
    latencies = client_result["latencies"]
    statuses = {int(k): v for k, v in client_result["statuses"].items()}
    accepted_seconds = client_result["seconds"]
    started = time.perf_counter() - accepted_seconds
    sent = per_client * clients * batch
    stored_seconds = accepted_seconds
    if consumer is None:  # embedded: answered once on disk (the spool); stored when the writer is through
        ingest_writer.writer.flush(600)
        stored_seconds = time.perf_counter() - started
    if consumer is not None:
        while (
            ch.query(
                "SELECT count() FROM events WHERE project_id = {project_id:UInt32}",
                {"project_id": project.id},
            ).scalar()
            < sent
        ):
            time.sleep(0.05)
            if time.perf_counter() - started > 600:
                break
        stored_seconds = time.perf_counter() - started
        consumer.stop()
    stored = ch.query(
        "SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": project.id}
    ).scalar()
    server.close()
    return {
        "mode": mode,
        "loop": loop,
        "requests": per_client * clients,
        "events": sent,
        "clients": clients,
        "batch": batch,
        "statuses": statuses,
        "seconds": round(accepted_seconds, 3),
        "events_per_second_accepted": round(sent / accepted_seconds),
        "events_per_second_stored": round(stored / stored_seconds),
        "stored": stored,
        "p50_ms": round(statistics.median(latencies) * 1000, 1),
        "p99_ms": round(percentile(latencies, 99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "store_path": ingest_writer.stats.as_dict(),
    }


def client_main(port: int, token: str, requests: int, clients: int, batch: int) -> None:
    """The load generator (own process): N threads, keep-alive connections, bodies built in advance."""
    per_client = requests // clients
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: dict[int, int] = {}

    def body() -> bytes:
        now = dt.datetime.now(dt.UTC).isoformat()
        return json.dumps(
            {
                "api_key": token,
                "sent_at": now,
                "batch": [
                    {
                        "event": "$pageview",
                        "distinct_id": f"user-{uuid.uuid4().int % 5000}",
                        "uuid": str(uuid.uuid4()),
                        "timestamp": now,
                        "properties": {
                            "$current_url": "https://shop.example/p/1",
                            "$lib": "posthog-python",
                            "price": 9.5,
                            "plan": "pro",
                        },
                    }
                    for _ in range(batch)
                ],
            }
        ).encode()

    bodies = [[body() for _ in range(per_client)] for _ in range(clients)]

    def client_loop(mine_bodies):
        conn = HTTPConnection("127.0.0.1", port, timeout=60)
        mine, codes = [], {}
        for payload in mine_bodies:
            start = time.perf_counter()
            conn.request("POST", "/batch/", body=payload, headers={"Content-Type": "application/json"})
            response = conn.getresponse()
            response.read()
            mine.append(time.perf_counter() - start)
            codes[response.status] = codes.get(response.status, 0) + 1
        conn.close()
        with lock:
            latencies.extend(mine)
            for code, n in codes.items():
                statuses[code] = statuses.get(code, 0) + n

    threads = [threading.Thread(target=client_loop, args=(bodies[i],)) for i in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(
        json.dumps({"seconds": time.perf_counter() - started, "latencies": latencies, "statuses": statuses})
    )


def dedup_lookup(project_id: int, rows: int) -> dict:
    from analytics_app import clickhouse as ch

    t0 = time.perf_counter()
    ch.command(
        "INSERT INTO event_uuids (project_id, uuid) SELECT {project_id:UInt32}, generateUUIDv4() FROM numbers({n:UInt64})",
        {"project_id": project_id, "n": rows},
    )
    fill = time.perf_counter() - t0
    present = [
        str(u)
        for u in ch.query(
            "SELECT uuid FROM event_uuids WHERE project_id = {project_id:UInt32} LIMIT 5000",
            {"project_id": project_id},
        ).column("uuid")
    ]
    from ingestion.queries import existing_event_uuids

    out = {"table_rows": rows, "fill_seconds": round(fill, 2)}
    for size in (100, 1000, 10_000):
        half = size // 2
        ids = present[:half] + [str(uuid.uuid4()) for _ in range(size - half)]
        timings = []
        for _ in range(7):
            t = time.perf_counter()
            found = existing_event_uuids(project_id, ids)
            timings.append(time.perf_counter() - t)
        assert len(found) == half, (len(found), half)
        out[f"lookup_{size}_ms_median"] = round(statistics.median(timings) * 1000, 2)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--batch", type=int, default=100)
    parser.add_argument("--mode", choices=["embedded", "redis", "both"], default="both")
    parser.add_argument("--dedup-rows", type=int, default=5_000_000)
    parser.add_argument(
        "--profile", action="store_true", help="cProfile the embedded run and print the top functions"
    )
    parser.add_argument("--redis-url", default=os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
    parser.add_argument("--loop", choices=["poll", "select"], default="poll")
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        client_main(args.port, args.token, args.requests, args.clients, args.batch)
        return

    modes = ["embedded", "redis"] if args.mode == "both" else [args.mode]
    # REDIS_URL is read at settings import: one Django setup, Redis mode switched with the setting.
    setup_django(None)
    from django.conf import settings

    from analytics_app.models import Project

    results = {"machine_cpus": os.cpu_count(), "runs": []}
    for mode in modes:
        settings.REDIS_URL = args.redis_url if mode == "redis" else ""
        settings.SEXTANT_INGEST_STREAM = f"sextant:bench:{uuid.uuid4().hex}"
        project = Project.objects.create(name=f"bench {mode}")
        profiler = cProfile.Profile() if args.profile and mode == "embedded" else None
        if profiler:
            profiler.enable()
        run = run_http(
            project, requests=args.requests, clients=args.clients, batch=args.batch, mode=mode, loop=args.loop
        )
        if profiler:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(30)
        results["runs"].append(run)
    settings.REDIS_URL = ""
    if args.dedup_rows:
        results["dedup"] = dedup_lookup(Project.objects.create(name="bench dedup").id, args.dedup_rows)

    print(
        f"\n{'mode':<10}{'requests':>9}{'events':>9}{'accepted ev/s':>15}{'stored ev/s':>13}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}  statuses"
    )
    for r in results["runs"]:
        print(
            f"{r['mode']:<10}{r['requests']:>9}{r['events']:>9}{r['events_per_second_accepted']:>15}{r['events_per_second_stored']:>13}{r['p50_ms']:>8}{r['p99_ms']:>8}{r['max_ms']:>8}  {r['statuses']}"
        )
    for r in results["runs"]:
        print(f"store path ({r['mode']}): {r['store_path']}")
    if "dedup" in results:
        d = results["dedup"]
        print(
            f"\ndedup lookup on event_uuids with {d['table_rows']:,} rows: "
            f"100 uuids {d['lookup_100_ms_median']} ms, 1k {d['lookup_1000_ms_median']} ms, 10k {d['lookup_10000_ms_median']} ms (median of 7)"
        )
    common.write_results("ingestion", results)


if __name__ == "__main__":
    main()
