"""Repeatable inserts: the writer's insert log and the repair of an interrupted insert.

An INSERT into `events` (or session_replay_snapshots) is not atomic with the
materialized views below it: ClickHouse commits the table's part, then each view's.
A kill -9, or an error raised by a view, in between leaves `events` with the rows and
some views without them. event_uuids, the dedup lookup, is one of those views, so the
redelivered batch used to be stored twice; a rollup could also miss the rows for good.

So every insert into those tables is tracked (docs/ingestion.md, "Interrupted inserts"):

1. it gets an id (a UUID), written into each row's `insert_id` and used as the
   insert's deduplication token, for the table and every view below it;
2. before it runs, a `begin` row goes to insert_log (one insert per batch, together
   with the `done` rows of the batches finished since the last log insert);
3. after a failed write, and once per process before its first write, every insert
   begun and not done is repeated from the rows the table holds
   (`ch.repeat_insert`): ClickHouse skips each table that has the block and writes it
   where it is missing. An insert whose rows never reached the table reads nothing
   and writes nothing; its batch is redelivered and stored as usual.

The repair runs under the writer's lock, before the next batch's dedup lookup, so no
batch is looked up while an interrupted insert is incomplete in this process.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import uuid

from analytics_app import clickhouse as ch

log = logging.getLogger(__name__)

LOOKBACK_HOURS = 24  # begun inserts older than this are not repeated (the log keeps two days)
SLACK = dt.timedelta(seconds=1)  # the time range is widened: snapshots store milliseconds
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


@dataclasses.dataclass(frozen=True)
class Insert:
    table: str
    insert_id: str
    project_ids: tuple[int, ...]
    since: dt.datetime
    until: dt.datetime


def plan(table: str, rows: list[tuple[int, dict]], timestamp) -> list[tuple[Insert, list[tuple[int, dict]]]]:
    """Split (project_id, row) pairs into one insert per month partition (a token names one
    block, and a block across partitions becomes several parts) and give each an id."""
    months: dict[tuple[int, int], list[tuple[int, dict]]] = {}
    stamps: dict[tuple[int, int], list[dt.datetime]] = {}
    for pair in rows:
        ts = timestamp(pair[1]["timestamp"]).astimezone(dt.UTC)
        key = (ts.year, ts.month)
        months.setdefault(key, []).append(pair)
        stamps.setdefault(key, []).append(ts)
    planned = []
    for key, group in months.items():
        insert = Insert(
            table=table,
            insert_id=str(uuid.uuid4()),
            project_ids=tuple(sorted({p for p, _ in group})),
            since=min(stamps[key]) - SLACK,
            until=max(stamps[key]) + SLACK,
        )
        planned.append((insert, group))
    return planned


class Tracker:
    """What this process began, finished and must repeat. Used under the writer's lock."""

    def __init__(self):
        self.unsettled: dict[str, Insert] = {}  # begun by a write that failed: repeat first
        self.done: list[str] = []  # finished: their done rows go out with the next begin rows
        self.begun: list[Insert] = []  # begun by the write in progress
        self.checked = False  # the log was read for inserts a previous process left
        self.repeated = 0
        self.failures = 0  # repeats ClickHouse refused for a reason other than its state

    def begin(self, inserts: list[Insert]) -> None:
        """Log the inserts as begun (and those finished since the last log insert as done) in one insert. With no
        insert to begin nothing is written: done rows only spare a restart its no-op repeats,
        so they wait for the next begin rather than cost a round trip of their own."""
        self.begun.extend(inserts)
        if not inserts:
            return
        rows = [(i, 0) for i in inserts]
        rows += [(Insert("", d, (0,), EPOCH, EPOCH), 1) for d in self.done]  # (0,): an empty list has no type
        ch.insert(
            "insert_log",
            {
                "project_id": [i.project_ids[0] for i, _ in rows],
                "insert_id": [i.insert_id for i, _ in rows],
                "table": [i.table for i, _ in rows],
                "project_ids": [list(i.project_ids) for i, _ in rows],
                "since": [i.since for i, _ in rows],
                "until": [i.until for i, _ in rows],
                "done": [flag for _, flag in rows],
            },
        )
        self.done = []

    def finished(self) -> None:
        """The write stored everything: its inserts are done."""
        self.done.extend(i.insert_id for i in self.begun)
        self.begun = []

    def failed(self) -> None:
        """The write failed: any of its inserts may be incomplete; repeat them before the next."""
        for insert in self.begun:
            self.unsettled[insert.insert_id] = insert
        self.begun = []

    def settle(self) -> int:
        """Repeat every insert that may be incomplete; returns how many were repeated.
        Raises (the caller retries the batch later) if ClickHouse cannot take it now."""
        if not self.checked:
            for insert in _unfinished():
                self.unsettled.setdefault(insert.insert_id, insert)
            self.checked = True
        repeated = 0
        for insert_id, insert in list(self.unsettled.items()):
            try:
                ch.repeat_insert(
                    insert.table, insert_id, list(insert.project_ids), insert.since, insert.until
                )
            except (ch.Transient, ch.EngineLocked):
                raise  # the server cannot now: the write waits and tries again
            except ch.ClickHouseError:
                # Not the server's state: trying again would block every later batch. Say so and go on.
                log.exception(
                    "could not repeat the interrupted insert %s into %s; skipped", insert_id, insert.table
                )
                self.failures += 1
            else:
                repeated += 1
            del self.unsettled[insert_id]
            self.done.append(insert_id)
        if repeated:
            log.warning("repeated %d interrupted insert(s) so every view below them has their rows", repeated)
            self.repeated += repeated
        return repeated

    def reset(self) -> None:
        """Forget this process's state (tests: a fresh process reads the log again)."""
        self.__init__()


def _unfinished() -> list[Insert]:
    result = ch.query(
        "SELECT insert_id, anyIf(table, done = 0) AS tbl, anyIf(project_ids, done = 0) AS ids, "
        "anyIf(since, done = 0) AS lo, anyIf(until, done = 0) AS hi FROM insert_log "
        "WHERE at >= now64(3) - toIntervalHour({hours:UInt32}) GROUP BY insert_id HAVING max(done) = 0",
        {"hours": LOOKBACK_HOURS},
        global_=True,  # the writer's own log, across projects
    )
    return [
        Insert(tbl, str(insert_id), tuple(ids), lo, hi)
        for insert_id, tbl, ids, lo, hi in result.rows
        if tbl in ch.REPEATABLE_TABLES
    ]


tracker = Tracker()
