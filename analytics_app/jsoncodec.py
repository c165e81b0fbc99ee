"""The JSON codec every part of Sextant shares: compact, non-ASCII kept, orjson when it can.

Ingestion encodes events and jobs with it, replay reads the stored rrweb events with it.
"""

from __future__ import annotations

import json

try:  # 5-10x faster JSON encoding; the stdlib encoder stays the fallback (and the reference)
    import orjson
except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it
    orjson = None

_ORJSON_OPTIONS = (orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME) if orjson else 0


def dumps(value) -> str:
    """Compact JSON, non-ASCII kept. orjson when it can (datetimes and unknown types go
    through str() like the stdlib path); the stdlib encoder for what orjson refuses
    (integers wider than 64 bits, lone surrogates, nesting deeper than 254)."""
    if orjson is not None:
        try:
            return orjson.dumps(value, default=str, option=_ORJSON_OPTIONS).decode()
        except (TypeError, orjson.JSONEncodeError):
            pass
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)


def loads(text: str | bytes):
    if orjson is not None:
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass
    return json.loads(text)
