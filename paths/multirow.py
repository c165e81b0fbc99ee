"""Which sessions of `session_paths` have several rows: the check the paths runners need
before they read that table (paths.queries._SessionPaths._single_or_grouped_sql), kept per
process and project.

A session has several rows until a merge combines them (one per INSERT that carried its
events). The runners read one-row sessions as they are and group only the others, so they
need the others' hashes, and the parts that check read: a session with a row in a part it
did not read (inserted, merged or mutated since) is grouped too. That answer stays right as
long as those parts are what they were (parts never change; a part name reappears only if
the table is emptied and written again, which `identity` catches): rows written later land
in parts the check did not read and are grouped by the query itself.

So the check (MULTI_ROW_SQL over the project's rows, ~120 ms at 10M events) runs once and
is reused, and each run only lists the table's active parts (paths/nodecache.PARTS_SQL, the
statement before the query) to decide whether the answer is still worth using: every part it knows keeps
its rows and modification time, the rows in parts it did not read stay few
(MULTI_ROW_REUSE_ROWS, or a tenth of those it read: they are grouped, which costs), and it
is younger than MULTI_ROW_TTL. Otherwise the check runs again.
"""

from __future__ import annotations

import threading
import time
from array import array
from dataclasses import dataclass

# The sessions of session_paths with several rows (hashes, at most the cap) and the parts
# that scan read, in one scan (one snapshot); the runner lists the table's active parts in
# the same statement (nodecache.PARTS_SQL).
MULTI_ROW_SQL = """
    SELECT groupArrayIf({cap})(h, part = '' AND n > 1), groupArrayIf(part, part != '')
    FROM (
        SELECT cityHash64(session_id) AS h, _part AS part, count() AS n
        FROM session_paths AS s
        WHERE {where}
        GROUP BY GROUPING SETS ((h), (part))
    )
"""
# More sessions with several rows than this (merges far behind): the query checks itself.
MULTI_ROW_CAP = 100_000
MULTI_ROW_REUSE_ROWS = 50_000
MULTI_ROW_TTL = 600.0  # seconds
_CACHE_PROJECTS = 64  # at most 0.8 MB each (MULTI_ROW_CAP hashes of 8 bytes)


@dataclass(frozen=True)
class MultiRow:
    hashes: array  # cityHash64 (array of 'Q') of the sessions with several rows in `parts`
    parts: tuple[str, ...]  # the parts the check read that `identity` knows
    identity: dict[str, tuple[int, int]]  # name -> (rows, modification time) of the active parts then
    at: float  # time.monotonic() of the check

    @classmethod
    def found(cls, hashes, parts, listed) -> MultiRow:
        """From the check's row: a part the listing missed (created or merged while the
        statement ran) is left out of `parts`, so its sessions are grouped (always right)."""
        identity = {name: (int(rows), int(mtime)) for name, rows, mtime in listed}
        return cls(array("Q", hashes), tuple(p for p in parts if p in identity), identity, time.monotonic())

    def reusable(self, listed, now: float | None = None) -> bool:
        """Whether this answer may serve a query of the parts `listed` (nodecache.listing)."""
        if (time.monotonic() if now is None else now) - self.at > MULTI_ROW_TTL:
            return False
        newer = 0
        for name, rows, mtime in listed:
            known = self.identity.get(name)
            if known is None:
                newer += int(rows)
            elif known != (int(rows), int(mtime)):
                return False  # the name is back with other rows: the table was emptied and refilled
        read = sum(self.identity[p][0] for p in self.parts)
        return newer <= max(MULTI_ROW_REUSE_ROWS, read // 10)


_cache: dict[int, MultiRow] = {}
_lock = threading.Lock()


def cached(project_id: int) -> MultiRow | None:
    with _lock:
        return _cache.get(project_id)


def remember(project_id: int, found: MultiRow) -> None:
    with _lock:
        if project_id not in _cache and len(_cache) >= _CACHE_PROJECTS:
            _cache.pop(next(iter(_cache)))
        _cache[project_id] = found


def forget(project_id: int | None = None) -> None:
    with _lock:
        if project_id is None:
            _cache.clear()
        else:
            _cache.pop(project_id, None)
