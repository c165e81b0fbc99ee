"""Property fragments: a few (key, value) properties that event rows pick by index.

A vocabulary of fragments (`Frags`) gives, when asked, its JSON text (`"k":v,...`,
joined with "," and wrapped in {} per row) or its columns per JSON path (type, encoded
value per fragment) for Native's flattened JSON serialization. Rows hold only indexes
(`Part`), so no event costs a Python call on either path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from analytics_app.clickhouse import native

from .vocabulary import (
    BROWSERS,
    CAMPAIGNS,
    CHANNELS,
    CLICKS,
    COUNTRIES,
    DEVICES,
    EXCEPTIONS,
    FEATURES,
    HOST,
    OSES,
    PAGES,
    PLANS,
    QUERIES,
    SCREENS,
)


def js(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def kv(key: str, value) -> str:
    return f"{js(key)}:{js(value)}"


def native_columns(entries: list[list[tuple[str, object]]]) -> dict[str, tuple[str, pa.Array]]:
    """Per JSON path of a vocabulary: its type and each entry's encoded value (null: absent)."""
    columns: dict[str, tuple[str, list]] = {}
    for i, pairs in enumerate(entries):
        for key, value in pairs:
            kind, raw = native.value(value)
            known = columns.setdefault(key, (kind, [None] * len(entries)))
            if known[0] != kind:
                raise ValueError(f"property {key} is both {known[0]} and {kind}")
            known[1][i] = raw
    return {key: (kind, pa.array(values, pa.binary())) for key, (kind, values) in columns.items()}


def flat(pairs) -> list[tuple[str, object]]:
    """Nested objects become dotted paths, as the JSON type stores them."""
    out = []
    for key, value in pairs:
        if isinstance(value, dict):
            out.extend((f"{key}.{k}", v) for k, v in value.items())
        else:
            out.append((key, value))
    return out


class Frags:
    """A vocabulary of property fragments, turned into JSON text or Native columns when
    asked for. Entries are (key, value) pairs added one by one, or blocks of many entries
    given as columns (per-person values: no Python per entry on the Native path)."""

    def __init__(self, items=()):
        self.segments: list = []  # list of pairs | (size, json_fn, native columns)
        self.size = 0
        self.index: dict[tuple, int] = {}
        for pairs in items:
            self.add(pairs)

    def add(self, pairs, key: tuple | None = None) -> int:
        if not self.segments or not isinstance(self.segments[-1], list):
            self.segments.append([])
        self.segments[-1].append(pairs)
        if key is not None:
            self.index[key] = self.size
        self.size += 1
        return self.size - 1

    def add_block(self, size: int, json_fn: Callable[[], list[str]], columns: dict) -> int:
        """Add `size` entries at once: `json_fn()` gives their JSON text, `columns` maps each
        path to (type, encoded value per entry); returns the index of the first."""
        self.segments.append((size, json_fn, columns))
        self.size += size
        return self.size - size

    @property
    def pairs(self) -> list[tuple]:
        """The entries added one by one (the static vocabularies have only these)."""
        return [pairs for segment in self.segments if isinstance(segment, list) for pairs in segment]

    @property
    def json(self) -> list[str]:
        out: list[str] = []
        for segment in self.segments:
            if isinstance(segment, list):
                out += [",".join(kv(k, v) for k, v in pairs) for pairs in segment]
            else:
                out += segment[1]()
        return out

    def native(self) -> dict[str, tuple[str, pa.Array]]:
        columns, sizes = [], []
        for segment in self.segments:
            if isinstance(segment, list):
                columns.append(native_columns([flat(pairs) for pairs in segment]))
                sizes.append(len(segment))
            else:
                columns.append(segment[2])
                sizes.append(segment[0])
        return concat_native(columns, sizes)

    def copy(self) -> Frags:
        other = Frags()
        other.segments = [list(seg) if isinstance(seg, list) else seg for seg in self.segments]
        other.size, other.index = self.size, self.index
        return other

    def part(self, index: np.ndarray) -> Part:
        return Part(lambda: pa.array(self.json, pa.string()), self.native, self.size, index)


@dataclass
class Part:
    """Rows' picks from one vocabulary (index -1: the row has none of these properties)."""

    json_fn: Callable[[], pa.Array]  # the vocabulary as JSON text, built on demand
    native_fn: Callable[[], dict[str, tuple[str, pa.Array]]]  # path -> (type, value per entry)
    size: int  # entries in the vocabulary
    index: np.ndarray

    @property
    def json(self) -> pa.Array:
        return self.json_fn()

    @property
    def native(self) -> dict[str, tuple[str, pa.Array]]:
        cached = self.__dict__.get("_native")
        if cached is None:
            cached = self.__dict__["_native"] = self.native_fn()
        return cached

    def take(self, values: pa.Array) -> pa.Array:
        return values.take(pa.array(self.index, mask=self.index < 0))


def page_pairs(path: str, query: str = "") -> tuple:
    return (("$current_url", HOST + path + query), ("$pathname", path))


PAGE_FRAGS = Frags(page_pairs(path) for path in PAGES)
REF_FRAGS = Frags((("$referrer", c[1]), ("$referring_domain", c[2])) for c in CHANNELS)
UTM_LIST = tuple((ci, utm) for ci, _, utms in CAMPAIGNS for utm in utms)
UTM_FRAGS = Frags(
    tuple(zip(("utm_source", "utm_medium", "utm_campaign"), utm, strict=True)) for _, utm in UTM_LIST
)
ANON_FRAGS = Frags([(("$process_person_profile", False),)])
BROWSER_FRAGS = Frags((("$browser", b),) for b in BROWSERS)
OS_FRAGS = Frags((("$os", o),) for o in OSES)
DEVICE_FRAGS = Frags((("$device_type", d),) for d in DEVICES)
SCREEN_FRAGS = Frags((("$screen_width", w),) for widths in SCREENS for w in widths)
COUNTRY_FRAGS = Frags((("$geoip_country_code", c[0]),) for c in COUNTRIES)
LIB_FRAGS = Frags([(("$lib", "web"),)])

EXTRAS = Frags()
for _i, _plan in enumerate(PLANS):
    EXTRAS.add((("plan", _plan),), key=("plan", _i))
for _step, _name in enumerate(("create_workspace", "install_snippet", "invite_team"), start=1):
    EXTRAS.add((("step", _step), ("step_name", _name)), key=("step", _step))
for _i, _f in enumerate(FEATURES):
    EXTRAS.add((("feature", _f),), key=("feature", _i))
for _i, _q in enumerate(QUERIES):
    EXTRAS.add((("query", _q),), key=("query", _i))
for _i, (_t, _m) in enumerate(EXCEPTIONS):
    EXTRAS.add((("$exception_type", _t), ("$exception_message", _m)), key=("exception", _i))
for _text in (*CLICKS, "Create account", "Choose plan", "Pay now"):
    EXTRAS.add((("$event_type", "click"), ("$el_text", _text)), key=("click", _text))
CLICK0 = EXTRAS.index[("click", CLICKS[0])]


def concat_native(columns: list[dict], sizes: list[int]) -> dict[str, tuple[str, pa.Array]]:
    out = {}
    for key in {k for c in columns for k in c}:
        kinds = {c[key][0] for c in columns if key in c}
        if len(kinds) > 1:
            raise ValueError(f"property {key} has types {kinds}")
        out[key] = (
            kinds.pop(),
            pa.concat_arrays(
                [
                    c[key][1] if key in c else pa.nulls(size, pa.binary())
                    for c, size in zip(columns, sizes, strict=True)
                ]
            ),
        )
    return out
