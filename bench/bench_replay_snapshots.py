"""Replay snapshots API: time to first frame data for a 30-minute, ~2,000-event session.

Two sessions are stored through the ingestion path (posthog-js cv 2024-10 compressed
chunks, as /s/ receives them):

- "real": the posthog-js recording captured in Chromium (tests/replay/fixtures/),
  repeated with shifted timestamps to ~2,000 rrweb events over 30 minutes (every
  repetition is a page load: its own Meta + full snapshot, node ids restart);
- "synthetic": replay.synthetic's DOM-heavy session (large full snapshots), ~2,000
  events over about 30 minutes.

For each: GET /api/projects/<id>/recordings/<session_id>/snapshots/ through Django's
test client (auth, gate, query, decompression, masking, JSON) as an admin and as a
support user (masked), and the same body built in-process (`snapshots_body`), against
a baseline in the same process: the raw chdb read of the same rows (the `data`
column as JSONCompact bytes, no decoding), and that read plus orjson parsing.

    .venv/bin/python bench/bench_replay_snapshots.py --runs 15
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

from common import ROOT, ms, print_table, ratio, setup_django, timed, write_results

FIXTURE = ROOT / "tests" / "replay" / "fixtures" / "posthog_js_session.json"
TARGET_EVENTS = 2000
SPAN_MS = 30 * 60 * 1000


def cpu_median(fn, runs: int) -> float:
    """Median process CPU time (every thread, chdb's included) of `fn`: less sensitive than
    wall time to the other work on a shared machine."""
    times = []
    for _ in range(runs):
        t0 = time.process_time()
        fn()
        times.append(time.process_time() - t0)
    return statistics.median(times)


def real_session(start_ms: int) -> list[dict]:
    """The captured recording, repeated and stretched to ~2,000 events over 30 minutes."""
    from replay.format import decompress_event  # noqa: PLC0415

    base = [decompress_event(e) for e in json.loads(Path(FIXTURE).read_text())["events"]]
    base.sort(key=lambda e: e["timestamp"])
    first, last = base[0]["timestamp"], base[-1]["timestamp"]
    copies = -(-TARGET_EVENTS // len(base))
    slot = SPAN_MS // copies
    stretch = (slot - 1000) / max(1, last - first)
    events = []
    for k in range(copies):
        for e in base:
            events.append({**e, "timestamp": start_ms + k * slot + round((e["timestamp"] - first) * stretch)})
    return events[:TARGET_EVENTS]


def synthetic_session(start_ms: int) -> list[dict]:
    from replay import synthetic  # noqa: PLC0415

    events = synthetic.session_events(
        7, start_ms, pages=12, actions_per_page=60, cards=150, max_events=TARGET_EVENTS
    )
    span = events[-1]["timestamp"] - events[0]["timestamp"]
    scale = SPAN_MS / max(1, span)
    return [{**e, "timestamp": start_ms + round((e["timestamp"] - start_ms) * scale)} for e in events]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15, help="timed runs per measurement (median reported)")
    args = parser.parse_args()
    setup_django(django_migrate=True)

    from django.contrib.auth import get_user_model  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415

    from analytics_app import clickhouse as ch  # noqa: PLC0415
    from analytics_app.jsoncodec import loads  # noqa: PLC0415
    from analytics_app.models import Membership, Project  # noqa: PLC0415
    from governance.presenter import Presenter  # noqa: PLC0415
    from governance.roles import Role
    from replay import synthetic  # noqa: PLC0415
    from replay.queries import SESSION_SNAPSHOTS_SQL as SNAPSHOTS_SQL  # noqa: PLC0415
    from replay.snapshots import snapshots_body  # noqa: PLC0415

    project = Project.objects.create(name="bench", recording_retention_days=3650)
    users = {}
    for role in (Role.ADMIN, Role.SUPPORT):
        user = get_user_model().objects.create(username=f"{role}@bench")
        Membership.objects.create(user=user, project=project, role=role)
        users[role] = Client()
        users[role].force_login(user)

    start_ms = int(time.time() * 1000) - 2 * 3_600_000
    sessions = {"real": real_session(start_ms), "synthetic": synthetic_session(start_ms + 3_600_000)}
    synthetic.write_sessions(project, [(name, "w1", f"user-{name}", ev) for name, ev in sessions.items()])

    raw_conn = ch.backend().connection()

    def raw_sql(session_id: str) -> str:
        # bench-only: the session ids are the two constants above
        return SNAPSHOTS_SQL.replace("{project_id:UInt32}", str(project.id)).replace(
            "{session_id:String}", f"'{session_id}'"
        )

    rows, results = [], {}
    admin, support = (
        Presenter(can_view_pii=True, pii=frozenset()),
        Presenter(can_view_pii=False, pii=frozenset()),
    )
    for name, events in sessions.items():
        url = f"/api/projects/{project.pk}/recordings/{name}/snapshots/"
        page = f"/project/{project.pk}/replay/{name}"
        sql = raw_sql(name)

        def raw_read(sql=sql) -> bytes:
            return raw_conn.query(sql, "JSONCompact").bytes()

        def raw_parse(sql=sql) -> list:
            return [loads(r[0]) for r in json.loads(raw_read(sql))["data"]]

        stored_bytes = len(raw_read())
        checks = {
            "admin": users[Role.ADMIN].get(url).json()["snapshots"],
            "support": users[Role.SUPPORT].get(url).json()["snapshots"],
        }
        if checks["admin"] != events:
            raise SystemExit(f"{name}: the API did not return the recorded events")
        if json.dumps(checks["support"]) == json.dumps(events):
            raise SystemExit(f"{name}: the support user's snapshots were not masked")
        measures = {
            "raw chdb read (baseline)": timed(raw_read, args.runs),
            "raw read + JSON parse": timed(raw_parse, args.runs),
            "snapshots_body admin": timed(lambda n=name: snapshots_body(project, n, admin), args.runs),
            "snapshots_body support (masked)": timed(
                lambda n=name: snapshots_body(project, n, support), args.runs
            ),
            "GET API admin": timed(lambda u=url: users[Role.ADMIN].get(u), args.runs),
            "GET API support (masked)": timed(lambda u=url: users[Role.SUPPORT].get(u), args.runs),
            "GET player page admin": timed(lambda u=page: users[Role.ADMIN].get(u), args.runs),
        }
        fns = {
            "raw chdb read (baseline)": raw_read,
            "raw read + JSON parse": raw_parse,
            "snapshots_body admin": lambda n=name: snapshots_body(project, n, admin),
            "snapshots_body support (masked)": lambda n=name: snapshots_body(project, n, support),
            "GET API admin": lambda u=url: users[Role.ADMIN].get(u),
            "GET API support (masked)": lambda u=url: users[Role.SUPPORT].get(u),
            "GET player page admin": lambda u=page: users[Role.ADMIN].get(u),
        }
        cpu = {label: cpu_median(fn, args.runs) for label, fn in fns.items()}
        baseline = measures["raw chdb read (baseline)"].median
        body_kib = len(users[Role.ADMIN].get(url).content) / 1024
        results[name] = {
            "events": len(events),
            "span_minutes": (events[-1]["timestamp"] - events[0]["timestamp"]) / 60000,
            "stored_json_bytes": stored_bytes,
            "response_kib": body_kib,
            "medians_s": {k: v.median for k, v in measures.items()},
            "cpu_medians_s": cpu,
            "runs_s": {k: v.runs for k, v in measures.items()},
        }
        for label, t in measures.items():
            rows.append(
                {
                    "session": f"{name} ({len(events)} ev, {body_kib:.0f} KiB)",
                    "path": label,
                    "median": ms(t.median),
                    "vs raw read": f"{ratio(t.median, baseline):.1f}x",
                    "CPU median": ms(cpu[label]),
                }
            )
    print_table(rows)
    write_results("bench_replay_snapshots", {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
