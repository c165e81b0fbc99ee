"""The rrweb event format as posthog-js sends it, and its decompression.

posthog-js (since its "cv 2024-10" format) gzips the bulky parts of some rrweb
events before sending them, and marks such an event with ``"cv": "2024-10"``:

- FullSnapshot (type 2): ``data`` is replaced by a string;
- IncrementalSnapshot mutation (type 3, source 0): ``data.texts``,
  ``data.attributes``, ``data.removes`` and ``data.adds`` are each a string;
- IncrementalSnapshot StyleSheetRule (type 3, source 8): ``data.adds`` and
  ``data.removes`` (when present) are each a string.

Each string is the gzip bytes of the JSON of the original value, written as a
latin-1 "binary string" (fflate ``strFromU8(bytes, true)``: one character per
byte). So decoding is: character code -> byte, gunzip, JSON-parse.
(posthog-js lazy-recorder.js, functions ``Gn``/``Vn``/``En``/``Fn`` in 1.449.2.)

``decompress_event`` returns the plain rrweb event the player understands. It
is idempotent on plain events and never raises: a part it cannot decode is left
as it came (and the ``cv`` marker kept, so the event still says it is not plain).
"""

from __future__ import annotations

import gzip
import json
import zlib
from typing import Any

COMPRESSION_VERSION = "2024-10"

# rrweb EventType / IncrementalSource numbers used here and by masking.
FULL_SNAPSHOT = 2
INCREMENTAL_SNAPSHOT = 3
META = 4
CUSTOM = 5
PLUGIN = 6
SOURCE_MUTATION = 0
SOURCE_STYLESHEET_RULE = 8

_MUTATION_PARTS = ("texts", "attributes", "removes", "adds")
_STYLESHEET_PARTS = ("adds", "removes")

_NOT_DECODED = object()


def decode_compressed(value: str) -> Any:
    """One cv-2024-10 string -> its JSON value, or _NOT_DECODED."""
    try:
        raw = value.encode("latin-1")
    except UnicodeEncodeError:
        # Not a binary string (a char above U+00FF): maybe JSON text that was never gzipped.
        return _json_or_not(value)
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error):
            return _NOT_DECODED
        try:
            return json.loads(raw)
        except (ValueError, UnicodeDecodeError, RecursionError):
            return _NOT_DECODED
    return _json_or_not(value)


def _json_or_not(value: str) -> Any:
    text = value.lstrip()
    if not text or text[0] not in "[{":
        return _NOT_DECODED
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        return _NOT_DECODED


def is_compressed(event: Any) -> bool:
    """Whether the event still carries posthog-js compressed parts."""
    if not isinstance(event, dict):
        return False
    etype, data = event.get("type"), event.get("data")
    if etype == FULL_SNAPSHOT:
        return isinstance(data, str)
    if etype == INCREMENTAL_SNAPSHOT and isinstance(data, dict):
        parts = _parts_for(data)
        return any(isinstance(data.get(p), str) for p in parts)
    return False


def _parts_for(data: dict) -> tuple[str, ...]:
    source = data.get("source")
    if source == SOURCE_MUTATION:
        return _MUTATION_PARTS
    if source == SOURCE_STYLESHEET_RULE:
        return _STYLESHEET_PARTS
    return ()


def decompress_event(event: dict) -> dict:
    """The rrweb event with every cv-2024-10 compressed part expanded.

    Plain events come back unchanged (the same object); a decompressed event is
    a new dict (the input is never mutated). Garbage is returned as is.
    """
    try:
        return _decompress(event)
    except Exception:  # noqa: BLE001 - robust by contract: bad data is left as it is
        return event


def _decompress(event: Any) -> Any:
    if not is_compressed(event):
        return event
    etype, data = event["type"], event["data"]
    out = dict(event)
    if etype == FULL_SNAPSHOT:
        value = decode_compressed(data)
        if value is _NOT_DECODED or not isinstance(value, dict):
            return event
        out["data"] = value
        out.pop("cv", None)
        return out
    new_data = dict(data)
    failed = False
    for part in _parts_for(data):
        value = data.get(part)
        if not isinstance(value, str):
            continue
        decoded = decode_compressed(value)
        if decoded is _NOT_DECODED or not isinstance(decoded, list):
            failed = True
            continue
        new_data[part] = decoded
    out["data"] = new_data
    if not failed:
        out.pop("cv", None)
    return out


def compress_event(event: dict) -> dict:
    """What posthog-js would send for a plain rrweb event (for tests and fixtures)."""

    def pack(value: Any) -> str:
        raw = json.dumps(value, separators=(",", ":")).encode()
        return gzip.compress(raw, mtime=0).decode("latin-1")

    etype, data = event.get("type"), event.get("data")
    if etype == FULL_SNAPSHOT and isinstance(data, dict):
        return {**event, "data": pack(data), "cv": COMPRESSION_VERSION}
    if etype == INCREMENTAL_SNAPSHOT and isinstance(data, dict):
        parts = _parts_for(data)
        if data.get("source") == SOURCE_MUTATION:
            packed = {p: pack(data.get(p) or []) for p in parts}
        else:
            packed = {p: pack(data[p]) for p in parts if data.get(p) is not None}
        if packed:
            return {**event, "data": {**data, **packed}, "cv": COMPRESSION_VERSION}
    return event
