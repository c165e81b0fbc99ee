"""Builder and list pages on the demo data, as a browser's request reaches Django.

    .venv/bin/python bench/bench_pages.py [--reuse DIR] [--persons 20000] [--days 90] [--repeat 5]

Sets up what `./scripts/run.sh` serves (manage.py demo_setup: the admin, the "Demo shop"
project, 20k persons over 90 days, demo recordings) in a new directory (or --reuse one),
then requests each page through Django's test client in this process, logged in as the
admin: middleware, permission checks, the ClickHouse statements (chdb in this process),
templates and charts, but no network. Each page is requested once untimed (per-process
caches as on a live server), then --repeat times; the medians of wall time and of this
process's CPU time (chdb's threads included) go to bench/results/pages.json, with the
number of ClickHouse statements per request.

Full pages and their htmx partial (what the builder sends when a field changes) are
timed separately; the secondary views a page loads after it is shown (time to convert,
conversion over time, top paths) are their own rows.
"""

from __future__ import annotations

import argparse
import datetime as dt
import html
import os
import re
import resource
import shutil
import statistics
import time
from urllib.parse import urlencode

import common

HTMX = {"HX-Request": "true"}
# <div id="time-to-convert" ... hx-get="<url>" hx-trigger="load"...> (and the paths picker's <datalist>)
SECONDARY = re.compile(
    r'<(?:div|datalist) id="([a-z-]+)"[^>]*? hx-get="([^"]+)" hx-trigger="(?:load|intersect once)"'
)


def cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reuse", help="a directory made by an earlier run of this script")
    parser.add_argument("--persons", type=int, default=20_000)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    os.environ.setdefault("SEXTANT_ADMIN_PASSWORD", "bench-pages-password")
    var = common.setup_django(args.reuse, prefix="sextant-bench-pages-", django_migrate=True)
    from django.contrib.auth import get_user_model  # noqa: PLC0415
    from django.core.management import call_command  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415
    from django.test.utils import setup_test_environment  # noqa: PLC0415

    from analytics_app import clickhouse as ch  # noqa: PLC0415
    from analytics_app.models import Project  # noqa: PLC0415

    setup_test_environment()  # the test client's host and a local-memory outbox
    t0 = time.perf_counter()
    call_command(
        "demo_setup", "--persons", str(args.persons), "--days", str(args.days), "--recordings", "100"
    )
    setup_s = time.perf_counter() - t0
    project = Project.objects.get(name="Demo shop")
    events = ch.query(
        "SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": project.pk}
    ).scalar()
    client = Client()
    client.force_login(get_user_model().objects.get(email="admin@sextant.local"))  # the demo's admin

    base = f"/project/{project.pk}"
    funnel = {"step_event": ["$pageview", "signed_up", "purchase"], "order": "ordered", "date_from": "-30d"}
    pages = [
        ("funnels", f"{base}/funnels/", funnel, False),
        ("funnels (htmx)", f"{base}/funnels/", funnel, True),
        ("trends", f"{base}/insights/trends/", {"series_event": "$pageview", "date_from": "-30d"}, False),
        (
            "trends (htmx)",
            f"{base}/insights/trends/",
            {"series_event": "$pageview", "date_from": "-30d"},
            True,
        ),
        ("retention", f"{base}/retention/", {"target_event": "$pageview", "period": "week"}, False),
        ("retention (htmx)", f"{base}/retention/", {"target_event": "$pageview", "period": "week"}, True),
        ("paths", f"{base}/paths/", {"date_from": "-30d"}, False),
        ("paths (htmx)", f"{base}/paths/", {"date_from": "-30d"}, True),
        ("events explorer", f"{base}/events/", {}, False),
        ("persons", f"{base}/persons/", {}, False),
        ("recordings", f"{base}/replay/", {}, False),
    ]
    results = []
    todo = [(name, path + ("?" + urlencode(params, doseq=True) if params else ""), htmx)
            for name, path, params, htmx in pages]  # fmt: skip
    while todo:
        name, url, htmx = todo.pop(0)
        headers = HTMX if htmx else {}
        response = client.get(url, headers=headers)  # untimed: per-process caches
        if response.status_code != 200:
            raise SystemExit(f"{name}: {url} answered {response.status_code}")
        if not htmx and " then " not in name:  # the secondary views the page loads once shown
            for found in SECONDARY.finditer(response.content.decode()):
                todo.insert(0, (f"{name} then {found.group(1)}", html.unescape(found.group(2)), True))
        walls, cpus = [], []
        for _ in range(args.repeat):
            c0, w0 = cpu(), time.perf_counter()
            with ch.counting() as log:
                response = client.get(url, headers=headers)
            walls.append(time.perf_counter() - w0)
            cpus.append(cpu() - c0)
            assert response.status_code == 200
        row = {
            "query": name if " then " in name else f"{name} page",
            "sextant_s": statistics.median(walls),
            "cpu_s": statistics.median(cpus),
            "statements": log.count,
            "bytes": len(response.content),
        }
        results.append(row)
        print(
            f"  {name:22s} {row['sextant_s'] * 1000:7.1f} ms  CPU {row['cpu_s'] * 1000:7.1f} ms  "
            f"{row['statements']} statements",
            flush=True,
        )
    common.write_results(
        "pages",
        {
            "dir": var,
            "events": events,
            "persons": args.persons,
            "days": args.days,
            "setup_s": setup_s,
            "repeat": args.repeat,
            "generated_at": dt.datetime.now(dt.UTC).isoformat(),
            "results": results,
        },
    )
    if not args.reuse:
        shutil.rmtree(var, ignore_errors=True)


if __name__ == "__main__":
    main()
