"""Runners for the event explorer, event detail, persons and person detail.

Listing events is a keyset walk over (timestamp, uuid) DESC, never OFFSET, in two steps:

1. the page: `uuid, timestamp` of the next `limit + 1` rows matching the filter,
   `ORDER BY toDate(timestamp) DESC, timestamp DESC, uuid DESC` (the leading
   toDate() is the table's first sort-key column after project_id, so ClickHouse
   reads days newest first and stops early; it does not change the order). After
   a cursor the range is also cut at `timestamp <= cursor` so deep pages prune
   partitions and granules instead of scanning what was already shown.
2. the rows: full columns (the JSON properties) for just those uuids, inside the
   page's own [oldest, newest] timestamp window, with the current person of each
   distinct_id looked up for just those distinct_ids.

bench/bench_explorer.py measures this against a one-step query (docs/explorer.md).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

from analytics_app import clickhouse as ch
from insights.blocks import EventSource, SQLBuilder
from insights.blocks.filters import event_text_sql

from .forms import Cursor, EventsSpec, PersonsSpec

DT64 = "DateTime64(6, 'UTC')"
ZERO_UUID = uuid.UUID(int=0)

# The distinct_ids whose current person is {pid}: candidates by any version, then the latest mapping must agree.
PERSON_DISTINCT_IDS_SQL = """
    SELECT distinct_id FROM person_distinct_ids
    WHERE project_id = {project_id:UInt32} AND distinct_id IN (
        SELECT distinct_id FROM person_distinct_ids WHERE project_id = {project_id:UInt32} AND person_id = {pid}
    )
    GROUP BY distinct_id
    HAVING argMax(person_id, version) = {pid} AND argMax(is_deleted, version) = 0
"""
# The current person of one distinct_id.
PERSON_OF_DISTINCT_ID_SQL = """
    SELECT argMax(person_id, version) FROM person_distinct_ids
    WHERE project_id = {project_id:UInt32} AND distinct_id = {did}
    GROUP BY distinct_id
    HAVING argMax(is_deleted, version) = 0
