"""The embedded mode's spool (ingestion/spool.py): a request answered 200 is on disk, and
what a crash left in the spool is stored once after the restart.

The disk faults are real: a subprocess with RLIMIT_FSIZE (the kernel refuses writes past
the limit, as with a full disk) and a record cut short the way kill -9 cuts one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import uuid
from pathlib import Path

import pytest

from analytics_app import clickhouse as ch
from ingestion import stream
from ingestion.processing import Job
from ingestion.spool import Spool
from ingestion.writer import GroupCommitWriter, write_jobs

from .conftest import count_events, event, ingested, warnings

ROOT = Path(__file__).resolve().parents[2]


def records(spool: Spool) -> list[tuple[int, bytes]]:
    return list(spool.pending())


def test_records_come_back_after_the_checkpoint_in_order(tmp_path):
    spool = Spool(tmp_path, segment_bytes=60)  # a new segment every three records
    assert records(spool) == []
    seqs = [spool.append(f"job {i}".encode()) for i in range(20)]
    assert seqs == list(range(1, 21))
    assert len(list(tmp_path.glob("*.seg"))) > 3
    spool.commit(12)
    spool.close()

    again = Spool(tmp_path, segment_bytes=60)
    assert records(again) == [(i + 1, f"job {i}".encode()) for i in range(12, 20)]
    assert again.append(b"after the restart") == 21
    again.commit(21)
    # Every segment the checkpoint passed is gone; the last one stays for new records.
    assert len(list(tmp_path.glob("*.seg"))) == 1
    again.close()
    assert records(Spool(tmp_path)) == []


def test_a_torn_last_record_is_cut_and_the_next_append_follows_the_good_ones(tmp_path):
    spool = Spool(tmp_path)
    for i in range(3):
        spool.append(f"job {i}".encode())
    spool.close()
    segment = next(tmp_path.glob("*.seg"))
    whole = segment.read_bytes()
    segment.write_bytes(whole[:-3])  # kill -9 in the middle of the last write
    again = Spool(tmp_path)
    assert [seq for seq, _ in records(again)] == [1, 2]
    assert again.append(b"next") == 3
    again.close()
    assert records(Spool(tmp_path)) == [(1, b"job 0"), (2, b"job 1"), (3, b"next")]


def test_concurrent_appends_share_disk_syncs(tmp_path):
    spool = Spool(tmp_path)
    spool.pending()
    barrier = threading.Barrier(8)

    def run(n):
        barrier.wait()
        for i in range(25):
            spool.append(f"{n}-{i}".encode())

    threads = [threading.Thread(target=run, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spool.close()
    got = records(Spool(tmp_path))
    assert [seq for seq, _ in got] == list(range(1, 201))
    assert sorted(p for _, p in got) == sorted(f"{n}-{i}".encode() for n in range(8) for i in range(25))
    assert spool.syncs <= 200  # group commit: never more syncs than records, usually far fewer


def test_a_full_disk_refuses_the_record_and_leaves_the_spool_readable(tmp_path):
    """RLIMIT_FSIZE makes the kernel refuse writes past 4 kB, as a full disk does."""
    script = textwrap.dedent(
        f"""
        import resource, signal, sys
        sys.path.insert(0, {str(ROOT)!r})
        from ingestion.spool import Spool, SpoolFull
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        spool = Spool({str(tmp_path)!r})
        spool.pending()
        spool.append(b"x")  # opens the segment before the limit
        resource.setrlimit(resource.RLIMIT_FSIZE, (4096, resource.RLIM_INFINITY))
        accepted = 1
        for i in range(100):
            try:
                spool.append(bytes(300))
                accepted += 1
            except SpoolFull as exc:
                print(accepted, exc)
                break
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    accepted = int(out.stdout.split()[0])
    assert 5 <= accepted < 100 and "could not write" in out.stdout
    got = records(Spool(tmp_path))
    assert [seq for seq, _ in got] == list(range(1, accepted + 1))  # every accepted record, no torn one


# ---------------------------------------------------------------- the writer with a spool


@pytest.fixture
def embedded_only():
    if stream.enabled():
        pytest.skip("the spool is the embedded writer's (no REDIS_URL)")


