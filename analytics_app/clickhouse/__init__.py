"""Sextant's ClickHouse layer: the one way the application talks to ClickHouse.

    from analytics_app import clickhouse as ch

    result = ch.query(
        "SELECT event, count() AS n FROM events WHERE project_id = {project_id:UInt32} GROUP BY event",
        {"project_id": project.id},
    )
    for row in result.dicts(): ...

- Values are always bound as ClickHouse query parameters (`{name:Type}`), on both
  backends. Nothing is ever formatted into SQL text.
- A query must be scoped to one project (a `{project_id:...}` placeholder and a
  `project_id` value) unless the caller passes `global_=True` (migrations, health
  checks). The layer refuses anything else with UnscopedQuery.
- Per-query guard settings come from an allow-list (`settings=`).
- Errors arrive as analytics_app.clickhouse.errors.* with ClickHouse's message.
- `with ch.counting() as log:` records every statement sent inside the block (tests
  count the queries of a page request with it).

CLICKHOUSE_URL picks the backend: `chdb:///abs/path` (embedded, the default) or
`clickhouse://user:pw@host:9000/db` (clickhouse-driver, production).
"""

from __future__ import annotations

import contextlib
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from . import faults
from .errors import (
    BadQueryParameter,
    ClickHouseError,
    EngineLocked,
    MemoryLimit,
    QueryTimeout,
    QueryTooLarge,
    ServerBusy,
    Transient,
    Unavailable,
    UnscopedQuery,
)

if TYPE_CHECKING:
    from . import native

__all__ = [
    "BadQueryParameter",
    "ClickHouseError",
    "EngineLocked",
    "MemoryLimit",
    "QueryTimeout",
    "QueryTooLarge",
    "Result",
    "ServerBusy",
    "Transient",
    "Unavailable",
    "UnscopedQuery",
    "backend",
    "command",
    "configure",
    "counting",
    "insert",
    "insert_bulk",
    "query",
    "stream",
]

# Settings a caller may set per query, with the Python type each value must have.
ALLOWED_SETTINGS: dict[str, type] = {
    "max_execution_time": (int, float),
    "max_rows_to_read": int,
    "max_result_rows": int,
    "max_bytes_to_read": int,
    "max_memory_usage": int,
    "max_threads": int,
    "readonly": int,
    "result_overflow_mode": str,
    "read_overflow_mode": str,
    "timeout_overflow_mode": str,
    "join_use_nulls": int,
    "mutations_sync": int,
    "lightweight_deletes_sync": int,
    "allow_experimental_analyzer": int,
    "max_block_size": int,
    "optimize_aggregation_in_order": int,
    "short_circuit_function_evaluation": str,
}
_OVERFLOW_MODES = {"throw", "break"}
# The values a string setting may take.
_STRING_VALUES = {
    "result_overflow_mode": _OVERFLOW_MODES,
    "read_overflow_mode": _OVERFLOW_MODES,
    "timeout_overflow_mode": _OVERFLOW_MODES,
    "short_circuit_function_evaluation": {"enable", "force_enable", "disable"},
}
_SCOPE = re.compile(r"\{project_id\s*:")
# Tables the insert path may name (identifiers cannot be bound).
INSERTABLE_TABLES: set[str] = set()
# Tables whose inserts the writer tracks and can repeat (each has insert_id, project_id, timestamp).
REPEATABLE_TABLES = ("events", "session_replay_snapshots")


@dataclass(frozen=True)
class Result:
    columns: list[str]
    types: list[str]
    rows: list[tuple] = field(repr=False)

    def dicts(self) -> list[dict]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]

    def scalar(self):
        return self.rows[0][0] if self.rows else None

    def column(self, name: str) -> list:
        i = self.columns.index(name)
        return [row[i] for row in self.rows]

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)


class StatementLog:
    """The statements sent to ClickHouse inside one `counting()` block, from any thread:
    SQL text for queries, streams and commands, `INSERT INTO <table>` for inserts."""

    def __init__(self):
        self.statements: list[str] = []

    @property
    def count(self) -> int:
        return len(self.statements)


_logs: list[StatementLog] = []
_logs_lock = threading.Lock()