"""


def person_distinct_ids_sql(b: SQLBuilder, person_id: uuid.UUID) -> str:
    return PERSON_DISTINCT_IDS_SQL.replace("{pid}", b.bind(person_id, "UUID"))


_known_tables: set[str] = set()


def table_exists(name: str) -> bool:
    """Whether a ClickHouse table exists (positive answers cached; migrations only add tables)."""
    if name in _known_tables:
        return True
    found = ch.query(
        "SELECT count() FROM system.tables WHERE database = currentDatabase() AND name = {name:String}",
        {"name": name},
        global_=True,
    ).scalar()
    if found:
        _known_tables.add(name)
    return bool(found)


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class EventRow:
    uuid: uuid.UUID
    event: str
    distinct_id: str
    person_id: uuid.UUID
    timestamp: dt.datetime
    properties: dict
    session_id: str = ""

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.timestamp, self.uuid)

    def to_json(self, presenter) -> dict:
        return {
            "uuid": str(self.uuid),
            "event": presenter.text(self.event),
            "distinct_id": presenter.distinct_id(self.distinct_id),
            "person_id": str(self.person_id),
            "timestamp": self.timestamp.isoformat(),
            "properties": presenter.properties(self.properties),
        }


@dataclass(frozen=True)
class EventsPage:
    rows: list[EventRow]
    next: Cursor | None

    def to_json(self, presenter) -> dict:
        return {
            "results": [r.to_json(presenter) for r in self.rows],
            "next": self.next.encode() if self.next else None,
        }


# ------------------------------------------------------------------ events
class EventsQueryRunner:
    """The explorer listing: one keyset page, the count of newer events, or a CSV stream."""

    # The two-step read (page keys first, then properties for those rows); bench/ compares both.
    two_step = True

    PAGE_SQL = """
        SELECT uuid, timestamp FROM ({source})
        ORDER BY toDate(timestamp) DESC, timestamp DESC, uuid DESC
        LIMIT {limit:UInt32}
    """
    ROWS_SQL = """
        SELECT e.uuid AS uuid, e.event AS event, e.distinct_id AS distinct_id,
            if(m.person_id = toUUID('00000000-0000-0000-0000-000000000000'), e.person_id, m.person_id) AS person_id,
            e.timestamp AS timestamp, e.properties AS properties, e.session_id AS session_id
        FROM events AS e
        LEFT JOIN (
            SELECT distinct_id, argMax(person_id, version) AS person_id FROM person_distinct_ids
            WHERE project_id = {project_id:UInt32} AND distinct_id IN (
                SELECT distinct_id FROM events WHERE project_id = {project_id:UInt32} AND timestamp >= {lo:DateTime64(6, 'UTC')}
                  AND timestamp <= {hi:DateTime64(6, 'UTC')} AND uuid IN {uuids:Array(UUID)})
            GROUP BY distinct_id HAVING argMax(is_deleted, version) = 0
        ) AS m ON m.distinct_id = e.distinct_id
        WHERE e.project_id = {project_id:UInt32} AND e.timestamp >= {lo:DateTime64(6, 'UTC')}
          AND e.timestamp <= {hi:DateTime64(6, 'UTC')} AND e.uuid IN {uuids:Array(UUID)}
    """
    FULL_SQL = """
        SELECT uuid, event, distinct_id, person_id, timestamp, properties, session_id FROM ({source})
        ORDER BY toDate(timestamp) DESC, timestamp DESC, uuid DESC
    """

    def __init__(self, project, spec: EventsSpec, *, now: dt.datetime | None = None):
        self.project = project
        self.spec = spec
        self.now = now

    # ---- SQL
    def _source(
        self,
        b: SQLBuilder,
        *,
        after: Cursor | None = None,
        newer_than: Cursor | None = None,
        need_person: bool = False,
        with_properties: bool = False,
    ) -> str:
        start, end = self.spec.date_range.resolve(self.project.tz, self.now)
        where: list[str] = []
        if after is not None:
            ts, u = b.bind(after.timestamp, DT64), b.bind(after.uuid, "UUID")
            # The plain bound lets ClickHouse prune partitions and granules by the primary key.
            where += [f"e.timestamp <= {ts}", f"(e.timestamp < {ts} OR e.uuid < {u})"]
        if newer_than is not None:
            ts, u = b.bind(newer_than.timestamp, DT64), b.bind(newer_than.uuid, "UUID")
            where += [f"e.timestamp >= {ts}", f"(e.timestamp > {ts} OR e.uuid > {u})"]
        where += self._person_where(b)
        source = EventSource(
            self.project,
            b,
            start,
            end,
            events=[self.spec.event] if self.spec.event else None,
            filters=self.spec.properties,
            event_columns={"properties": "e.properties"} if with_properties else {},
            need_person=need_person,
            where=where,
        )
        return source.sql()

    def _person_where(self, b: SQLBuilder) -> list[str]:
        if self.spec.person_id is not None:
            return [f"e.distinct_id IN ({person_distinct_ids_sql(b, self.spec.person_id)})"]
        if self.spec.distinct_id:
            did = b.bind(self.spec.distinct_id, "String")
            person = PERSON_OF_DISTINCT_ID_SQL.replace("{did}", did)
            ids = PERSON_DISTINCT_IDS_SQL.replace("= {pid}", f"IN ({person})")
            return [f"(e.distinct_id = {did} OR e.distinct_id IN ({ids}))"]
        return []

    def page_sql(self) -> tuple[str, dict]:
        b = SQLBuilder(self.project.id)
        sql = self.PAGE_SQL.replace("{source}", self._source(b, after=self.spec.after))
        b.params["limit"] = self.spec.limit + 1
        return sql, b.params

    # ---- running
    def run(self) -> EventsPage:
        if not self.two_step:
            return self._run_one_step()
        sql, params = self.page_sql()
        keys = ch.query(sql, params).rows
        more = len(keys) > self.spec.limit
        keys = keys[: self.spec.limit]
        rows = self.fetch_rows(keys)
        return EventsPage(rows, rows[-1].cursor if more and rows else None)

    def fetch_rows(self, keys: list[tuple]) -> list[EventRow]:
        """Full rows for (uuid, timestamp) keys, in the keys' order."""
        if not keys:
            return []
        uuids = [k[0] for k in keys]
        stamps = [k[1] for k in keys]
        result = ch.query(
            self.ROWS_SQL,
            {"project_id": self.project.id, "lo": min(stamps), "hi": max(stamps), "uuids": uuids},
        )
        by_uuid: dict[uuid.UUID, EventRow] = {}
        for row in result.rows:
            by_uuid.setdefault(row[0], EventRow(*row))
        return [by_uuid[u] for u in uuids if u in by_uuid]

    def _run_one_step(self) -> EventsPage:
        b = SQLBuilder(self.project.id)
        sql = self.FULL_SQL.replace(
            "{source}", self._source(b, after=self.spec.after, need_person=True, with_properties=True)
        )
        sql += " LIMIT {limit:UInt32}"
        b.params["limit"] = self.spec.limit + 1
        rows = [EventRow(*r) for r in ch.query(sql, b.params).rows]
        more = len(rows) > self.spec.limit
        rows = rows[: self.spec.limit]
        return EventsPage(rows, rows[-1].cursor if more and rows else None)

    def count_newer(self, newest: Cursor) -> int:
        """Events matching the filter that are newer than `newest` (the "new events" indicator)."""
        b = SQLBuilder(self.project.id)
        sql = f"SELECT count() FROM ({self._source(b, newer_than=newest)})"
        return ch.query(sql, b.params).scalar() or 0

    def stream(self, batch_rows: int = 2_000, max_seconds: int = 3600) -> Iterator[list[tuple]]:
        """Every matching event, newest first, in batches (CSV export; bounded memory).

        Rows are text, ready for CSV: (uuid, ISO timestamp, event, distinct_id, person_id,
        session_id, properties JSON, *one value per spec.property_columns). The timestamp is
        the project's local time with its offset (`2026-09-14T00:20:54.000000+14:00`): the
        time the events list shows, and still one exact instant. Nothing is decoded per value
        in Python. The query stays open while the client downloads, hence its own time limit."""
        b = SQLBuilder(self.project.id)
        source = self._source(b, after=self.spec.after, need_person=True, with_properties=True)
        columns = "".join(
            f", {event_text_sql(b, key, 'properties')[0]}" for key in self.spec.property_columns
        )
        tz = b.bind(self.project.time_zone, "String")
        local = f"formatDateTime(toTimeZone(timestamp, {tz}), '%Y-%m-%dT%H:%i:%S.%f%z')"
        # %z is +hhmm; ISO 8601's extended form (and the JSON API) write +hh:mm.
        iso_local = rf"replaceRegexpOne({local}, '([+-][0-9][0-9])([0-9][0-9])$', '\\1:\\2')"
        sql = f"""
            SELECT toString(uuid), {iso_local}, event, distinct_id,
                toString(person_id), session_id, toString(properties){columns}
            FROM ({source})
            ORDER BY toDate(timestamp) DESC, timestamp DESC, uuid DESC
        """
        for _, rows in ch.stream(
            sql, b.params, batch_rows=batch_rows, settings={"max_execution_time": max_seconds}
        ):
            yield rows


