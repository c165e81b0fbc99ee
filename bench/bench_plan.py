"""Capture throughput with the tracking plan enforced vs not (docs/tracking-plan.md, "Enforcement").

    .venv/bin/python bench/bench_plan.py [--events 20000] [--rounds 3] [--batch 100]

Two projects in one process: one in quarantine mode with a plan of 50 events x 10
properties (types string / number / boolean / datetime / array / object, required
properties, allowed values, a pattern), one with no plan (allow). The same events
(names of the plan, properties that pass, so everything is stored) go through
`process_events` in SDK-sized batches of --batch, then through `writer.write_jobs` in
groups of 10 requests (what the group-commit writer does under load). Requests alternate
plan on / off (so both see the same machine load); medians of --rounds. Prints events/s
of processing alone (wall, and the thread's CPU time per event, which other processes
on the machine disturb less), of processing + storing, the ratios on/off, and the
check alone in µs per event.
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

    class Tally:
        def __init__(self):
            self.process_s = self.process_cpu = self.store_s = 0.0
            self.events = 0
            self.jobs: list = []

        def process(self, project, events: list[dict]) -> None:
            ctx = processing.RequestContext(now=dt.datetime.now(dt.UTC), ip="10.0.0.1")
            t0, c0 = time.perf_counter(), time.thread_time()
            job, rejected = processing.process_events(events, project, ctx)
            self.process_cpu += time.thread_time() - c0
            self.process_s += time.perf_counter() - t0
            assert not rejected and not job.quarantined, (rejected, job.quarantined[:1])
            self.events += len(events)
            self.jobs.append(job)
            if len(self.jobs) == 10:
                self.flush()

        def flush(self) -> None:
            if self.jobs:
                t0 = time.perf_counter()
                writer.write_jobs(self.jobs)
                self.store_s += time.perf_counter() - t0
                self.jobs = []

    def round_(n: int) -> dict[str, Tally]:
        """Plan on and off interleaved request by request, so both see the same machine load."""
        tallies = {"on": Tally(), "off": Tally()}
        for _ in range(0, n, args.batch):
            for mode, project in (("on", on), ("off", off)):
                tallies[mode].process(project, [raw_event(rng) for _ in range(args.batch)])
        for tally in tallies.values():
            tally.flush()
        return tallies

    round_(1000)  # warm-up: caches, ua parser, first parts
    results: dict[str, list[tuple[float, float, float]]] = {"on": [], "off": []}
    for _ in range(args.rounds):
        for mode, t in round_(args.events).items():
            results[mode].append(
                (t.events / t.process_s, t.process_cpu / t.events * 1e6, t.events / (t.process_s + t.store_s))
            )
    rows = []
    med = {}
    for mode in ("on", "off"):
        process_rate = statistics.median(r[0] for r in results[mode])
        cpu_us = statistics.median(r[1] for r in results[mode])
        total_rate = statistics.median(r[2] for r in results[mode])
        med[mode] = (process_rate, total_rate, cpu_us)
        rows.append(
            {
                "plan": "quarantine, 50x10" if mode == "on" else "none (allow)",
                "process ev/s": round(process_rate),
                "process CPU µs/ev": round(cpu_us, 1),
                "process+store ev/s": round(total_rate),
                "runs process ev/s": " ".join(f"{r[0]:.0f}" for r in results[mode]),
                "runs total ev/s": " ".join(f"{r[2]:.0f}" for r in results[mode]),
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
    ratio_cpu = med["off"][2] / med["on"][2]
    print(
        f"\nplan on / off (events/s): processing {ratio_process:.2f} (by CPU time {ratio_cpu:.2f}),"
        f" processing + storing {ratio_total:.2f}"
    )
    print(f"plan cache: {enforcement.stats}")
    common.write_results(
        "plan",
        {
            "args": vars(args),
            "rows": rows,
            "ratio_process": ratio_process,
            "ratio_total": ratio_total,
            "ratio_process_cpu": ratio_cpu,
            "check_us_per_event": check_us,
        },
    )


if __name__ == "__main__":
    main()
