"""Fault injection for the insert path: tests and `manage.py fault_suite` only.

Some server faults cannot be produced on demand in every configuration (a full
disk; TOO_MANY_PARTS inside another process's embedded engine). This seam makes
`clickhouse.insert` raise the layer's real error class for a ClickHouse error
code, built from a message shaped like the server's, so everything above the
layer sees exactly what a real fault produces.

- In-process (tests): `with faults.refusing(243): ...`.
- Across processes (the fault suite): start the process with
  SEXTANT_CLICKHOUSE_FAULT_FILE=/path; while that file exists and holds a code
  (e.g. `252`), every insert fails with it. Without the variable the check is
  one dict lookup.
"""

from __future__ import annotations

import contextlib
import os

from . import errors

MESSAGES = {
    252: "Too many parts (300 with average size of 1.00 KiB). Merges are processing significantly "
    "slower than inserts. (TOO_MANY_PARTS)",
    243: "Cannot reserve 1.00 MiB, not enough space. (NOT_ENOUGH_SPACE)",
    241: "Memory limit (total) exceeded: would use 9.31 GiB, maximum: 9.31 GiB. (MEMORY_LIMIT_EXCEEDED)",
    210: "Connection refused (NETWORK_ERROR)",
}
ENV = "SEXTANT_CLICKHOUSE_FAULT_FILE"

_active: int | None = None


def error_for(code: int) -> errors.ClickHouseError:
    text = MESSAGES.get(code, f"injected fault (code {code})")
    return errors.from_message(f"Code: {code}. DB::Exception: {text} [injected]", code)


def check() -> None:
    """Raise the injected fault, if one is active (called by clickhouse.insert)."""
    code = _active
    path = os.environ.get(ENV)
    if code is None and path:
        try:
            with open(path) as fh:
                code = int(fh.read().strip() or 0) or None
        except (OSError, ValueError):
            code = None
    if code is not None:
        raise error_for(code)


@contextlib.contextmanager
def refusing(code: int):
    """Every insert in this process fails with ClickHouse error `code` inside the block."""
    global _active
    _active = code
    try:
        yield
    finally:
        _active = None