def _job(project, n: int, prefix: str) -> Job:
    rows = [
        {
            "uuid": str(uuid.uuid4()),
            "event": f"{prefix}-{i}",
            "distinct_id": f"{prefix}-user",
            "properties": "{}",
            "timestamp": "2026-12-01T10:00:00+00:00",
            "session_id": "",
            "window_id": "",
            "person": {"process": True},
        }
        for i in range(n)
    ]
    return Job(project.id, events=rows)


def test_a_writer_that_died_leaves_its_requests_to_the_next_one(tmp_path, project, embedded_only):
    """Writer A acknowledges (spool on disk) but never stores (ClickHouse is away, then the
    process dies); writer B on the same spool stores everything once, before anything new."""
    stuck = threading.Event()

    def never(jobs):
        stuck.wait(30)
        raise ch.Transient("ClickHouse is away")

    a = GroupCommitWriter(write=never, spool=lambda: Spool(tmp_path), store_wait=0.05, busy_wait=0.05)
    jobs = [_job(project, 5, f"a{i}") for i in range(4)]
    for job in jobs:
        a.submit(job)  # answered: on disk
    a.submit(jobs[0])  # an SDK retry of the first request, same uuids
    a._stopping.set()
    stuck.set()
    a._spool.close()

    b = GroupCommitWriter(spool=lambda: Spool(tmp_path))
    b.open_spool()
    assert b.recovered == 5
    b.submit(_job(project, 2, "b"))
    assert b.flush()
    assert count_events(project.id) == 22  # 4 x 5 once (the retry deduplicated) + 2
    assert warnings(project.id) == []
    b.stop()


def test_a_request_that_cannot_be_stored_goes_to_the_dead_letter_folder_not_away(
    tmp_path, project, embedded_only
):
    def fussy(jobs):
        if any(e["event"].startswith("poison") for job in jobs for e in job.events):
            raise RuntimeError("a bug in the store path")
        write_jobs(jobs)

    w = GroupCommitWriter(write=fussy, spool=lambda: Spool(tmp_path), max_backoff=0.01, max_wait=0.2)
    w.open_spool()
    done = []
    threads = [
        threading.Thread(target=lambda j=j: done.append(w.submit(j)))
        for j in (_job(project, 3, "ok1"), _job(project, 2, "poison"), _job(project, 4, "ok2"))
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert w.flush()
    assert count_events(project.id) == 7  # the good requests, however they were batched
    (kept,) = (tmp_path / "dead-letter").glob("*.json")
    assert [e["event"] for e in json.loads(kept.read_text())["events"]] == ["poison-0", "poison-1"]
    (warning,) = warnings(project.id)
    assert warning["type"] == "internal_error" and kept.name in warning["details"]
    w.stop()


def test_serve_stores_what_a_kill_left_in_the_spool_at_start_up(tmp_path, project, embedded_only):
    """A real kill -9 of a process holding acknowledged requests, then this process's
    start-up path (the registered ingest-spool service) stores them without a new request."""
    spool_dir = tmp_path / "spool"
    script = textwrap.dedent(
        f"""
        import os, signal, sys, json
        sys.path.insert(0, {str(ROOT)!r})
        from ingestion.spool import Spool
        spool = Spool({str(spool_dir)!r})
        spool.pending()
        for payload in json.loads(sys.stdin.read()):
            spool.append(payload.encode())
        print("acknowledged", flush=True)
        os.kill(os.getpid(), signal.SIGKILL)
        """
    )
    jobs = [_job(project, 10, f"k{i}").to_json() for i in range(3)]
    out = subprocess.run(
        [sys.executable, "-c", script], input=json.dumps(jobs), capture_output=True, text=True, timeout=60
    )
    assert out.returncode == -9 and "acknowledged" in out.stdout
    w = GroupCommitWriter(spool=lambda: Spool(spool_dir))
    w.open_spool()  # what `manage.py serve` runs at start-up
    assert w.recovered == 3 and w.flush()
    assert count_events(project.id) == 30
    w.stop()


def test_a_lone_request_is_visible_when_answered_and_a_burst_after_ingested(client, project, embedded_only):
    body = {"api_key": project.api_token, "batch": [event(f"lone-{i}") for i in range(3)]}
    assert client.post("/batch/", data=json.dumps(body), content_type="application/json").status_code == 200
    assert count_events(project.id) == 3  # the writer was idle: the answer waited for the insert
    ingested()
    assert os.path.isdir(os.path.join(ch.backend().path, "sextant-spool"))