@contextlib.contextmanager
def counting() -> Iterator[StatementLog]:
    """Record every statement the layer sends while the block runs (tests: how many
    queries a page request costs)."""
    log = StatementLog()
    with _logs_lock:
        _logs.append(log)
    try:
        yield log
    finally:
        with _logs_lock:
            _logs.remove(log)


def _record(statement: str) -> None:
    if _logs:
        with _logs_lock:
            for log in _logs:
                log.statements.append(statement)


_backend = None
_backend_lock = threading.Lock()
_url_override: str | None = None


def configure(url: str | None) -> None:
    """Switch to another CLICKHOUSE_URL (tests, commands). Closes open connections."""
    global _backend, _url_override
    with _backend_lock:
        if _backend is not None:
            _backend.close()
        _backend = None
        _url_override = url


def backend():
    """The process-wide backend, created on first use."""
    global _backend
    if _backend is None:
        with _backend_lock:
            if _backend is None:
                from django.conf import settings  # noqa: PLC0415

                from .backends import from_url  # noqa: PLC0415

                _backend = from_url(_url_override or settings.CLICKHOUSE_URL)
    return _backend


def _check_settings(settings: dict | None) -> dict:
    clean = {}
    for key, value in (settings or {}).items():
        expected = ALLOWED_SETTINGS.get(key)
        if expected is None:
            raise ValueError(f"ClickHouse setting {key!r} is not allowed per query")
        if not isinstance(value, expected) or isinstance(value, bool):
            raise ValueError(f"ClickHouse setting {key!r} needs a {expected}")
        if isinstance(value, str):
            if value not in _STRING_VALUES[key]:
                raise ValueError(f"ClickHouse setting {key!r} must be one of {sorted(_STRING_VALUES[key])}")
            value = f"'{value}'"
        clean[key] = value
    return clean


def _default_settings() -> dict:
    from django.conf import settings  # noqa: PLC0415

    return {"max_execution_time": settings.CLICKHOUSE_MAX_EXECUTION_TIME}


def _check_scope(sql: str, params: dict, global_: bool) -> None:
    if global_:
        return
    if "project_id" not in params or not _SCOPE.search(sql):
        raise UnscopedQuery(
            "Refusing a ClickHouse query that is not bound to a project: add "
            "`project_id = {project_id:UInt32}` and a project_id value, or pass global_=True "
            "for a deliberate cross-project statement (migrations, health checks)."
        )
    if not isinstance(params["project_id"], int) or isinstance(params["project_id"], bool):
        raise UnscopedQuery("project_id must be an int")


def query(
    sql: str, params: dict | None = None, *, settings: dict | None = None, global_: bool = False
) -> Result:
    """Run a SELECT and return its columns, ClickHouse types and rows of Python values."""
    params = params or {}
    _check_scope(sql, params, global_)
    _record(sql)
    names, types, rows = backend().execute(sql, params, {**_default_settings(), **_check_settings(settings)})
    return Result(names, types, rows)


def stream(
    sql: str,
    params: dict | None = None,
    *,
    settings: dict | None = None,
    global_: bool = False,
    batch_rows: int = 10_000,
) -> Iterator[tuple[list[str], list[tuple]]]:
    """Yield (columns, rows) batches of a large result without holding it in memory."""
    params = params or {}
    _check_scope(sql, params, global_)
    merged = {**_default_settings(), **_check_settings(settings)}
    _record(sql)
    yield from backend().stream(sql, params, merged, batch_rows)


def command(sql: str, params: dict | None = None, *, global_: bool = False) -> None:
    """Run a statement that returns nothing (DDL, ALTER, DELETE, OPTIMIZE) as written.

    Statement settings (mutations_sync, ...) belong in the statement's own SETTINGS clause.
    """
    params = params or {}
    _check_scope(sql, params, global_)
    _record(sql)
    backend().execute(sql, params, {}, want_result=False)


def _check_insert(table: str, names) -> None:
    if table not in INSERTABLE_TABLES:
        raise ValueError(f"table {table!r} is not insertable")
    if "project_id" not in names:
        raise UnscopedQuery(f"insert into {table} without a project_id column")


def _rows(columns: dict) -> int:
    lengths = {len(v) for v in columns.values()}
    if len(lengths) > 1:
        raise ValueError("insert columns differ in length")
    return lengths.pop() if lengths else 0


