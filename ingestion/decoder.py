"""The tolerant decoder: request bytes -> a Batch of raw event dicts.

One decoder serves every capture path (/e/, /i/v0/e/, /batch/, /capture/, /track/,
/engage/, /s/). It follows PostHog's capture server (docs/ingestion.md):

1. the payload is the `data` query parameter (GET) or the body;
2. a urlencoded form's `data` field is used when the body is a form;
3. the compression hint comes from the query, the form or Content-Encoding;
4. gzip is detected by its magic bytes even without a hint;
5. lz-string and base64 wrappers are unwrapped;
6. sizes are capped after every step (gzip bombs are stopped while inflating).

Anything a client can send ends in a Batch or a DecodeError with a status and a
reason; never another exception.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import math
import re
import zlib
from dataclasses import dataclass, field
from urllib.parse import parse_qs

GZIP_MAGIC = b"\x1f\x8b"
_B64 = re.compile(rb"^[A-Za-z0-9+/=\s_-]+$")
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


class DecodeError(Exception):
    """A payload that cannot be read: answered with `status` and `reason`."""

    def __init__(self, reason: str, status: int = 400):
        super().__init__(reason)
        self.reason = reason
        self.status = status


@dataclass
class Batch:
    """What one request carried, before any per-event validation."""

    events: list
    token: str | None = None
    sent_at: dt.datetime | None = None
    historical_migration: bool = False
    raw: bytes = field(default=b"", repr=False)


def gunzip(data: bytes, limit: int) -> bytes:
    """Inflate gzip (or zlib) incrementally, refusing more than `limit` bytes."""
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 32)  # auto-detect gzip / zlib header
    try:
        out = inflater.decompress(data, limit + 1)
    except zlib.error as exc:
        raise DecodeError(f"The gzip payload is corrupt: {exc}") from None
    if len(out) > limit or inflater.unconsumed_tail:
        raise DecodeError(f"The decompressed payload is larger than {limit} bytes.", 413)
    if not inflater.eof:
        raise DecodeError("The gzip payload is truncated.")
    return out


def _b64decode(data: bytes) -> bytes:
    data = re.sub(rb"\s", b"", data).replace(b"-", b"+").replace(b"_", b"/")
    data += b"=" * (-len(data) % 4)
    try:
        return base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise DecodeError("The payload is not valid base64.") from None


def _lz_decode(data: bytes, limit: int) -> bytes:
    import lzstring  # noqa: PLC0415 - only old clients use lz-string

    try:
        text = data.decode("ascii").strip()
        out = lzstring.LZString().decompressFromBase64(text)
    except Exception:  # noqa: BLE001 - the library raises anything on garbage
        raise DecodeError("The lz-string payload cannot be decompressed.") from None
    if not out:
        raise DecodeError("The lz-string payload cannot be decompressed.")
    encoded = out.encode("utf-8", "replace")
    if len(encoded) > limit:
        raise DecodeError(f"The decompressed payload is larger than {limit} bytes.", 413)
    return encoded


def _form(body: bytes) -> dict[str, str]:
    try:
        fields = parse_qs(body.decode("latin-1"), keep_blank_values=True, max_num_fields=100)
    except ValueError:
        raise DecodeError("The form body has too many fields.") from None
    return {k: v[0] for k, v in fields.items() if v}


def compression_hint(value: str | None) -> str:
    value = (value or "").strip().lower()
    if value in ("gzip", "gzip-js", "x-gzip"):
        return "gzip"
    if value in ("lz64", "lz-string"):
        return "lz64"
    if value in ("base64", "b64"):
        return "base64"
    return ""


def payload_bytes(
    *, method: str, body: bytes, query: dict, content_type: str, content_encoding: str, limit: int
) -> bytes:
    """Undo form, base64, gzip and lz-string wrappers; return JSON bytes."""
    if len(body) > limit:
        raise DecodeError(f"The request body is larger than {limit} bytes.", 413)
    data = body
    hint = compression_hint(query.get("compression"))
    if (method == "GET" or not body) and query.get("data"):
        data = query["data"].encode("utf-8", "replace")
    elif content_type.startswith("application/x-www-form-urlencoded") and not data.startswith(GZIP_MAGIC):
        form = _form(data)
        if "data" not in form:
            raise DecodeError("The form body has no `data` field.")
        hint = hint or compression_hint(form.get("compression"))
        data = form["data"].encode("latin-1", "replace")
        if hint != "lz64" and _B64.match(data.strip() or b"x"):
            data = data.replace(b" ", b"+")  # a '+' that came through unencoded
    hint = hint or compression_hint(content_encoding)
    if not data.strip():
        raise DecodeError("The request carries no payload.")

    if hint == "lz64":
        data = _lz_decode(data, limit)
    else:
        stripped = data.lstrip()
        if hint == "base64" or (stripped[:1] not in (b"{", b"[", b"\x1f") and _B64.match(stripped)):
            data = _b64decode(data)
        if data.startswith(GZIP_MAGIC) or (hint == "gzip" and data[:1] not in (b"{", b"[")):
            data = gunzip(data, limit)
            if data.lstrip()[:1] not in (b"{", b"[") and _B64.match(data.strip() or b"x"):
                data = _b64decode(data)  # legacy clients: base64 inside gzip
    if len(data) > limit:
        raise DecodeError(f"The decompressed payload is larger than {limit} bytes.", 413)
    return data


def _clean_surrogates(value):
    """Replace lone UTF-16 surrogates (from \\udXXX escapes) so the value encodes as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8") if _has_surrogate(value) else value
    if isinstance(value, list):
        return [_clean_surrogates(v) for v in value]
    if isinstance(value, dict):
        return {_clean_surrogates(k): _clean_surrogates(v) for k, v in value.items()}
    return value


