"""Capture throughput with the tracking plan enforced vs not (docs/tracking-plan.md, "Enforcement").

    .venv/bin/python bench/bench_plan.py [--events 20000] [--rounds 3] [--batch 100]

Two projects in one process: one in quarantine mode with a plan of 50 events x 10
properties (types string / number / boolean / datetime / array / object, required
properties, allowed values, a pattern), one with no plan (allow). The same events
(names of the plan, properties that pass, so everything is stored) go through
`process_events` in SDK-sized batches of --batch, then through `writer.write_jobs` in
groups of 10 requests (what the group-commit writer does under load). Rounds alternate
plan on / off; medians of --rounds. Prints events/s of processing alone and of
processing + storing, and the ratios on/off.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import statistics
import time
import uuid

import common

N_EVENTS = 50
N_PROPS = 10
PROPS = [
    {"name": "plan", "type": "string", "required": True, "allowed_values": ["free", "pro", "team"]},
    {"name": "amount", "type": "number", "required": True},
    {"name": "trial", "type": "boolean"},
    {"name": "coupon", "type": "string", "pattern": "[A-Z]{4}[0-9]{2}"},
    {"name": "started_at", "type": "datetime"},
    {"name": "source", "type": "string"},
    {"name": "seats", "type": "number", "allowed_values": [1, 5, 10, 50]},
    {"name": "tags", "type": "array"},
    {"name": "context", "type": "object"},
    {"name": "referrer", "type": "string", "required": True},
]


def make_plan(project) -> None:
    from governance.models import EventDefinition, PlanSettings, PropertyDefinition  # noqa: PLC0415

    PlanSettings.objects.create(project=project, enforcement="quarantine")
    for i in range(N_EVENTS):
        definition = EventDefinition.objects.create(project=project, name=f"object_{i}_done", status="live")
        PropertyDefinition.objects.bulk_create(
            PropertyDefinition(project=project, event=definition, **p) for p in PROPS[:N_PROPS]
        )


def raw_event(rng: random.Random) -> dict:
    return {
        "event": f"object_{rng.randrange(N_EVENTS)}_done",
        "distinct_id": f"user-{rng.randrange(5000)}",
        "uuid": str(uuid.uuid4()),
        "timestamp": dt.datetime.now(dt.UTC).isoformat(),
        "properties": {
            "plan": rng.choice(["free", "pro", "team"]),
            "amount": rng.randrange(1, 500) / 4,
            "trial": rng.random() < 0.5,
            "coupon": "SAVE" + str(rng.randrange(10, 99)),
            "started_at": "2026-12-01T10:00:00Z",
            "source": rng.choice(["ads", "newsletter", "organic"]),
            "seats": rng.choice([1, 5, 10, 50]),
            "tags": ["a", "b"],
            "context": {"page": "/pricing"},
            "referrer": "https://example.com/",
            "$lib": "web",
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--events", type=int, default=10_000, help="events per mode per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--batch", type=int, default=100, help="events per capture request")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    common.setup_django(django_migrate=True)
    from analytics_app.models import Project  # noqa: PLC0415
    from governance import enforcement  # noqa: PLC0415
    from ingestion import processing, writer  # noqa: PLC0415

    assert processing.plan_enforcer is enforcement.enforcer_for, "governance did not register the checker"
    on = Project.objects.create(pk=common.PROJECT_ID, name="plan on")
    off = Project.objects.create(pk=common.PROJECT_ID + 1, name="plan off")
    make_plan(on)
    rng = random.Random(args.seed)

    def run(project, events: list[dict]) -> tuple[float, float, int]:
        """Seconds processing, seconds storing, events stored."""
        process_s = store_s = 0.0
        jobs = []
        for start in range(0, len(events), args.batch):
            ctx = processing.RequestContext(now=dt.datetime.now(dt.UTC), ip="10.0.0.1")
            t0 = time.perf_counter()
            job, rejected = processing.process_events(events[start : start + args.batch], project, ctx)
            process_s += time.perf_counter() - t0
            assert not rejected and not job.quarantined, (rejected, job.quarantined[:1])
            jobs.append(job)
            if len(jobs) == 10:
                t0 = time.perf_counter()
                writer.write_jobs(jobs)
                store_s += time.perf_counter() - t0
                jobs = []
        if jobs:
            t0 = time.perf_counter()
            writer.write_jobs(jobs)
            store_s += time.perf_counter() - t0
        return process_s, store_s, len(events)

    run(on, [raw_event(rng) for _ in range(1000)])  # warm-up: caches, ua parser, first parts
    run(off, [raw_event(rng) for _ in range(1000)])
    results: dict[str, list[tuple[float, float]]] = {"on": [], "off": []}
    for _ in range(args.rounds):
        for mode, project in (("on", on), ("off", off)):
            events = [raw_event(rng) for _ in range(args.events)]
            p, s, n = run(project, events)
            results[mode].append((n / p, n / (p + s)))
    rows = []
    med = {}
    for mode in ("on", "off"):
        process_rate = statistics.median(r[0] for r in results[mode])
        total_rate = statistics.median(r[1] for r in results[mode])
        med[mode] = (process_rate, total_rate)
        rows.append(
            {
                "plan": "quarantine, 50x10" if mode == "on" else "none (allow)",
                "process ev/s": round(process_rate),
                "process+store ev/s": round(total_rate),
                "runs process ev/s": " ".join(f"{r[0]:.0f}" for r in results[mode]),
                "runs total ev/s": " ".join(f"{r[1]:.0f}" for r in results[mode]),
            }
        )
    common.print_table(rows)
    # the check alone, on the processed properties (what process_event hands it)
    checker = enforcement.enforcer_for(on)
    sample = [raw_event(rng) for _ in range(args.events)]
    pairs = [(e["event"], {**e["properties"], "$ip": "10.0.0.1"}) for e in sample]
    check_times = []
    for _ in range(args.rounds):
        t0 = time.perf_counter()
        for name, props in pairs:
            checker.check(name, props)
        check_times.append((time.perf_counter() - t0) / len(pairs))
    check_us = statistics.median(check_times) * 1e6
    print(f"\nthe check alone: {check_us:.1f} µs per event (10 properties)")
    ratio_process = med["on"][0] / med["off"][0]
    ratio_total = med["on"][1] / med["off"][1]
    print(f"\nplan on / off: processing {ratio_process:.2f}, processing + storing {ratio_total:.2f}")
    print(f"plan cache: {enforcement.stats}")
    common.write_results(
        "plan",
        {
            "args": vars(args),
            "rows": rows,
            "ratio_process": ratio_process,
            "ratio_total": ratio_total,
            "check_us_per_event": check_us,
        },
    )


if __name__ == "__main__":
    main()
