"""Sextant's own ClickHouse exceptions. Both backends map their errors onto these,
keeping ClickHouse's message and numeric code."""

from __future__ import annotations

import re


class ClickHouseError(Exception):
    """A ClickHouse query failed. `code` is ClickHouse's error code when known."""

    def __init__(self, message: str, code: int | None = None):
        super().__init__(message)
        self.code = code
        self.message = message


class Transient(ClickHouseError):
    """The server could not do it now, whatever the data: too many parts, no disk
    space, memory, timeouts, network. Retry later; never treat the rows as bad."""


class QueryTimeout(Transient):
    """max_execution_time was exceeded (TIMEOUT_EXCEEDED, 159)."""


class QueryTooLarge(ClickHouseError):
    """A guard limit fired: rows to read, result rows or memory."""


class MemoryLimit(QueryTooLarge, Transient):
    """MEMORY_LIMIT_EXCEEDED (241): a query over its guard (422 on pages), and for
    an insert a server-side shortage to wait out."""


class ServerBusy(Transient):
    """The server refuses the insert for now: TOO_MANY_PARTS, NOT_ENOUGH_SPACE,
    read-only table, too many queries, ... (the rows themselves are fine)."""


class BadQueryParameter(ClickHouseError):
    """A bound value could not be parsed as its declared type."""


class EngineLocked(ClickHouseError):
    """The embedded data directory is held by another process."""


class Unavailable(Transient):
    """The ClickHouse server could not be reached."""


class UnscopedQuery(ClickHouseError):
    """A query that is not bound to a project was sent without global_=True."""


_CODE = re.compile(r"Code:\s*(\d+)")

# ClickHouse error codes -> our exception classes.
_BY_CODE = {
    159: QueryTimeout,  # TIMEOUT_EXCEEDED
    158: QueryTooLarge,  # TOO_MANY_ROWS
    396: QueryTooLarge,  # TOO_MANY_ROWS_OR_BYTES
    241: MemoryLimit,  # MEMORY_LIMIT_EXCEEDED
    173: MemoryLimit,  # CANNOT_ALLOCATE_MEMORY
    307: QueryTooLarge,  # TOO_MANY_BYTES
    457: BadQueryParameter,  # BAD_QUERY_PARAMETER
    26: BadQueryParameter,  # CANNOT_PARSE_QUOTED_STRING
    27: BadQueryParameter,  # CANNOT_PARSE_INPUT_ASSERTION_FAILED
    6: BadQueryParameter,  # CANNOT_PARSE_TEXT
    72: BadQueryParameter,  # CANNOT_PARSE_NUMBER
    41: BadQueryParameter,  # CANNOT_PARSE_DATETIME
    38: BadQueryParameter,  # CANNOT_PARSE_DATE
    376: BadQueryParameter,  # CANNOT_PARSE_UUID
    76: EngineLocked,  # CANNOT_OPEN_FILE (lock on status file)
    210: Unavailable,  # NETWORK_ERROR
    209: Unavailable,  # SOCKET_TIMEOUT
    279: Unavailable,  # ALL_CONNECTION_TRIES_FAILED
    225: Unavailable,  # NO_ZOOKEEPER
    999: Unavailable,  # KEEPER_EXCEPTION
    252: ServerBusy,  # TOO_MANY_PARTS
    243: ServerBusy,  # NOT_ENOUGH_SPACE
    202: ServerBusy,  # TOO_MANY_SIMULTANEOUS_QUERIES
    242: ServerBusy,  # TABLE_IS_READ_ONLY (replica lost its Keeper session)
    236: ServerBusy,  # ABORTED
    394: ServerBusy,  # QUERY_WAS_CANCELLED (server shutting down)
    319: ServerBusy,  # UNKNOWN_STATUS_OF_INSERT
    75: ServerBusy,  # CANNOT_WRITE_TO_FILE_DESCRIPTOR (disk I/O)
    425: ServerBusy,  # SYSTEM_ERROR
}


def from_message(message: str, code: int | None = None) -> ClickHouseError:
    """Build the right exception from a ClickHouse error message."""
    if code is None:
        match = _CODE.search(message)
        code = int(match.group(1)) if match else None
    cls = _BY_CODE.get(code, ClickHouseError) if code is not None else ClickHouseError
    return cls(message.strip(), code)