class EventQueryRunner:
    """One event by uuid (optionally with its timestamp, which narrows the read to one point)."""

    SQL = """
        SELECT e.uuid, e.event, e.distinct_id,
            if(m.person_id = toUUID('00000000-0000-0000-0000-000000000000'), e.person_id, m.person_id) AS person_id,
            e.timestamp, e.properties, e.session_id
        FROM events AS e
        LEFT JOIN (
            SELECT distinct_id, argMax(person_id, version) AS person_id FROM person_distinct_ids
            WHERE project_id = {project_id:UInt32} AND distinct_id IN (
                SELECT distinct_id FROM events WHERE project_id = {project_id:UInt32} AND uuid = {uuid:UUID})
            GROUP BY distinct_id HAVING argMax(is_deleted, version) = 0
        ) AS m ON m.distinct_id = e.distinct_id
        WHERE e.project_id = {project_id:UInt32} AND e.uuid = {uuid:UUID} {narrow}
        LIMIT 1
    """

    def __init__(self, project, event_uuid: uuid.UUID, timestamp: dt.datetime | None = None):
        self.project = project
        self.uuid = event_uuid
        self.timestamp = timestamp

    def run(self) -> EventRow | None:
        params = {"project_id": self.project.id, "uuid": self.uuid}
        narrow = ""
        if self.timestamp is not None:
            narrow = "AND e.timestamp = {ts:DateTime64(6, 'UTC')}"
            params["ts"] = self.timestamp
        rows = ch.query(self.SQL.replace("{narrow}", narrow), params).rows
        if not rows and self.timestamp is not None:  # a stale hint: look the event up without it
            return EventQueryRunner(self.project, self.uuid).run()
        return EventRow(*rows[0]) if rows else None


# ------------------------------------------------------------------ recordings
@dataclass(frozen=True)
class Recording:
    session_id: str
    start: dt.datetime
    end: dt.datetime

    @property
    def duration(self) -> dt.timedelta:
        return self.end - self.start


