"""Funnel correlation benchmark: FunnelCorrelationRunner next to the plain funnel, same process.

    .venv/bin/python bench/bench_correlation.py [--events 1000000] [--persons 20000] [--days 30]
        [--repeat 3] [--reuse DIR] [--out NAME]

Generates events with bench/common.py's generator (sessions of $pageview, $autocapture,
settings_changed and the funnel events signed_up / activated / purchase, $browser and
plan) and times (median of --repeat, no warm-up) a 3-step ordered funnel
(signed_up -> activated -> purchase, 14-day window): the plain funnel (counts and
conversion times), then its correlation analyses: events (every non-$ event, and with
the $-events), the event property $browser and the person property plan. Prints a
table, writes bench/results/<--out>.json (default correlation).
"""

from __future__ import annotations

import datetime as dt

import common

STEPS = ["signed_up", "activated", "purchase"]


def main() -> None:
    parser = common.data_parser(__doc__, days=30)
    parser.set_defaults(events=1_000_000, persons=20_000)
    parser.add_argument("--out", default="correlation", help="bench/results/<OUT>.json")
    args = parser.parse_args()

    data = common.load_or_generate(args, "correlation", dt.datetime.now(dt.UTC).replace(microsecond=0))
    from funnels.correlation import FunnelCorrelationSpec
    from funnels.queries import FunnelQueryRunner
    from funnels.queries.correlation import FunnelCorrelationRunner
    from funnels.spec import FunnelSpec

    project = common.BenchProject()
    start = data.end - dt.timedelta(days=args.days)
    base = {
        "kind": "FunnelsQuery",
        "date_from": start.isoformat(),
        "date_to": data.end.isoformat(),
        "steps": [{"event": e} for e in STEPS],
        "window": {"value": 14, "unit": "day"},
    }
    rows = []

    def record(name, timing, detail):
        rows.append({"variant": name, "median_s": timing.median, "runs_s": timing.runs, "detail": detail})
        print(f"  {name:45s} {timing.median:7.3f} s  {detail}", flush=True)

    runner = FunnelQueryRunner(project, FunnelSpec.from_json(base, project))
    timing = common.timed(runner.run, args.repeat, warmup=False)
    record(
        f"plain funnel ({timing.value.engine} engine)",
        timing,
        [s.count for s in timing.value.results[0].steps],
    )
    # The correlation partition comes from the arrays engine (the drill-down's): its cost alone.
    runner = FunnelQueryRunner(
        project, FunnelSpec.from_json({**base, "conversion_times": False}, project), engine="arrays"
    )
    timing = common.timed(runner.run, args.repeat, warmup=False)
    record("plain funnel, counts (arrays engine)", timing, [s.count for s in timing.value.results[0].steps])
    corr = {
        "correlation: events": {},
        "correlation: events incl. $-events": {"include_internal": True},
        "correlation: event property $browser": {
            "correlation_type": "properties",
            "property": "$browser",
            "property_type": "event",
        },
        "correlation: person property plan": {
            "correlation_type": "properties",
            "property": "plan",
            "property_type": "person",
        },
    }
    for name, extra in corr.items():
        spec = FunnelCorrelationSpec.from_json({**base, "kind": "FunnelCorrelationQuery", **extra}, project)
        r = FunnelCorrelationRunner(project, spec)
        timing = common.timed(r.run, args.repeat, warmup=False)
        res = timing.value
        top = [(c.candidate, round(c.odds_ratio, 2)) for c in (res.positive[:2] + res.negative[:2])]
        record(name, timing, {"converted": res.success_total, "dropped": res.failure_total, "top": top})

    plain = rows[0]["median_s"]
    print()
    print(f"{'variant':48s} {'median s':>9s} {'vs plain':>9s}")
    for r in rows:
        print(f"{r['variant']:48s} {r['median_s']:9.3f} {r['median_s'] / plain:9.2f}")
    common.write_results(args.out, {**common.data_payload(args, data, 0.0), "variants": rows})


if __name__ == "__main__":
    main()
