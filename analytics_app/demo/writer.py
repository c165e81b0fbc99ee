"""Writing the demo: `write(spec)` streams chunks into `events`, `persons` and
`person_distinct_ids` through the ClickHouse layer.

The main thread generates chunks; batches of about BATCH_EVENTS events go to
INSERT_THREADS threads that encode and insert them (chdb releases the GIL), so
generation, encoding and the engine's work overlap. A batch reaches the layer both
ways `ch.insert_bulk` takes it: as columns with the properties as JSON text, or as
Native blocks, one per month (the partition key), each in the events sorting key's
order so the engine skips the sort. The backend picks the one it reads fastest.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
from tqdm import tqdm

from analytics_app import clickhouse as ch

from .events import Events
from .journeys import PERSONS_PER_CHUNK, Chunk, DemoSpec, generate_chunk
from .vocabulary import US

INSERT_THREADS = 2
BATCH_EVENTS = 400_000  # events per INSERT batch: fewer, larger parts to merge later

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _insert_pool() -> ThreadPoolExecutor:
    """Long-lived insert threads: the layer keeps a connection per thread, so reuse the threads."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(INSERT_THREADS, thread_name_prefix="demo-insert")
        return _pool


def _concat(columns: list[dict]) -> dict:
    out = {}
    for name, first in columns[0].items():
        values = [c[name] for c in columns]
        if isinstance(first, list):
            out[name] = [v for part in values for v in part]
        elif isinstance(first, pa.Array):
            out[name] = pa.concat_arrays(values)
        else:
            out[name] = np.concatenate(values)
    return out


def _insert_people(chunks: list[Chunk]) -> None:
    ch.insert("persons", _concat([c.persons for c in chunks]))
    ch.insert("person_distinct_ids", _concat([c.person_distinct_ids for c in chunks]))


class _CpuClock:
    """Thread CPU seconds spent in the calls made through `run`."""

    def __init__(self):
        self.seconds = 0.0

    def run(self, fn, *args):
        started = time.thread_time()
        try:
            return fn(*args)
        finally:
            self.seconds += time.thread_time() - started


def insert_batch(chunks: list[Chunk], stages: dict) -> int:
    """Insert chunks' people, then their events through `ch.insert_bulk`; adds the CPU
    seconds of each stage to `stages`. Returns events written."""
    started = time.thread_time()
    _insert_people(chunks)
    people_done = time.thread_time()
    encode = _CpuClock()
    events = encode.run(Events.concat, [c.events for c in chunks])

    def native_blocks():
        for rows in encode.run(events.partitions):
            yield encode.run(events.native, rows)  # not kept here: the backend frees each block

    written = ch.insert_bulk("events", lambda: encode.run(events.columns), native_blocks)
    insert_s = time.thread_time() - people_done - encode.seconds
    with _pool_lock:
        stages["people_cpu_s"] = stages.get("people_cpu_s", 0.0) + people_done - started
        stages["encode_cpu_s"] = stages.get("encode_cpu_s", 0.0) + encode.seconds
        stages["insert_thread_cpu_s"] = stages.get("insert_thread_cpu_s", 0.0) + insert_s
    return written


def insert_json_text(chunks: list[Chunk]) -> int:
    """Insert chunks as `ch.insert_bulk` does on a ClickHouse server, whatever the backend:
    properties as JSON text, parsed by the engine (the reference for the Native path)."""
    _insert_people(chunks)
    return ch.insert("events", Events.concat([c.events for c in chunks]).columns())


def write(
    spec: DemoSpec, *, progress: bool = False, now_us: int | None = None, stages: dict | None = None
) -> dict:
    """Generate spec's data and insert it; returns the summary. `stages`, when given, is
    filled with the CPU seconds of each stage (bench/bench_demo_insert.py)."""
    now_us = time.time_ns() // 1000 if now_us is None else now_us
    stages = {} if stages is None else stages
    started = time.perf_counter()
    pool = _insert_pool()
    pending: deque = deque()
    totals = {"events": 0, "persons": 0, "visitors": 0, "distinct_ids": 0}
    bar = tqdm(total=spec.persons, unit="person", disable=not progress, dynamic_ncols=True)
    batch: list[Chunk] = []

    def finish_oldest():
        totals["events"] += pending.popleft().result()
        bar.set_postfix(events_written=totals["events"])

    def submit():
        nonlocal batch
        pending.append(pool.submit(insert_batch, batch, stages))
        batch = []
        while len(pending) > INSERT_THREADS:
            finish_oldest()

    try:
        for index in range(spec.chunks):
            generating = time.thread_time()
            chunk = generate_chunk(spec, index, now_us)
            stages["generate_cpu_s"] = stages.get("generate_cpu_s", 0.0) + time.thread_time() - generating
            totals["persons"] += len(chunk.persons["id"])
            totals["visitors"] += chunk.visitors
            totals["distinct_ids"] += len(chunk.person_distinct_ids["distinct_id"])
            batch.append(chunk)
            # the bar counts persons simulated; at most INSERT_THREADS + 1 batches trail it
            bar.update(min(PERSONS_PER_CHUNK, spec.persons - index * PERSONS_PER_CHUNK))
            if sum(c.n_events for c in batch) >= BATCH_EVENTS:
                submit()
        if batch:
            submit()
        bar.set_description("writing")
        while pending:
            finish_oldest()
    finally:
        for future in pending:
            future.cancel()
        for future in pending:
            if not future.cancelled():
                future.exception()  # wait: no insert outlives the call
        bar.close()
    seconds = time.perf_counter() - started
    start_us, end_us = spec.window
    return {
        "project_id": spec.project_id,
        "seed": spec.seed,
        "start": dt.datetime.fromtimestamp(start_us / US, dt.UTC).isoformat(),
        "end": dt.datetime.fromtimestamp(min(end_us, now_us) / US, dt.UTC).isoformat(),
        **totals,
        "seconds": round(seconds, 3),
        "events_per_second": round(totals["events"] / seconds) if seconds else 0,
    }


def generate(
    project_id: int, persons: int, days: int, seed: int, end: dt.date | None = None, progress: bool = False
) -> dict:
    """Simulate `persons` people and write their journeys in the `days` days ending `end`
    (default today, UTC) into project `project_id`.

    Returns {"project_id", "seed", "start", "end", "events", "persons" (identified
    person rows written), "visitors" (people with events in the window), "distinct_ids"
    (mapping rows written), "seconds", "events_per_second"}.
    """
    if persons < 1 or days < 1:
        raise ValueError("persons and days must be at least 1")
    spec = DemoSpec(project_id, persons, days, seed, end or dt.datetime.now(dt.UTC).date())
    return write(spec, progress=progress)
