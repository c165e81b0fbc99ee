"""The node dictionary of a paths query (paths.queries.PathsDict), kept per process while
`path_node_keys` is unchanged.

The dictionary is a function of the project's rows of `path_node_keys` and of its own SQL
and values (range months, event types, cleaning rules, groupings, exclusions, the point,
masking), so the same statement on the same parts gives the same answer. Computing it is
mostly ClickHouse's analysis of a statement of ~25 lambdas: ~21 ms of the ~25 ms it took
on the 200k-event demo, where listing the parts takes ~3 ms (docs/paths.md, "The node
dictionary reused").

Exactness: the runner lists the table's active parts first, then, only when that listing
is not the one an entry was made under, computes the dictionary in a later statement and
files it under that listing. A later statement reads at least the rows of the parts
listed before it (parts never change; a merge moves rows into a new part, it does not
drop them), so an entry covers every row of its listing's parts, and it is used only
while the table's active parts are exactly those. Rows written after the listing can
only add keys, which makes the entry a superset, harmless (the dictionary already spans
whole months). A live project writes new parts often: its dictionary is computed each
time, as before, at the cost of the ~3 ms listing, which the multi-row check of
session_paths needs anyway (paths/multirow.py) and which shares its statement.
"""

from __future__ import annotations

import re
import threading
import time
from collections import OrderedDict
from typing import Any

# Both tables the paths runners reuse answers for, as (table, name, rows, modification time).
PARTS_SQL = """
    SELECT groupArray((table, name, rows, toUnixTimestamp(modification_time)))
    FROM system.parts
    WHERE database = currentDatabase() AND table IN ('session_paths', 'path_node_keys') AND active
"""
TABLE = "path_node_keys"
TTL = 600.0  # seconds: bounds how long an unused entry holds memory
_ENTRIES = 64  # a dictionary is at most a few MB (11k keys at 10M events: ~1 MB)

_PLACEHOLDER = re.compile(r"\{(\w+):([^{}]*)\}")


def key(sql: str, params: dict[str, Any]) -> str:
    """The statement with each bound value in place of its placeholder: the same key
    whatever the parameters happened to be numbered."""
    return _PLACEHOLDER.sub(lambda m: f"{{{m[2]}={params[m[1]]!r}}}", sql)


def listing(listed, table: str) -> frozenset[tuple[str, int, int]]:
    """One table's parts out of PARTS_SQL's row, as (name, rows, modification time)."""
    return frozenset((name, int(rows), int(mtime)) for t, name, rows, mtime in listed if t == table)


_cache: OrderedDict[tuple[int, str], tuple[frozenset, Any, float]] = OrderedDict()
_lock = threading.Lock()


def get(project_id: int, k: str, parts: frozenset, now: float | None = None):
    """The dictionary filed under `k` if the table's parts are still exactly `parts`."""
    now = time.monotonic() if now is None else now
    with _lock:
        entry = _cache.get((project_id, k))
        if entry is None or entry[0] != parts or now - entry[2] > TTL:
            return None
        _cache.move_to_end((project_id, k))
        return entry[1]


def remember(project_id: int, k: str, parts: frozenset, dictionary) -> None:
    with _lock:
        _cache[(project_id, k)] = (parts, dictionary, time.monotonic())
        _cache.move_to_end((project_id, k))
        while len(_cache) > _ENTRIES:
            _cache.popitem(last=False)


def forget(project_id: int | None = None) -> None:
    with _lock:
        for k in [k for k in _cache if project_id is None or k[0] == project_id]:
            del _cache[k]
