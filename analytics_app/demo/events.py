"""A chunk's events: plain columns plus property parts, encoded on demand as columns
with JSON text (`Events.columns`) or as Native blocks (`Events.native_blocks`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from analytics_app.clickhouse import native

from .cityhash import city_hash64
from .fragments import Part, concat_native
from .vocabulary import DAY_US, EVENTS

_HEX = np.frombuffer(b"0123456789abcdef", np.uint8)


def uuid_text(raw: np.ndarray) -> pa.StringArray:
    """Canonical text of n 16-byte UUIDs, as one Arrow string array, without a Python loop."""
    n = len(raw)
    hexed = np.empty((n, 32), np.uint8)
    hexed[:, 0::2] = _HEX[raw >> 4]
    hexed[:, 1::2] = _HEX[raw & 15]
    out = np.full((n, 36), ord("-"), np.uint8)
    for dst, src in ((0, 0), (9, 8), (14, 12), (19, 16), (24, 20)):
        width = {0: 8, 20: 12}.get(src, 4)
        out[:, dst : dst + width] = hexed[:, src : src + width]
    offsets = np.arange(0, 36 * (n + 1), 36, dtype=np.int32)
    return pa.StringArray.from_buffers(n, pa.py_buffer(offsets), pa.py_buffer(out))


def random_uuids(rng: np.random.Generator, ms: np.ndarray | None = None, n: int | None = None) -> np.ndarray:
    """UUIDv7 for the given unix milliseconds (as posthog-js makes them), else UUIDv4."""
    n = len(ms) if ms is not None else n
    raw = np.frombuffer(rng.bytes(16 * n), np.uint8).reshape(n, 16).copy()
    if ms is not None:
        raw[:, :6] = ms.astype(">u8").view(np.uint8).reshape(n, 8)[:, 2:]
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x70
    else:
        raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    return raw


_EVENT_RANK = np.argsort(np.argsort(np.array([e.encode() for e in EVENTS], dtype=object)))
_EVENT_NAMES = pa.array([native.string(e) for e in EVENTS], pa.binary())
NATIVE_COLUMNS = (
    ("uuid", "UUID"),
    ("project_id", "UInt32"),
    ("event", "String"),
    ("distinct_id", "String"),
    ("person_id", "UUID"),
    ("timestamp", "DateTime64(6, 'UTC')"),
    ("properties", "JSON(max_dynamic_paths = 512)"),
    ("session_id", "String"),
    ("window_id", "String"),
)


def _uuid_order(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sort keys (minor, major) that order UUIDs as ClickHouse does: second half first."""
    halves = np.ascontiguousarray(raw).view(">u8")
    return halves[:, 0], halves[:, 1]