class RecordingsQueryRunner:
    """Recorded sessions of a set of distinct_ids, or one session's start (for deep links),
    read from the per-session summaries (replay/summary.py keeps them current)."""

    SNAPSHOTS_SQL = """
        SELECT session_id, start_time AS start, end_time AS end FROM session_replay_summaries FINAL
        WHERE project_id = {project_id:UInt32} AND distinct_id IN {dids:Array(String)}
        ORDER BY start DESC LIMIT {limit:UInt32}
    """
    EVENTS_SQL = """
        SELECT session_id, min(timestamp) AS start, max(timestamp) AS end FROM events
        WHERE project_id = {project_id:UInt32} AND distinct_id IN {dids:Array(String)} AND session_id != ''
        GROUP BY session_id ORDER BY start DESC LIMIT {limit:UInt32}
    """
    SESSION_SQL = """
        SELECT min(start_time), count() FROM session_replay_summaries FINAL
        WHERE project_id = {project_id:UInt32} AND session_id = {session_id:String}
    """

    def __init__(self, project):
        self.project = project

    @staticmethod
    def available() -> bool:
        return table_exists("session_replay_snapshots")

    def for_distinct_ids(self, distinct_ids: list[str], limit: int = 50) -> list[Recording]:
        if not distinct_ids:
            return []
        sql = self.SNAPSHOTS_SQL if self.available() else self.EVENTS_SQL
        rows = ch.query(sql, {"project_id": self.project.id, "dids": list(distinct_ids), "limit": limit}).rows
        return [Recording(*r) for r in rows]

    def session_start(self, session_id: str) -> dt.datetime | None:
        """When the recording of `session_id` starts, or None if there is no recording."""
        if not session_id or not self.available():
            return None
        start, count = ch.query(
            self.SESSION_SQL, {"project_id": self.project.id, "session_id": session_id}
        ).rows[0]
        return start if count else None


# ------------------------------------------------------------------ persons
@dataclass(frozen=True)
class PersonRow:
    id: uuid.UUID
    properties: dict
    created_at: dt.datetime | None
    is_identified: bool
    distinct_ids: list[str] = field(default_factory=list)
    first_seen: dt.datetime | None = None
    last_seen: dt.datetime | None = None

    @property
    def cursor(self) -> Cursor:
        return Cursor(self.created_at or dt.datetime(1970, 1, 1, tzinfo=dt.UTC), self.id)

    def display_name(self, presenter) -> str:
        for key in ("name", "email", "$email", "username"):
            value = self.properties.get(key)
            if value not in (None, ""):
                return str(presenter.value(key, value))
        return presenter.distinct_id(self.distinct_ids[0]) if self.distinct_ids else str(self.id)

    def to_json(self, presenter) -> dict:
        return {
            "id": str(self.id),
            "distinct_ids": [presenter.distinct_id(d) for d in self.distinct_ids],
            "properties": presenter.properties(self.properties),
            "created_at": self.created_at.isoformat() if self.created_at else None,
            "is_identified": self.is_identified,
        }


@dataclass(frozen=True)
class PersonsPage:
    rows: list[PersonRow]
    next: Cursor | None

    def to_json(self, presenter) -> dict:
        return {
            "results": [r.to_json(presenter) for r in self.rows],
            "next": self.next.encode() if self.next else None,
        }


def _decode_properties(text: str) -> dict:
    import json  # noqa: PLC0415

    try:
        value = json.loads(text) if text else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


