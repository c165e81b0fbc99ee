"""The two ClickHouse backends: chdb (in-process) and clickhouse-driver (native TCP).

This is the only module in Sextant that imports chdb or clickhouse_driver.
Both backends take SQL with `{name:Type}` placeholders plus a dict of values and
return (column names, column types, rows of Python values).
"""

from __future__ import annotations

import datetime as dt
import fcntl
import json
import os
import re
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from urllib.parse import parse_qsl, unquote, urlparse
from zoneinfo import ZoneInfo

from . import errors
from .params import to_param_text

# Settings every chdb query gets so JSON output round-trips Python types exactly.
# session_timezone: a DateTime whose type names no zone (fromUnixTimestamp64Micro(x),
# toDateTime(x), now()) is written in the session's zone, which is the host's TZ by
# default; the decoders read such values as UTC, so the session is pinned to UTC
# (measured: with TZ=Europe/Berlin, toDateTime(0) printed 01:00:00 without it).
_OUTPUT_SETTINGS = {
    "output_format_json_quote_64bit_integers": 0,
    "output_format_json_quote_decimals": 0,
    "output_format_json_quote_denormals": 1,
    "output_format_write_statistics": 0,
    "session_timezone": "'UTC'",
}


# ---------------------------------------------------------------- type decoding
_DT64 = re.compile(r"^DateTime(?:64)?\((?:\d+)?(?:,\s*)?(?:'([^']+)')?\)$")