def insert(table: str, columns: dict[str, list], *, insert_id: str | None = None) -> int:
    """Insert a batch given as a dict of equal-length columns (lists, numpy or pyarrow
    arrays, on either backend). Returns rows written.

    `table` must be registered in INSERTABLE_TABLES by a migration module (it is an
    identifier and cannot be bound). Every row must carry a project_id.

    `insert_id` (a UUID) makes the insert repeatable (`repeat_insert`): it is the
    insert's deduplication token, for the table and for every materialized view
    below it (docs/ingestion.md, "Interrupted inserts").
    """
    _check_insert(table, columns)
    if not _rows(columns):
        return 0
    faults.check()
    _record(f"INSERT INTO {table}")
    return backend().insert(table, columns, _dedup_settings(insert_id) if insert_id else None)


# One block per insert, so the token names the same block when the insert is repeated
# (a block of several parts or several blocks would get per-block tokens that a repeat
# need not reproduce); the writer keeps each insert within one month partition.
_ONE_BLOCK = {
    "max_insert_block_size": 1_000_000_000,
    "min_insert_block_size_rows": 1_000_000_000,
    "min_insert_block_size_bytes": 1 << 40,
}


def _dedup_settings(insert_id: str) -> str:
    token = str(uuid.UUID(insert_id))  # validated: the only value formatted into the clause
    merged = {
        "insert_deduplication_token": f"'{token}'",
        "insert_deduplicate": 1,
        "deduplicate_blocks_in_dependent_materialized_views": 1,
        **_ONE_BLOCK,
    }
    return ", ".join(f"{k} = {v}" for k, v in merged.items())


def repeat_insert(table: str, insert_id: str, project_ids: list[int], since, until) -> None:
    """Run an interrupted insert again from the rows `table` already holds, with its token.

    An INSERT is not atomic across a table and its materialized views: the table's part
    is committed first and each view's after it, so a crash or an error in between
    leaves some views without the rows. Repeating the insert with the same
    deduplication token makes ClickHouse skip every table that already holds the block
    and write it where it is missing. When the table never got the rows, nothing is
    read and nothing is written. `table` holds `insert_id`, `project_id` and `timestamp`;
    the rows are found through the sorting key (projects, time range) and the id.
    """
    if table not in REPEATABLE_TABLES:
        raise ValueError(f"table {table!r} is not repeatable")
    params = {
        "ids": list(project_ids),
        "since": since,
        "until": until,
        "insert_id": str(uuid.UUID(insert_id)),
    }
    sql = (
        f"INSERT INTO {table} SETTINGS {_dedup_settings(insert_id)} "  # noqa: S608 - allow-listed table
        f"SELECT * FROM {table} WHERE project_id IN {{ids:Array(UInt32)}} "
        "AND timestamp >= {since:DateTime64(6, 'UTC')} AND timestamp <= {until:DateTime64(6, 'UTC')} "
        "AND insert_id = {insert_id:UUID}"
    )
    faults.check()
    _record(f"INSERT INTO {table} (repeat)")
    backend().execute(sql, params, {}, want_result=False)


def insert_bulk(
    table: str, columns: Callable[[], dict], native_blocks: Callable[[], Iterable[native.Block]]
) -> int:
    """Insert a large batch the way the backend reads fastest; returns rows written.

    The caller offers the batch two ways and only the one used is built: `columns()` as
    for `insert` (JSON columns as text), or `native_blocks()` (analytics_app.clickhouse.native;
    a block in the table's sorting-key order within one partition is written without a
    sort). The embedded engine takes the Native blocks, a server the columns.
    """
    if table not in INSERTABLE_TABLES:
        raise ValueError(f"table {table!r} is not insertable")

    def checked_columns() -> dict:
        built = columns()
        _check_insert(table, built)
        return built if _rows(built) else {}

    def checked_block(block: native.Block) -> native.Block:
        _check_insert(table, block.names)
        return block

    _record(f"INSERT INTO {table}")
    # map() keeps no reference to a block once it is handed on: the backend frees each
    # (up to a few hundred MB) before it inserts the next
    return backend().insert_bulk(table, checked_columns, lambda: map(checked_block, native_blocks()))