class PersonsQueryRunner:
    """Persons newest first, searched by exact distinct_id or a substring of any property value."""

    SQL = """
        SELECT id, argMax(properties, version) AS properties, argMax(created_at, version) AS created_at,
            argMax(is_identified, version) AS is_identified
        FROM persons
        WHERE project_id = {project_id:UInt32} {where}
        GROUP BY id
        HAVING argMax(is_deleted, version) = 0 {having}
        ORDER BY created_at DESC, id DESC
        LIMIT {limit:UInt32}
    """
    DISTINCT_IDS_SQL = """
        SELECT argMax(person_id, version) AS person_id, distinct_id FROM person_distinct_ids
        WHERE project_id = {project_id:UInt32} AND distinct_id IN (
            SELECT distinct_id FROM person_distinct_ids WHERE project_id = {project_id:UInt32} AND person_id IN {ids:Array(UUID)}
        )
        GROUP BY distinct_id
        HAVING person_id IN {ids:Array(UUID)} AND argMax(is_deleted, version) = 0
        ORDER BY distinct_id
    """
    SEEN_SQL = """
        SELECT distinct_id, min(timestamp), max(timestamp) FROM events
        WHERE project_id = {project_id:UInt32} AND distinct_id IN {dids:Array(String)}
        GROUP BY distinct_id
    """

    def __init__(self, project, spec: PersonsSpec):
        self.project = project
        self.spec = spec

    def sql(self) -> tuple[str, dict]:
        b = SQLBuilder(self.project.id)
        where, having = [], []
        if self.spec.distinct_id:
            person = PERSON_OF_DISTINCT_ID_SQL.replace("{did}", b.bind(self.spec.distinct_id, "String"))
            where.append(f"id IN ({person})")
        if self.spec.search:
            s = b.bind(self.spec.search, "String")
            person = PERSON_OF_DISTINCT_ID_SQL.replace("{did}", s)
            ids = f"id IN ({person}) OR toString(id) = {s}"
            # Property text is searched only for viewers who may read it (PII masked otherwise).
            having.append(
                f"({ids})"
                if self.spec.ids_only
                else f"(positionCaseInsensitiveUTF8(properties, {s}) > 0 OR {ids})"
            )
        if self.spec.after is not None:
            having.append(
                f"(created_at, id) < ({b.bind(self.spec.after.timestamp, DT64)}, {b.bind(self.spec.after.uuid, 'UUID')})"
            )
        sql = self.SQL.replace("{where}", "".join(f" AND {w}" for w in where)).replace(
            "{having}", "".join(f" AND {h}" for h in having)
        )
        b.params["limit"] = self.spec.limit + 1
        return sql, b.params

    def run(self) -> PersonsPage:
        sql, params = self.sql()
        rows = ch.query(sql, params).rows
        more = len(rows) > self.spec.limit
        rows = rows[: self.spec.limit]
        persons = enrich(
            self.project, [PersonRow(r[0], _decode_properties(r[1]), r[2], bool(r[3])) for r in rows]
        )
        return PersonsPage(persons, persons[-1].cursor if more and persons else None)


def enrich(project, persons: list[PersonRow]) -> list[PersonRow]:
    """Add each person's current distinct_ids and first/last seen (two queries for the whole page)."""
    if not persons:
        return []
    ids = [p.id for p in persons]
    mapping = ch.query(PersonsQueryRunner.DISTINCT_IDS_SQL, {"project_id": project.id, "ids": ids}).rows
    by_person: dict[uuid.UUID, list[str]] = {}
    for person_id, distinct_id in mapping:
        by_person.setdefault(person_id, []).append(distinct_id)
    all_dids = [d for _, d in mapping]
    seen = {}
    if all_dids:
        seen = {
            r[0]: (r[1], r[2])
            for r in ch.query(PersonsQueryRunner.SEEN_SQL, {"project_id": project.id, "dids": all_dids}).rows
        }
    out = []
    for p in persons:
        dids = by_person.get(p.id, [])
        stamps = [seen[d] for d in dids if d in seen]
        out.append(
            PersonRow(
                p.id,
                p.properties,
                p.created_at,
                p.is_identified,
                dids,
                min((s[0] for s in stamps), default=None),
                max((s[1] for s in stamps), default=None),
            )
        )
    return out


class PersonQueryRunner:
    """One person; None when neither a persons row nor a distinct_id points at the id."""

    SQL = """
        SELECT id, argMax(properties, version) AS properties, argMax(created_at, version) AS created_at,
            argMax(is_identified, version) AS is_identified
        FROM persons
        WHERE project_id = {project_id:UInt32} AND id = {id:UUID}
        GROUP BY id
        HAVING argMax(is_deleted, version) = 0
    """

    def __init__(self, project, person_id: uuid.UUID):
        self.project = project
        self.person_id = person_id

    def run(self) -> PersonRow | None:
        rows = ch.query(self.SQL, {"project_id": self.project.id, "id": self.person_id}).rows
        if rows:
            r = rows[0]
            person = PersonRow(r[0], _decode_properties(r[1]), r[2], bool(r[3]))
        else:  # personless: known only through its distinct_ids
            person = PersonRow(self.person_id, {}, None, False)
        person = enrich(self.project, [person])[0]
        if not rows and not person.distinct_ids:
            return None
        return person