def _has_surrogate(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _parse_int(text: str):
    value = int(text)
    return value if -(2**63) <= value < 2**64 else text  # ClickHouse has no wider JSON integer


def _parse_float(text: str):
    value = float(text)
    return value if math.isfinite(value) else None


def _no_constant(text: str):
    return None  # NaN / Infinity are not JSON; store null


def parse_json(data: bytes):
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        text = data.decode("utf-8", "replace")
    try:
        value = json.loads(text, parse_int=_parse_int, parse_float=_parse_float, parse_constant=_no_constant)
    except RecursionError:
        raise DecodeError("The JSON payload is nested too deeply.") from None
    except ValueError as exc:
        raise DecodeError(f"The payload is not valid JSON: {exc}") from None
    if _SURROGATE_ESCAPE.search(text):
        value = _clean_surrogates(value)
    return value


def parse_sent_at(value) -> dt.datetime | None:
    """sent_at from a body (ISO string) or a query parameter (milliseconds)."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float) or (isinstance(value, str) and value.strip().isdigit()):
        try:
            ms = float(value)
            if ms < 1_577_836_800_000:  # before 2020: not a real clock
                return None
            return dt.datetime.fromtimestamp(ms / 1000, dt.UTC)
        except (ValueError, OverflowError, OSError):
            return None
    return parse_timestamp(value)


def parse_timestamp(value) -> dt.datetime | None:
    """An ISO 8601 string (or epoch ms/s number) as an aware UTC datetime, else None."""
    try:
        if isinstance(value, str):
            text = value.strip()
            if not text or len(text) > 64:
                return None
            parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
            if parsed.tzinfo is None:
                parsed = parsed.replace(tzinfo=dt.UTC)
            result = parsed.astimezone(dt.UTC)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            seconds = value / 1000 if abs(value) > 1e11 else value
            result = dt.datetime.fromtimestamp(seconds, dt.UTC)
        else:
            return None
    except (ValueError, OverflowError, OSError):
        return None
    if not 1970 <= result.year <= 2200:
        return None
    return result


def _token_of(value) -> str | None:
    return value if isinstance(value, str) and value else None


def to_batch(payload, *, query_sent_at=None) -> Batch:
    """Accept an event, an array of events, or an envelope {api_key|token, batch, sent_at}."""
    sent_at = parse_sent_at(query_sent_at)
    if isinstance(payload, list):
        return Batch(events=payload, sent_at=sent_at)
    if not isinstance(payload, dict):
        raise DecodeError("The payload must be a JSON object or array.")
    token = (
        _token_of(payload.get("api_key"))
        or _token_of(payload.get("token"))
        or _token_of(payload.get("$token"))
    )
    if "batch" in payload:
        events = payload["batch"]
        if not isinstance(events, list):
            raise DecodeError("`batch` must be an array of events.")
        body_sent_at = parse_sent_at(payload.get("sent_at"))
        historical = payload.get("historical_migration") is True
        return Batch(
            events=events, token=token, sent_at=body_sent_at or sent_at, historical_migration=historical
        )
    if "data" in payload and isinstance(payload["data"], list | dict) and "event" not in payload:
        inner = to_batch(payload["data"], query_sent_at=query_sent_at)
        inner.token = inner.token or token
        return inner
    return Batch(events=[payload], token=token, sent_at=parse_sent_at(payload.get("sent_at")) or sent_at)


def event_token(event) -> str | None:
    """The project token an event carries itself (top level or in properties)."""
    if not isinstance(event, dict):
        return None
    for key in ("api_key", "token", "$token"):
        if _token_of(event.get(key)):
            return event[key]
    props = event.get("properties")
    if isinstance(props, dict):
        for key in ("token", "$token"):
            if _token_of(props.get(key)):
                return props[key]
    return None


def batch_token(batch: Batch) -> str | None:
    """The one token of a batch; DecodeError(401) when events disagree."""
    tokens = {t for t in (event_token(e) for e in batch.events) if t}
    if batch.token:
        tokens.add(batch.token)
    if len(tokens) > 1:
        raise DecodeError("The batch mixes events of several project tokens.", 401)
    return next(iter(tokens), None)
