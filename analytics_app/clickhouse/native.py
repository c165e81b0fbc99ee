"""ClickHouse's Native format, written from numpy/pyarrow columns without a Python loop per row.

A block is the column count, the row count, then per column its name, its type and
its data. `insert_bulk` (analytics_app.clickhouse) hands such blocks to the embedded
engine, which reads a JSON column in the flattened serialization ~40x cheaper than it
parses JSON text (docs/clickhouse.md, "Demo data").
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_FLATTENED = 3  # serialization version of Dynamic/JSON "flattened" (what
# output_format_native_use_flattened_dynamic_and_json_serialization writes)


@dataclass
class Block:
    names: list[str]
    rows: int
    buffers: list  # bytes-like, to write one after the other


def varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte, n = n & 0x7F, n >> 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def string(text: str) -> bytes:
    """A binary String: varint length, then the UTF-8 bytes."""
    raw = text.encode()
    return varint(len(raw)) + raw


def value(item) -> tuple[str, bytes]:
    """(type, encoding) of one JSON value: a JSON path's column data in the flattened
    serialization is exactly these bytes, row after row."""
    if isinstance(item, str):
        return "String", string(item)
    if isinstance(item, bool):
        return "Bool", bytes([item])
    if isinstance(item, int):
        return "Int64", struct.pack("<q", item)
    return "Float64", struct.pack("<d", item)


def fixed_binary(raw: np.ndarray) -> pa.BinaryArray:
    """An (n, w) uint8 array as n binary values of w bytes, without a copy per value."""
    n, width = raw.shape
    offsets = np.arange(0, width * (n + 1), width, dtype=np.int32)
    return pa.BinaryArray.from_buffers(
        pa.binary(), n, [None, pa.py_buffer(offsets), pa.py_buffer(raw.tobytes())]
    )


def strings(values: pa.StringArray) -> pa.BinaryArray:
    """Binary Strings (varint length + bytes) of values shorter than 128 bytes."""
    lengths = pc.binary_length(values).to_numpy(zero_copy_only=False)
    if len(lengths) and lengths.max() >= 128:
        raise ValueError("value too long for a one-byte length")
    return pc.binary_join_element_wise(
        fixed_binary(lengths.astype(np.uint8).reshape(-1, 1)),
        values.cast(pa.binary()),
        pa.scalar(b"", pa.binary()),
    )


def binary_data(values: pa.Array) -> memoryview:
    """The value bytes of a binary array, back to back (no offsets): a String column's
    data when the values come from `strings`."""
    if len(values) == 0:
        return memoryview(b"")
    offsets = np.frombuffer(values.buffers()[1], np.int32)
    start, end = offsets[values.offset], offsets[values.offset + len(values)]
    return memoryview(values.buffers()[2])[start:end]


def uuids(raw: np.ndarray) -> np.ndarray:
    """(n, 16) UUID bytes as a UUID column stores them (each 8-byte half little-endian)."""
    return np.ascontiguousarray(np.concatenate([raw[:, 7::-1], raw[:, 15:7:-1]], axis=1))


def json_flattened(paths: dict[str, tuple[str, np.ndarray, pa.Array]]) -> list:
    """A JSON column's data from path -> (type, a UInt8 per row: 0 = has a value, 1 = has
    none, the values of the rows that have one, each already encoded)."""
    names = sorted(paths)
    out = [struct.pack("<Q", _FLATTENED), varint(len(names)), *(string(k) for k in names)]
    for key in names:
        out += [struct.pack("<Q", _FLATTENED), b"\x01", string(paths[key][0])]
    for key in names:
        out += [paths[key][1].tobytes(), binary_data(paths[key][2])]
    return out


def block(rows: int, columns: list[tuple[str, str, list]]) -> Block:
    """A Native block of (name, type, data buffers) columns."""
    out = [varint(len(columns)), varint(rows)]
    for name, kind, data in columns:
        out += [string(name), string(kind), *data]
    return Block([name for name, _, _ in columns], rows, out)
