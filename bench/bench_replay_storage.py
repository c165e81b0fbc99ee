"""Replay storage: snapshot rows as posthog-js sends them (cv 2024-10, gzip inside the
JSON) vs normalized (decompressed at ingestion). Measures bytes on disk per session
(the `data` column after OPTIMIZE FINAL, ZSTD(3)), the time to load one ~2,000-event
~25-minute session (replay.queries.session_snapshots: read + JSON parse +
decompression where needed), and the ingestion cost of each.

    .venv/bin/python bench/bench_replay_storage.py --sessions 200
"""

from __future__ import annotations

import argparse
import time

from common import ms, print_table, setup_django, timed, write_results


class _Project:
    def __init__(self, pk: int):
        self.id = self.pk = pk
        self.api_token = f"phc_bench_{pk}"
        self.recording_enabled = True
        self.recording_retention_days = 3650


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sessions", type=int, default=200, help="ordinary sessions per variant")
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    setup_django()

    from analytics_app import clickhouse as ch  # noqa: PLC0415
    from replay import ingest, synthetic  # noqa: PLC0415
    from replay.queries import session_snapshots  # noqa: PLC0415

    start_ms = int(time.time() * 1000) - 86_400_000
    big = synthetic.session_events(1, start_ms, pages=12, actions_per_page=60, cards=150, max_events=5000)
    ordinary = [
        (f"s{i}", "w1", f"user-{i}", synthetic.session_events(i, start_ms + i * 60_000, cards=40 + i % 80))
        for i in range(args.sessions)
    ]
    synthetic.write_sessions(_Project(10), ordinary[:5])  # warm-up: first inserts and imports
    rows, results = [], {}
    for label, project_id, normalize in (("as received (cv 2024-10)", 11, False), ("normalized", 12, True)):
        ingest.NORMALIZE_SNAPSHOTS = normalize
        project = _Project(project_id)
        t0 = time.perf_counter()
        synthetic.write_sessions(project, [("big", "w1", "user-big", big), *ordinary])
        write_s = time.perf_counter() - t0
        table = f"bench_replay_{project_id}"
        ch.command(f"DROP TABLE IF EXISTS {table}", global_=True)
        ch.command(
            f"CREATE TABLE {table} (session_id String, timestamp DateTime64(3), data String CODEC(ZSTD(3)))"
            " ENGINE = MergeTree ORDER BY (session_id, timestamp) SETTINGS min_bytes_for_wide_part = 0",
            global_=True,
        )
        ch.command(
            f"INSERT INTO {table} SELECT session_id, timestamp, data FROM session_replay_snapshots"
            " WHERE project_id = {project_id:UInt32}",
            {"project_id": project_id},
        )
        ch.command(f"OPTIMIZE TABLE {table} FINAL", global_=True)
        compressed, raw = ch.query(
            "SELECT sum(column_data_compressed_bytes), sum(column_data_uncompressed_bytes) FROM system.parts_columns"
            " WHERE database = currentDatabase() AND table = {t:String} AND column = 'data' AND active",
            {"t": table},
            global_=True,
        ).rows[0]
        big_compressed = ch.query(
            f"SELECT sum(length(data)) FROM {table} WHERE session_id = 'big'", global_=True
        ).scalar()
        load = timed(lambda project=project: session_snapshots(project, "big"), args.runs)
        if load.value != big:
            raise SystemExit(f"{label}: the loaded session differs from what was recorded")
        sessions = args.sessions + 1
        results[label] = {
            "data_bytes_on_disk": compressed,
            "data_bytes_uncompressed": raw,
            "bytes_on_disk_per_session": compressed / sessions,
            "big_session_stored_chars": big_compressed,
            "load_big_session_median_s": load.median,
            "load_runs_s": load.runs,
            "ingest_s": write_s,
        }
        rows.append(
            {
                "storage": label,
                "disk/session": f"{compressed / sessions / 1024:.1f} KiB",
                "column raw": f"{raw / 1024 / 1024:.1f} MiB",
                "load 2k-event session": ms(load.median),
                "ingest all": f"{write_s:.1f} s",
            }
        )
    print(f"{args.sessions + 1} sessions per variant; the big one has {len(big)} rrweb events over "
          f"{(big[-1]['timestamp'] - big[0]['timestamp']) / 60000:.0f} min")  # fmt: skip
    print_table(rows)
    write_results("bench_replay_storage", {"args": vars(args), "results": results, "big_events": len(big)})


if __name__ == "__main__":
    main()
