"""Person resolution on the store path: PersonStore.apply on writer-sized batches.

    .venv/bin/python bench/bench_persons.py [--events 10000] [--users 5000] [--runs 5]

Stores --users identified users through writer.write_jobs, then times `apply` (no
insert: what the writer spends between the dedup lookup and the inserts) on batches of
--events events, each run with a fresh PersonStore whose cache holds the users:

- plain: known users' events, no person operation (the fast path);
- new-device logins: every 20th pair of events is a new anonymous id's `pay` and the
  `$identify` that merges it into a known user, in the same batch (docs/ingestion.md,
  "Identity": the batch's events then carry the merged person);
- stored anonymous ids: the same logins, but the anonymous ids were stored by an
  earlier batch (their mapping is in ClickHouse, so every merge looks up the
  anonymous person's other distinct ids).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import time
import uuid

import common

NOW = dt.datetime(2026, 5, 11, tzinfo=dt.UTC)


def event(name: str, distinct_id: str, person: dict | None = None) -> dict:
    return {
        "uuid": str(uuid.uuid4()),
        "event": name,
        "distinct_id": distinct_id,
        "properties": "{}",
        "timestamp": NOW.isoformat(),
        "session_id": "",
        "window_id": "",
        "person": person or {"process": True},
    }


def logins(n_events: int, users: int, anon_prefix: str) -> list[dict]:
    out, k = [], 0
    while len(out) < n_events:
        if len(out) % 20 == 0:
            anon = f"{anon_prefix}-{k}"
            out.append(event("pay", anon, {"process": False}))
            identify = {"process": True, "identify": True, "merge_from": anon}
            out.append(event("$identify", f"user-{k % users}", identify))
            k += 1
        else:
            out.append(event("$pageview", f"user-{len(out) % users}"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    common.setup_django()
    from ingestion import persons, writer  # noqa: PLC0415
    from ingestion.processing import Job  # noqa: PLC0415

    def store(project_id: int, events: list[dict]) -> None:
        job = Job(project_id)
        job.events = events
        writer.write_jobs([job])

    rows = []
    for kind in ("plain", "new-device logins", "stored anonymous ids"):
        project_id = common.PROJECT_ID + len(rows)
        identify = [
            event("$identify", f"user-{i}", {"process": True, "identify": True, "merge_from": f"seed-{i}"})
            for i in range(args.users)
        ]
        store(project_id, identify)
        times = []
        for run in range(args.runs):
            prefix = f"anon-{run}"
            if kind == "plain":
                batch = [event("$pageview", f"user-{i % args.users}") for i in range(args.events)]
            else:
                batch = logins(args.events, args.users, prefix)
            if kind == "stored anonymous ids":
                store(project_id, [e for e in batch if e["event"] == "pay"])
                batch = [e for e in batch if e["event"] != "pay"]
            person_store = persons.PersonStore()
            warm = [event("$pageview", f"user-{i}") for i in range(args.users)]
            person_store.apply(project_id, warm, [], NOW)
            started = time.perf_counter()
            person_store.apply(project_id, batch, [], NOW)
            times.append(time.perf_counter() - started)
        rows.append(
            {
                "batch": kind,
                "events": len(batch),
                "median ms": statistics.median(times) * 1000,
                "runs ms": " ".join(f"{t * 1000:.0f}" for t in times),
            }
        )
    common.print_table(rows)
    common.write_results("persons", {"args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
