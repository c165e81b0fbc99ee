"""ClickHouse's cityHash64 (CityHash64 v1.0.2) of many strings at once, in numpy.

The writer sorts events by the events sorting key, which hashes distinct_id, so that
the engine finds each block already sorted and skips permuting the JSON column.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

# the engine finds each block already sorted and skips permuting the JSON column.
_K0, _K2 = np.uint64(0xC3A5C85C97CB3127), np.uint64(0x9AE16A3B2F90404F)
_KMUL = np.uint64(0x9DDFEA08EB382D69)


def _rot(v: np.ndarray, shift: int) -> np.ndarray:
    return (v >> np.uint64(shift)) | (v << np.uint64(64 - shift))


def _fetch(raw: np.ndarray, offset: int, width: int) -> np.ndarray:
    chunk = np.ascontiguousarray(raw[:, offset : offset + width])
    return chunk.view("<u8" if width == 8 else "<u4")[:, 0].astype(np.uint64)


def _hash16(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    a = (u ^ v) * _KMUL
    a ^= a >> np.uint64(47)
    b = (v ^ a) * _KMUL
    b ^= b >> np.uint64(47)
    return b * _KMUL


def _shift_mix(v: np.ndarray) -> np.ndarray:
    return v ^ (v >> np.uint64(47))


def _city64_fixed(raw: np.ndarray) -> np.ndarray:
    """CityHash64 of the rows of an (m, length) uint8 array; lengths 4-16 and 33-64."""
    length = raw.shape[1]
    n = np.uint64(length)
    with np.errstate(over="ignore"):
        if 4 <= length <= 8:
            return _hash16(n + (_fetch(raw, 0, 4) << np.uint64(3)), _fetch(raw, length - 4, 4))
        if 8 < length <= 16:
            a, b = _fetch(raw, 0, 8), _fetch(raw, length - 8, 8)
            return _hash16(a, _rot(b + n, length)) ^ b
        if 32 < length <= 64:
            f = lambda offset: _fetch(raw, offset, 8)  # noqa: E731
            z = f(24)
            a = f(0) + (n + f(length - 16)) * _K0
            b, c = _rot(a + z, 52), _rot(a, 37)
            a = a + f(8)
            c = c + _rot(a, 7)
            a = a + f(16)
            vf, vs = a + z, b + _rot(a, 31) + c
            a = f(16) + f(length - 32)
            z = f(length - 8)
            b, c = _rot(a + z, 52), _rot(a, 37)
            a = a + f(length - 24)
            c = c + _rot(a, 7)
            a = a + f(length - 16)
            wf, ws = a + z, b + _rot(a, 31) + c
            r = _shift_mix((vf + ws) * _K2 + (wf + vs) * _K0)
            return _shift_mix(r * _K0 + vs) * _K2
    raise ValueError(f"no vectorized CityHash64 for {length}-byte strings")


def city_hash64(values: pa.StringArray) -> np.ndarray:
    """ClickHouse's cityHash64 of each string (lengths 4-16 and 33-64 bytes)."""
    out = np.zeros(len(values), np.uint64)
    binary = values.cast(pa.binary())
    lengths = pc.binary_length(binary).to_numpy(zero_copy_only=False)
    offsets = np.frombuffer(binary.buffers()[1], np.int32)[binary.offset : binary.offset + len(values) + 1]
    data = np.frombuffer(binary.buffers()[2], np.uint8)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        starts = offsets[rows]
        raw = data[starts[:, None] + np.arange(length)]
        out[rows] = _city64_fixed(raw)
    return out