def _split_args(inner: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(inner):
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    return parts


def decoder_for(ch_type: str):
    """A function turning a JSON-decoded value of `ch_type` into its Python value."""
    t = ch_type.strip()
    if t.startswith("LowCardinality("):
        return decoder_for(t[len("LowCardinality(") : -1])
    if t.startswith("Nullable("):
        inner = decoder_for(t[len("Nullable(") : -1])
        return lambda v: None if v is None else inner(v)
    if t.startswith("Array("):
        inner = decoder_for(t[len("Array(") : -1])
        return lambda v: [inner(x) for x in v]
    if t.startswith("Tuple("):
        subs = [
            decoder_for(
                a.split(" ", 1)[-1]
                if " " in a
                and not a.startswith(("Array", "Tuple", "Nullable", "Map", "DateTime", "LowCardinality"))
                else a
            )
            for a in _split_args(t[len("Tuple(") : -1])
        ]
        return lambda v: tuple(
            f(x) for f, x in zip(subs, v.values() if isinstance(v, dict) else v, strict=False)
        )
    if t.startswith("Map("):
        k, val = (decoder_for(a) for a in _split_args(t[len("Map(") : -1]))
        return lambda v: {k(a): val(b) for a, b in v.items()}
    if t == "UUID":
        return uuid.UUID
    if t in ("Date", "Date32"):
        return dt.date.fromisoformat
    if t.startswith("DateTime"):
        m = _DT64.match(t)
        tz = ZoneInfo(m.group(1)) if m and m.group(1) else dt.UTC

        def _dt(v, tz=tz):
            return dt.datetime.fromisoformat(v).replace(tzinfo=tz)

        return _dt
    if t.startswith(("Int", "UInt")):
        return int
    if t.startswith(("Float", "Decimal")):
        return lambda v: float(v) if v is not None else None
    if t == "Bool":
        return bool
    return lambda v: v  # String, JSON (already an object), Dynamic, Enum, ...


# ---------------------------------------------------------------- chdb
class ChdbBackend:
    """chdb: one embedded engine per process; one connection per thread.

    Connections on the same path share one engine; a connection object shared by
    threads serializes their queries, one per thread runs them in parallel
    (see docs/clickhouse.md for the measurement).
    """

    name = "chdb"

    def __init__(self, path: str, options: dict[str, str] | None = None):
        self.path = str(Path(path).resolve())
        self.options = options or {}
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list = []
        Path(self.path).mkdir(parents=True, exist_ok=True)

    @property
    def owner_file(self) -> Path:
        return Path(self.path) / "sextant-owner.json"

    def _connect(self):
        import chdb  # noqa: PLC0415 - the one place chdb is imported

        with self._lock:
            first = not self._all
        if first:
            self.check_lock()
        uri = self.path
        if self.options:
            uri += "?" + "&".join(f"{k}={v}" for k, v in self.options.items())
        try:
            conn = chdb.connect(uri)
        except Exception as exc:  # chdb raises RuntimeError on a held lock
            raise self._locked_error(exc) from None
        with self._lock:
            if not self._all:
                self._write_owner()
            self._all.append(conn)
        return conn

    def check_lock(self) -> None:
        """Fail clearly, before chdb tries, when another process holds the directory.

        ClickHouse flocks <path>/status while it runs; probing that lock tells us
        whether another process has the directory open.
        """
        status = Path(self.path) / "status"
        if not status.exists():
            return
        with open(status, "rb") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise self._locked_error(RuntimeError("Cannot lock file status")) from None
            fcntl.flock(fh, fcntl.LOCK_UN)

    def _write_owner(self) -> None:
        try:
            cmdline = (
                Path(f"/proc/{os.getpid()}/cmdline")
                .read_bytes()
                .replace(b"\0", b" ")
                .decode(errors="replace")
                .strip()
            )
        except OSError:
            cmdline = ""
        self.owner_file.write_text(json.dumps({"pid": os.getpid(), "cmdline": cmdline}))

    def _locked_error(self, exc: Exception) -> errors.ClickHouseError:
        text = str(exc)
        if (
            "Cannot lock file" in text
            or "already running" in text
            or "Code: 76" in text
            or "initializing EmbeddedServer" in text
        ):
            holder = "another process"
            try:
                owner = json.loads(self.owner_file.read_text())
                holder = f"process {owner['pid']} ({owner.get('cmdline') or 'unknown command'})"
            except (OSError, ValueError, KeyError):
                pass
            return errors.EngineLocked(
                f"The embedded ClickHouse data directory {self.path} is in use by {holder}. "
                "chdb lets one process open a data directory: stop that process, or run this "
                "command inside it, or point CLICKHOUSE_URL at a ClickHouse server.",
                76,
            )
        return errors.from_message(text)

    def connection(self):
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def _discard(self) -> None:
        """Replace this thread's connection after a failed query.

        Measured with chdb 26.9: after a query fails, the next result read on the
        same connection starts with the failed query's partial output. A fresh
        connection (same engine, same path) is clean, so failures never leak.
        """
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is None:
            return
        with self._lock:
            if conn in self._all:
                self._all.remove(conn)
        try:
            conn.close()
        except Exception:  # noqa: BLE001,S110 - it is being thrown away
            pass

    def _fail(self, exc: Exception) -> errors.ClickHouseError:
        self._discard()
        return errors.from_message(str(exc))

    @staticmethod
    def _with_settings(sql: str, settings: dict) -> str:
        merged = {**_OUTPUT_SETTINGS, **settings}
        clause = ", ".join(f"{k} = {v}" for k, v in merged.items())
        return f"{sql.rstrip().rstrip(';')}\nSETTINGS {clause}"

    def execute(self, sql: str, params: dict, settings: dict, *, want_result: bool = True):
        conn = self.connection()
        text_params = {k: to_param_text(v) for k, v in params.items()}
        try:
            if not want_result:
                conn.query(sql, "CSV", params=text_params or None)
                return [], [], []
            res = conn.query(self._with_settings(sql, settings), "JSONCompact", params=text_params or None)
        except Exception as exc:
            raise self._fail(exc) from None
        raw = res.bytes()
        if not raw:
            return [], [], []
        doc = json.loads(raw)
        names = [m["name"] for m in doc["meta"]]
        types = [m["type"] for m in doc["meta"]]
        decoders = [decoder_for(t) for t in types]
        rows = [
            tuple(None if v is None else f(v) for f, v in zip(decoders, row, strict=True))
            for row in doc["data"]
        ]
        return names, types, rows

    def stream(
        self, sql: str, params: dict, settings: dict, batch_rows: int
    ) -> Iterator[tuple[list[str], list[tuple]]]:
        """Yield (names, rows) chunks without holding the whole result."""
        conn = self.connection()
        text_params = {k: to_param_text(v) for k, v in params.items()}
        merged = {**settings, "max_block_size": batch_rows}
        try:
            result = conn.send_query(
                self._with_settings(sql, merged),
                "JSONCompactEachRowWithNamesAndTypes",
                params=text_params or None,
            )
            decoders = None
            for chunk in result:
                # Each chunk is one block: a names line, a types line, then whole rows.
                lines = chunk.bytes().split(b"\n")
                if len(lines) < 3:
                    continue
                names = json.loads(lines[0])
                if decoders is None:
                    decoders = [decoder_for(t) for t in json.loads(lines[1])]
                rows = [
                    tuple(
                        None if v is None else f(v) for f, v in zip(decoders, json.loads(line), strict=True)
                    )
                    for line in lines[2:]
                    if line
                ]
                if rows:
                    yield names, rows
        except Exception as exc:
            raise self._fail(exc) from None

    def insert(self, table: str, columns: dict[str, list], settings: str | None = None) -> int:
        import pyarrow as pa  # noqa: PLC0415

        arrays = {}
        for name, values in columns.items():
            arrays[name] = pa.array(values)
        tbl = pa.table(arrays)  # noqa: F841 - read by chdb's Python() table function
        cols = ", ".join(f"`{c}`" for c in columns)
        conn = self.connection()
        try:
            clause = f" SETTINGS {settings}" if settings else ""
            conn.query(f"INSERT INTO {table} ({cols}){clause} SELECT {cols} FROM Python(tbl)")  # noqa: S608 - identifiers are allow-listed by the caller; settings built by the layer
        except Exception as exc:
            raise self._fail(exc) from None
        return tbl.num_rows

    def insert_bulk(
        self, table: str, columns: Callable[[], dict], native_blocks: Callable[[], Iterable]
    ) -> int:
        """Each Native block through a temporary file and `INSERT ... SELECT FROM file()`.

        Measured on chdb 26.9 (docs/clickhouse.md, "Demo data"): parsing JSON text is
        ~8 µs/row, permuting an unsorted block's JSON column another ~5-19 µs/row and
        `optimize_on_insert` ~4 µs/row; a flattened Native JSON column reads in ~0.2 µs.
        """
        written = 0
        for block in native_blocks():
            names, rows = block.names, block.rows
            fd, path = tempfile.mkstemp(dir=_scratch_directory(), prefix="sextant-", suffix=".native")
            try:
                with os.fdopen(fd, "wb") as out:
                    for buffer in block.buffers:
                        out.write(buffer)
                del block  # the file holds it now
                cols = ", ".join(f"`{c}`" for c in names)
                self.execute(
                    f"INSERT INTO {table} ({cols}) SELECT {cols} FROM file({{path:String}}, 'Native') "  # noqa: S608 - identifiers are allow-listed by the caller
                    "SETTINGS optimize_on_insert = 0",
                    {"path": path},
                    {},
                    want_result=False,
                )
            finally:
                os.remove(path)
            written += rows
        return written

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                try:
                    conn.close()
                except Exception:  # noqa: BLE001,S110 - closing best-effort at shutdown
                    pass
            self._all.clear()
        self._local = threading.local()


def _scratch_directory() -> str | None:
    """Where Native files go for their one INSERT (up to a few hundred MB each): memory
    (/dev/shm) when there is room, so the disk never sees them; else the temporary directory."""
    shm = "/dev/shm"  # noqa: S108 - files made by mkstemp: private to this user
    try:
        stat = os.statvfs(shm)
    except OSError:
        return None
    return shm if stat.f_bavail * stat.f_frsize > 2 * 1024**3 else None


# ---------------------------------------------------------------- clickhouse-driver
# As _OUTPUT_SETTINGS' session_timezone for chdb (the driver sends settings as text).
_DRIVER_SESSION = {"session_timezone": "UTC"}


class DriverBackend:
    """clickhouse-driver over the native protocol, with server-side parameters."""

    name = "clickhouse"

    def __init__(self, url: str):
        self.url = url
        self._local = threading.local()
        self._describe: dict[str, list[tuple[str, str]]] = {}

    def connection(self):
        client = getattr(self._local, "client", None)
        if client is None:
            from clickhouse_driver import Client  # noqa: PLC0415 - the one place it is imported

            client = Client.from_url(self.url)
            client.settings["server_side_params"] = True
            client.connection.context.client_settings["server_side_params"] = True
            self._local.client = client
        return client

    def _call(self, fn):
        from clickhouse_driver import errors as drv_errors  # noqa: PLC0415

        try:
            return fn()
        except drv_errors.ServerException as exc:
            raise errors.from_message(exc.message, exc.code) from None
        except (drv_errors.NetworkError, drv_errors.SocketTimeoutError, OSError, EOFError) as exc:
            raise errors.Unavailable(
                f"ClickHouse server unreachable at {urlparse(self.url).hostname}: {exc}"
            ) from None
        except drv_errors.Error as exc:
            raise errors.from_message(str(exc), getattr(exc, "code", None)) from None

    @staticmethod
    def _normalize(value, zone: dt.tzinfo = dt.UTC):
        """Aware UTC datetimes only. clickhouse-driver returns a DateTime whose type names
        no zone as a naive wall time in the server's (or session's) zone: `zone`."""
        if isinstance(value, dt.datetime):
            if value.tzinfo is None:
                value = value.replace(tzinfo=zone)
            return value.astimezone(dt.UTC)
        if isinstance(value, list | tuple):
            return type(value)(DriverBackend._normalize(v, zone) for v in value)
        return value

    @staticmethod
    def _naive_zone(client) -> dt.tzinfo:
        try:
            name = client.connection.server_info.get_timezone()
        except AttributeError:
            return dt.UTC
        try:
            return ZoneInfo(name) if name else dt.UTC
        except (ValueError, KeyError):
            return dt.UTC

    def execute(self, sql: str, params: dict, settings: dict, *, want_result: bool = True):
        client = self.connection()
        text_params = {k: _DriverParam(to_param_text(v)) for k, v in params.items()}
        if not want_result:
            self._call(lambda: client.execute(sql, text_params or None, settings=settings))
            return [], [], []
        settings = {**settings, **_DRIVER_SESSION}
        data, cols = self._call(
            lambda: client.execute(sql, text_params, with_column_types=True, settings=settings)
        )
        names = [c[0] for c in cols]
        types = [c[1] for c in cols]
        zone = self._naive_zone(client)
        rows = [tuple(self._normalize(v, zone) for v in row) for row in data]
        return names, types, rows

    def stream(self, sql: str, params: dict, settings: dict, batch_rows: int):
        client = self.connection()
        text_params = {k: _DriverParam(to_param_text(v)) for k, v in params.items()}
        merged = {**settings, **_DRIVER_SESSION, "max_block_size": batch_rows}
        it = self._call(
            lambda: client.execute_iter(sql, text_params, with_column_types=True, settings=merged)
        )
        names, rows = None, []
        for item in it:
            if names is None:
                names = [c[0] for c in item]
                zone = self._naive_zone(client)
                continue
            rows.append(tuple(self._normalize(v, zone) for v in item))
            if len(rows) >= batch_rows:
                yield names, rows
                rows = []
        if rows:
            yield names, rows

    def insert(self, table: str, columns: dict[str, list], settings: str | None = None) -> int:
        client = self.connection()
        structure = self._describe.get(table)
        if structure is None:
            described = self._call(lambda: client.execute(f"DESCRIBE TABLE {table}"))  # noqa: S608 - allow-listed
            structure = self._describe[table] = [(r[0], r[1]) for r in described]
        types = dict(structure)
        # JSON columns travel as String and are parsed by the server through input().
        decl = ", ".join(f"`{c}` {'String' if types[c].startswith('JSON') else types[c]}" for c in columns)
        cols = ", ".join(f"`{c}`" for c in columns)
        clause = f" SETTINGS {settings}" if settings else ""
        sql = f"INSERT INTO {table} ({cols}){clause} SELECT {cols} FROM input('{decl}') VALUES"  # noqa: S608 - allow-listed
        # Columns may be lists, numpy arrays or pyarrow arrays (as for chdb).
        data = [
            v.to_pylist() if hasattr(v, "to_pylist") else (v.tolist() if hasattr(v, "tolist") else list(v))
            for v in columns.values()
        ]
        self._call(lambda: client.execute(sql, data, columnar=True, types_check=False))
        return len(data[0]) if data else 0

    def insert_bulk(
        self, table: str, columns: Callable[[], dict], native_blocks: Callable[[], Iterable]
    ) -> int:
        """The columns, JSON as text: `file()` would read the server's disk, not ours."""
        built = columns()
        return self.insert(table, built) if built else 0

    def close(self) -> None:
        client = getattr(self._local, "client", None)
        if client is not None:
            client.disconnect()
        self._local = threading.local()


class _DriverParam(str):
    """A value already in ClickHouse's parameter text form.

    clickhouse-driver's server-side escaping quotes str values; we send text that
    ClickHouse parses as the declared type, so tell the escaper to leave it.
    """


def _patch_driver_escape():
    from clickhouse_driver.util import escape  # noqa: PLC0415

    original = escape.escape_param
    if getattr(original, "_sextant", False):
        return

    def escape_param(item, context, for_server=False):
        if for_server and isinstance(item, _DriverParam):
            return str(item)
        return original(item, context, for_server=for_server)

    escape_param._sextant = True
    escape.escape_param = escape_param


def from_url(url: str):
    """Pick a backend from CLICKHOUSE_URL."""
    if url.startswith("chdb:"):
        rest = url[len("chdb:") :]
        if rest.startswith("//"):
            rest = rest[2:]
        path, _, query = rest.partition("?")
        path = unquote(path) or "var/chdb"
        return ChdbBackend(path, dict(parse_qsl(query)))
    if url.startswith(("clickhouse://", "clickhouses://")):
        _patch_driver_escape()
        return DriverBackend(url)
    if "://" not in url:
        return ChdbBackend(url)
    raise errors.ClickHouseError(
        f"CLICKHOUSE_URL must start with chdb:// or clickhouse://, got {url.split('://')[0]}://"
    )