@dataclass
class Events:
    """A chunk's events: plain columns plus property parts, encoded on demand."""

    project_id: int
    uuid_raw: np.ndarray
    event: np.ndarray
    ts: np.ndarray
    person: np.ndarray
    sess: np.ndarray
    as_user: np.ndarray
    parts: list[Part]
    person_raw: np.ndarray
    person_ids: pa.StringArray
    user_ids: pa.StringArray
    anon_ids: pa.StringArray
    session_ids: pa.StringArray
    window_ids: pa.StringArray

    @property
    def n(self) -> int:
        return len(self.ts)

    def __getitem__(self, name: str):
        return self.columns()[name]

    def columns(self) -> dict:
        """Columns for ch.insert, properties as JSON text (the portable path)."""
        cached = getattr(self, "_columns", None)
        if cached is not None:
            return cached
        person_a, sess_a = pa.array(self.person), pa.array(self.sess)
        inner = pc.binary_join_element_wise(*(p.take(p.json) for p in self.parts), ",", null_handling="skip")
        self._columns = {
            "uuid": uuid_text(self.uuid_raw),
            "project_id": np.full(self.n, self.project_id, np.uint32),
            "event": pa.array(EVENTS).take(pa.array(self.event)),
            "distinct_id": pc.if_else(
                pa.array(self.as_user), self.user_ids.take(person_a), self.anon_ids.take(person_a)
            ),
            "person_id": self.person_ids.take(person_a),
            "timestamp": self.ts.astype("datetime64[us]"),
            "properties": pc.binary_join_element_wise("{", inner, "}", ""),
            "session_id": self.session_ids.take(sess_a),
            "window_id": self.window_ids.take(sess_a),
        }
        return self._columns

    @classmethod
    def concat(cls, batch: list[Events]) -> Events:
        """One set of events from several chunks' (person and session indexes shifted)."""
        if len(batch) == 1:
            return batch[0]
        person_base = np.cumsum([0] + [len(e.person_raw) for e in batch[:-1]])
        sess_base = np.cumsum([0] + [len(e.session_ids) for e in batch[:-1]])
        parts = []
        for j in range(len(batch[0].parts)):
            chunk_parts = [e.parts[j] for e in batch]
            base = np.cumsum([0] + [p.size for p in chunk_parts[:-1]])
            parts.append(
                Part(
                    lambda chunk_parts=chunk_parts: pa.concat_arrays([p.json for p in chunk_parts]),
                    lambda chunk_parts=chunk_parts: concat_native(
                        [p.native for p in chunk_parts], [p.size for p in chunk_parts]
                    ),
                    sum(p.size for p in chunk_parts),
                    np.concatenate(
                        [
                            np.where(p.index >= 0, p.index + b, -1)
                            for p, b in zip(chunk_parts, base, strict=True)
                        ]
                    ),
                )
            )
        cat = lambda name: np.concatenate([getattr(e, name) for e in batch])  # noqa: E731
        arrow = lambda name: pa.concat_arrays([getattr(e, name) for e in batch])  # noqa: E731
        return cls(
            project_id=batch[0].project_id,
            uuid_raw=cat("uuid_raw"),
            event=cat("event"),
            ts=cat("ts"),
            person=np.concatenate([e.person + b for e, b in zip(batch, person_base, strict=True)]),
            sess=np.concatenate([e.sess + b for e, b in zip(batch, sess_base, strict=True)]),
            as_user=cat("as_user"),
            parts=parts,
            person_raw=cat("person_raw"),
            person_ids=arrow("person_ids"),
            user_ids=arrow("user_ids"),
            anon_ids=arrow("anon_ids"),
            session_ids=arrow("session_ids"),
            window_ids=arrow("window_ids"),
        )

    def sort_order(self) -> np.ndarray:
        """The permutation that puts the events in the events table's sorting key order:
        (project_id, toDate(timestamp), event, cityHash64(distinct_id), uuid)."""
        distinct_hash = np.where(
            self.as_user, city_hash64(self.user_ids)[self.person], city_hash64(self.anon_ids)[self.person]
        )
        uuid_minor, uuid_major = _uuid_order(self.uuid_raw)
        day_event = (self.ts // DAY_US) * len(EVENTS) + _EVENT_RANK[self.event]
        return np.lexsort((uuid_minor, uuid_major, distinct_hash, day_event))

    def partitions(self) -> list[np.ndarray]:
        """Row indexes in the sorting key's order, one array per month (the partition key)."""
        if not self.n:
            return []
        order = self.sort_order()
        months = (self.ts[order] // DAY_US).astype("datetime64[D]").astype("datetime64[M]")
        bounds = [0, *(np.flatnonzero(months[1:] != months[:-1]) + 1).tolist(), len(order)]
        return [order[first:last] for first, last in zip(bounds[:-1], bounds[1:], strict=True)]

    def native(self, rows: np.ndarray) -> native.Block:
        """A Native block of the events `rows`, in that order (NATIVE_COLUMNS)."""
        person, sess, as_user = self.person[rows], self.sess[rows], self.as_user[rows]
        person_a, sess_a = pa.array(person), pa.array(sess)
        paths: dict[str, tuple[str, np.ndarray, pa.Array]] = {}
        for part in self.parts:
            index = part.index[rows]
            index_a = pa.array(index, mask=index < 0)
            for key, (kind, vocab) in part.native.items():
                values = vocab.take(index_a)
                if values.null_count == len(values):
                    continue  # no row of this block has the property
                has = values.is_valid().to_numpy(zero_copy_only=False)
                paths[key] = (kind, np.where(has, 0, 1).astype(np.uint8), values.drop_null())
        distinct = pc.if_else(
            pa.array(as_user),
            native.strings(self.user_ids).take(person_a),
            native.strings(self.anon_ids).take(person_a),
        )
        data = {
            "uuid": [native.uuids(self.uuid_raw[rows])],
            "project_id": [np.full(len(rows), self.project_id, "<u4").tobytes()],
            "event": [native.binary_data(_EVENT_NAMES.take(pa.array(self.event[rows])))],
            "distinct_id": [native.binary_data(distinct)],
            "person_id": [native.uuids(self.person_raw)[person]],
            "timestamp": [self.ts[rows].astype("<i8").tobytes()],
            "properties": native.json_flattened(paths),
            "session_id": [native.binary_data(native.strings(self.session_ids).take(sess_a))],
            "window_id": [native.binary_data(native.strings(self.window_ids).take(sess_a))],
        }
        return native.block(len(rows), [(name, kind, data[name]) for name, kind in NATIVE_COLUMNS])
