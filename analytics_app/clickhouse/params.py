"""Turning Python values into ClickHouse query-parameter text.

ClickHouse parses a bound `{name:Type}` value from text: the top-level value in
the escaped (TSV) form, and values nested in Array/Tuple/Map as quoted literals.
chdb takes that text as is; clickhouse-driver (server_side_params) gets the same
strings. Nothing here ever reaches the SQL text itself.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import uuid
from collections.abc import Mapping
from decimal import Decimal

NULL = "\\N"
# What `_escape_tsv` writes for each character it rewrites (one pass of str.translate, so an
# escape is never escaped again): ClickHouse undoes that for a String, not for an Identifier.
_TSV_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\0": "\\0"})
ESCAPED = frozenset(chr(c) for c in _TSV_ESCAPES)


def _escape_tsv(text: str) -> str:
    return text.translate(_TSV_ESCAPES)


def _quote(text: str) -> str:
    """A quoted ClickHouse string literal (used inside Array/Tuple/Map values)."""
    return "'" + _escape_tsv(text).replace("'", "\\'") + "'"


def _scalar_text(value) -> str:
    """Plain text of a scalar (no quoting, no escaping)."""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return repr(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.strftime("%Y-%m-%d %H:%M:%S.%f")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    raise TypeError(f"cannot bind a value of type {type(value).__name__}")


def _nested_literal(value) -> str:
    """A value inside an Array/Tuple/Map, as a ClickHouse literal."""
    if value is None:
        return "NULL"
    if isinstance(value, list | tuple | set | frozenset):
        inner = ",".join(_nested_literal(v) for v in value)
        return f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
    if isinstance(value, bool | int | float | Decimal):
        return _scalar_text(value)
    return _quote(_scalar_text(value))


def to_param_text(value) -> str:
    """Text ClickHouse parses as the bound value of a `{name:Type}` placeholder."""
    if value is None:
        return NULL
    if isinstance(value, list | tuple | set | frozenset):
        # Compound values are parsed as literals: escaping lives inside the quotes.
        return _nested_literal(value if not isinstance(value, set | frozenset) else sorted(value))
    return _escape_tsv(_scalar_text(value))
