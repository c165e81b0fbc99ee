"""Alerts benchmark: one evaluation round of N rules (the hourly beat's work) on generated events.

    .venv/bin/python bench/bench_alerts.py [--rules 200] [--rounds 3] [--events 10000000] [--days 60] [--reuse DIR]

Generates events with bench/common.py's generator in a throwaway chdb directory (and a
throwaway SQLite for the rules), ending 2026-06-01 00:00 UTC. Creates `--rules` rules
cycling through: hourly seasonal z-score rules on saved trends insights (five events x
total / unique persons), daily seasonal rules, hourly relative-change rules, and
project-level ingestion rules (events per hour, freshness). Each round resets the rules
(no period judged) and evaluates every rule at 00:05 the next hour, as the beat's
`alerts.evaluate_due_rules` + `alerts.evaluate_rule` would, serially in this process:
each judges the last complete period, fetching (weeks + 1) weeks of history through the
insight runner; firings compute their root cause (7 dimensions, one breakdown run each).
With --fire, the judged hour is the one after the data ends, so volume rules fire and
compute their root cause (the worst case). Prints wall and CPU seconds per round (CPU of this process: chdb runs in it) and per
rule; writes bench/results/alerts.json.
"""

from __future__ import annotations

import datetime as dt
import os
import time

import common

END = dt.datetime(2026, 6, 1, tzinfo=dt.UTC)
EVENTS = ["$pageview", "$autocapture", "settings_changed", "signed_up", "purchase"]


def make_rules(n: int):
    from alerts.models import AlertRule  # noqa: PLC0415
    from analytics_app.models import Project  # noqa: PLC0415
    from dashboards.models import Insight  # noqa: PLC0415

    project, _ = Project.objects.get_or_create(pk=common.PROJECT_ID, defaults={"name": "bench"})
    AlertRule.objects.filter(project=project).delete()
    insights = []
    for event in EVENTS:
        for math in ("total", "dau"):
            spec = {"kind": "TrendsQuery", "series": [{"event": event, "math": math}], "date_from": "-7d"}
            insights.append(
                Insight.objects.create(project=project, name=f"{event} {math}", kind="TrendsQuery", spec=spec)
            )
    kinds = []
    for i in range(n):
        variant = i % 10
        fields = {"project": project, "name": f"rule {i}", "channels": []}
        if variant < 6:
            fields.update(insight=insights[i % len(insights)], interval="hour", detector="seasonal")
        elif variant == 6:
            fields.update(insight=insights[i % len(insights)], interval="day", detector="seasonal")
        elif variant == 7:
            fields.update(insight=insights[i % len(insights)], interval="hour", detector="relative",
                          params={"compare_to": "last_week", "percent": 50})  # fmt: skip
        elif variant == 8:
            fields.update(metric="events_per_period", interval="hour", detector="seasonal")
        else:
            fields.update(metric="freshness_minutes", interval="hour", detector="threshold",
                          params={"op": "above", "value": 60})  # fmt: skip
        kinds.append(AlertRule.objects.create(**fields))
    return kinds


def main() -> None:
    parser = common.data_parser(__doc__, days=60)
    parser.add_argument("--rules", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--fire",
        action="store_true",
        help="judge the hour after the data ends: volume rules see a drop to zero and fire (root cause runs)",
    )
    args = parser.parse_args()
    os.environ.setdefault("EMAIL_BACKEND", "django.core.mail.backends.locmem.EmailBackend")
    data = common.load_or_generate(args, "alerts", END)
    from django.core.management import call_command  # noqa: PLC0415

    call_command("migrate", verbosity=0)
    from alerts.evaluate import evaluate  # noqa: PLC0415
    from alerts.models import AlertEvent, AlertRule  # noqa: PLC0415

    make_rules(args.rules)
    now = END + dt.timedelta(hours=1 if args.fire else 0, minutes=5)
    rounds = []
    for r in range(args.rounds):
        AlertEvent.objects.all().delete()
        AlertRule.objects.update(state="ok", last_period_start=None, last_fired_at=None)
        fresh = list(AlertRule.objects.select_related("project", "insight").order_by("pk"))
        wall0, cpu0 = time.perf_counter(), common.cpu_seconds()
        per_rule = []
        fired = 0
        for rule in fresh:
            t0 = time.perf_counter()
            events = evaluate(rule, now)
            per_rule.append(time.perf_counter() - t0)
            fired += sum(1 for e in events if e.is_firing)
        wall, cpu = time.perf_counter() - wall0, common.cpu_seconds() - cpu0
        per_rule.sort()
        row = {
            "round": r + 1,
            "rules": len(fresh),
            "firing": fired,
            "wall_s": round(wall, 2),
            "cpu_s": round(cpu, 2),
            "per_rule_median_ms": round(per_rule[len(per_rule) // 2] * 1000, 1),
            "per_rule_p95_ms": round(per_rule[int(len(per_rule) * 0.95)] * 1000, 1),
            "errors": AlertRule.objects.exclude(last_error="").count(),
        }
        rounds.append(row)
        print(f"  round {r + 1}: {row}", flush=True)
    common.print_table(rounds)
    common.write_results(
        "alerts",
        {
            **common.data_payload(args, data, 0.0),
            "rules": args.rules,
            "fire": args.fire,
            "rounds": rounds,
        },
    )


if __name__ == "__main__":
    main()
