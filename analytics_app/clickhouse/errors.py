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


class QueryTimeout(ClickHouseError):
    """max_execution_time was exceeded (TIMEOUT_EXCEEDED, 159)."""


class QueryTooLarge(ClickHouseError):
    """A guard limit fired: rows to read, result rows or memory."""


class BadQueryParameter(ClickHouseError):
    """A bound value could not be parsed as its declared type."""


class EngineLocked(ClickHouseError):
    """The embedded data directory is held by another process."""


class Unavailable(ClickHouseError):
    """The ClickHouse server could not be reached."""


class UnscopedQuery(ClickHouseError):
    """A query that is not bound to a project was sent without global_=True."""


_CODE = re.compile(r"Code:\s*(\d+)")

# ClickHouse error codes -> our exception classes.
_BY_CODE = {
    159: QueryTimeout,  # TIMEOUT_EXCEEDED
    158: QueryTooLarge,  # TOO_MANY_ROWS
    396: QueryTooLarge,  # TOO_MANY_ROWS_OR_BYTES
    241: QueryTooLarge,  # MEMORY_LIMIT_EXCEEDED
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
}


def from_message(message: str, code: int | None = None) -> ClickHouseError:
    """Build the right exception from a ClickHouse error message."""
    if code is None:
        match = _CODE.search(message)
        code = int(match.group(1)) if match else None
    cls = _BY_CODE.get(code, ClickHouseError) if code is not None else ClickHouseError
    return cls(message.strip(), code)
