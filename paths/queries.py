"""Paths runners: PathsQueryRunner (edges + drop-off), TopPathsQueryRunner (complete
paths), PathsActorsRunner (sessions behind a node or an edge), PathNodesQueryRunner
(top nodes for the start/end picker) and PathCleaningPreviewRunner.

Semantics are in docs/paths.md ("SQL shape"); tests/paths/reference.py implements the
same in Python. Two statements per runner:

    node dictionary (PathsDict; with the multi-row check of session_paths where that
        table is read): the distinct raw keys of the range (page-view URL, screen name,
        event name; table path_node_keys) -> URL path -> cleaning rules -> groupings ->
        exclusion, once per key; valid nodes numbered 1..K
    then the runner's query, the dictionary's arrays bound as parameters:
    -> one row per session: array of (t_us, uuid, node id) sorted, then kept as
       (t_us, node id) (the uuid only breaks ties). Sessions with a
       $session_id come pre-grouped from session_paths (migration 0005) when the query
       has no filters and needs no person; otherwise from the events (EventSource: date
       range, filters, person only where needed, node id by transform over the
       dictionary's constant arrays). Events without $session_id come from
       sessionless_paths (migration 0011) under the same condition, otherwise from the
       events; either way grouped per (resolved) person and split at gaps > 30 minutes
    -> drop excluded / empty nodes, collapse consecutive repeats
    -> cut at the start point / end point, cap at step_limit, number the steps
    -> ARRAY JOIN the steps into (step, source id, target id or 0) rows, GROUP BY,
       and only then the names (`2_/pricing`)

Every value (regexes and aliases included) is a bound parameter.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field
from functools import cached_property

from django.conf import settings

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from insights.blocks import EventSource, SQLBuilder
from insights.blocks import filters as filter_blocks
from insights.blocks.source import DT64, current_person

from . import multirow, nodecache
from .masking import NodeMasker, node_kinds
from .spec import CUSTOM, PAGEVIEW, SCREEN, CleaningRule, PathsSpec, wildcard_regex

SESSION_GAP_US = 30 * 60 * 1_000_000
ZERO_UUID = "toUUID('00000000-0000-0000-0000-000000000000')"
# ClickHouse codes for a pattern RE2 rejects (BAD_ARGUMENTS, CANNOT_COMPILE_REGEXP).
_REGEX_ERROR_CODES = {36, 427}
MAX_ACTORS = 100
TOP_PATHS = 20
# The message of the guard on a single read of session_paths (_single_or_grouped_sql).
PARTS_CHANGED = "sextant: session_paths has a part the multi-row check did not read"


def project_rules(project) -> tuple[CleaningRule, ...]:
    from .models import PathCleaningRule  # noqa: PLC0415

    return tuple(
        CleaningRule(r.regex, r.alias) for r in PathCleaningRule.objects.filter(project_id=project.pk)
    )


# ------------------------------------------------------------------ node expressions
SCREEN_SQL = "ifNull(e.properties.`$screen_name`::Nullable(String), '')"


def url_path_sql(col: str) -> str:
    """The node of a page view: the URL's path without trailing slashes ('/' if empty)."""
    return f"if({col} = '', '', if(trim(TRAILING '/' FROM path({col})) = '', '/', trim(TRAILING '/' FROM path({col}))))"


URL_PATH_SQL = url_path_sql("e.mat_current_url")


def clean_sql(b: SQLBuilder, expr: str, rules) -> str:
    for rule in rules:
        expr = f"replaceRegexpAll({expr}, {b.bind(rule.regex, 'String')}, {b.bind(rule.alias, 'String')})"
    return expr


def group_sql(b: SQLBuilder, expr: str, groupings) -> str:
    if not groupings:
        return expr
    arms = ", ".join(
        f"match({expr}, {b.bind(wildcard_regex(g), 'String')}), {b.bind(g, 'String')}" for g in groupings
    )
    return f"multiIf({arms}, {expr})"


def event_condition(b: SQLBuilder, types) -> str:
    names = [t for t in types if t != CUSTOM]
    parts = []
    if names:
        parts.append(f"e.event IN {b.bind(names, 'Array(String)')}")
    if CUSTOM in types:
        parts.append("NOT startsWith(e.event, '$')")
    return "(" + " OR ".join(parts) + ")"


def _regex_errors(exc: ch.ClickHouseError) -> BadRequest | None:
    text = exc.message.lower()
    if exc.code in _REGEX_ERROR_CODES or "re2" in text or "regexp" in text:
        return BadRequest(
            "A path cleaning rule or grouping is not a valid RE2 pattern.",
            {"path_cleaning": exc.message.split("\n")[0][:300]},
        )
    return None


def run_query(sql: str, params: dict) -> ch.Result:
    try:
        return ch.query(sql, params)
    except (ch.QueryTimeout, ch.QueryTooLarge, ch.BadQueryParameter, ch.Unavailable):
        raise
    except ch.ClickHouseError as exc:
        bad = _regex_errors(exc)
        if bad is not None:
            raise bad from None
        raise


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class PathEdge:
    source: str
    target: str
    value: int
    average_conversion_time_seconds: float

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class NodeDropoff:
    node: str
    sessions: int
    continued: int
    continued_shown: int
    continued_omitted: int
    ended: int

    @property
    def dropoff(self) -> int:
        return self.continued_omitted + self.ended

    def to_json(self) -> dict:
        return {**dataclasses.asdict(self), "dropoff": self.dropoff}


@dataclass(frozen=True)
class PathsResult:
    spec: PathsSpec
    start: dt.datetime | None
    end: dt.datetime
    edges: list[PathEdge]
    dropoff: list[NodeDropoff]
    sessions: int
    omitted_edges: int
    rules: tuple[CleaningRule, ...] = ()
    project_id: int = 0
    # node name -> where it came from (paths.masking bits: 1 page view, 2 screen, 4 event)
    kinds: dict[str, int] = field(default_factory=dict, compare=False)

    def masker(self, presenter) -> NodeMasker:
        return NodeMasker(presenter, self.project_id, self.spec.include_event_types, self.kinds)

    def to_json(self, presenter=None) -> dict:
        """The JSON API / page payload. With a presenter, node labels are masked for it
        (paths.masking); without one they are raw (internal use and tests only)."""
        m = self.masker(presenter)
        return {
            "results": [
                {**e.to_json(), "source": m.node(e.source), "target": m.node(e.target)} for e in self.edges
            ],
            "dropoff": [{**d.to_json(), "node": m.node(d.node)} for d in self.dropoff],
            "sessions": self.sessions,
            "omitted_edges": self.omitted_edges,
            "direction": self.spec.direction,
            "step_limit": self.spec.step_limit,
            "date_from": self.start.isoformat() if self.start else None,
            "date_to": self.end.isoformat(),
        }


def step_of(node: str) -> int:
    return int(node.split("_", 1)[0])


def node_name(node: str) -> str:
    return node.split("_", 1)[1]


# ------------------------------------------------------------------ runners
# Node ids: 1..K index the sorted names of the valid nodes; 0 = the event is ignored
# entirely (raw node empty); EXCLUDED = dropped after the 30-minute split (excluded, or
# empty after cleaning).
EXCLUDED_ID = 4294967295


@dataclass(frozen=True)
class PathsDict:
    """The node dictionary of one query (_SessionPaths.dictionary_sql): node ids 1..K
    index `names`; the key -> id arrays feed `transform` in the runner's query."""

    names: list[str]  # the valid nodes, sorted
    bits: list[int]  # per node, where it came from: 1 page view, 2 screen, 4 event (masking)
    url_keys: list[str]  # page-view URL -> id
    url_ids: list[int]
    screen_keys: list[str]  # screen name -> id
    screen_ids: list[int]
    event_keys: list[str]  # event name -> id
    event_ids: list[int]
    point: int  # the start / end point's id (0: none, or not in the range)
    point_events: list[str]  # the event names that map to the point
    hashes: list[int]  # cityHash64(kind, key), the keys of session_paths / sessionless_paths -> id
    hash_ids: list[int]
    point_hashes: list[int]  # the hashed keys that map to the point

    TYPES = {
        "names": "Array(String)",
        "bits": "Array(UInt8)",
        "url_keys": "Array(String)",
        "url_ids": "Array(UInt32)",
        "screen_keys": "Array(String)",
        "screen_ids": "Array(UInt32)",
        "event_keys": "Array(String)",
        "event_ids": "Array(UInt32)",
        "point": "UInt32",
        "point_events": "Array(String)",
        "hashes": "Array(UInt64)",
        "hash_ids": "Array(UInt32)",
        "point_hashes": "Array(UInt64)",
    }


@dataclass
class _SessionPaths:
    """SQL for one row per session: sid, (person_id), path (array of (t_us, node id)),
    offset, nids (node ids of the path). Shared by every paths runner.

    The nodes come from a dictionary computed once per runner over the *distinct* raw
    keys (URL of a page view, screen name, event name) in the range: the cleaning
    rules and groupings run per distinct key, not per event, and the per-session
    arrays hold UInt32 node ids instead of strings (PathsDict): names (sorted valid
    nodes, id = position), bits (1 page view, 2 screen, 4 event: where each node came
    from, for PII masking) and the key -> id arrays.

    The dictionary is its own statement, run before the runner's query (prefetch(),
    together with the multi-row check of session_paths), and reaches that query as
    bound arrays. It used to be a scalar subquery of the query itself (`WITH (SELECT
    ...) AS paths_dict`), but ClickHouse's analyser copies and re-analyses a scalar
    subquery at every reference (seven in the edges query): on the 200k-event demo the
    edges query took 130-168 ms with it, 114 ms without (docs/paths.md, "SQL shape").
    Either way the dictionary is read before the sessions' parts are: an event with a
    key first seen in between is not in the dictionary (id 0, left out), as before.
    """

    project: object
    spec: PathsSpec
    rules: tuple[CleaningRule, ...] | None = None
    now: dt.datetime | None = None
    # Read the sessions with a $session_id from the pre-grouped `session_paths` table and
    # the session-less events from `sessionless_paths` where the query allows it (None:
    # whenever eligible; False: always the events).
    session_table: bool | None = None
    builder: SQLBuilder = field(init=False)
    _dict: PathsDict | None = field(init=False, default=None)
    _multi_row: tuple[list[int], list[str]] | None = field(init=False, default=None)
    # The parts of session_paths the multi-row check read, when they are every part the
    # listing before the query holds and no session had several rows in them: the query
    # reads the table once, guarded by PARTS_CHANGED (_single_or_grouped_sql).
    _settled_parts: tuple[str, ...] | None = field(init=False, default=None)
    # Whether sessionless_paths has rows of the range (asked with the parts; None: not
    # asked, the branch stays).
    _sessionless: bool | None = field(init=False, default=None)
    _bound: dict[str, str] = field(init=False, default_factory=dict)

    def __post_init__(self):
        if self.rules is None:
            self.rules = project_rules(self.project) + self.spec.path_cleaning
        self.builder = SQLBuilder(self.project.pk)
        self.start, self.end = self.spec.date_range.resolve(self.project.tz, self.now)

    # -- the node dictionary
    def _kinds(self) -> set[int]:
        kinds = set()
        for t in self.spec.include_event_types:
            kinds.add({PAGEVIEW: 1, SCREEN: 2}.get(t, 4))
        return kinds

    def _range_conditions(self) -> list[str]:
        b = self.builder
        conds = ["e.project_id = {project_id:UInt32}"]
        if self.start is not None:
            conds.append(f"e.timestamp >= {b.bind(self.start, DT64)}")
        conds.append(f"e.timestamp < {b.bind(self.end, DT64)}")
        conds.append(event_condition(b, self.spec.include_event_types))
        return conds

    def _keys_sql(self, kind: str, value: str) -> str:
        """The distinct (kind, raw value) pairs of the range: from `path_node_keys`
        (migration 0005: per UTC month, so a superset, which is harmless) or, with
        session_table=False, from the events."""
        b = self.builder
        if self.session_table is False:
            return f"SELECT DISTINCT toUInt8({kind}) AS kind, {value} AS value FROM events AS e WHERE {' AND '.join(self._range_conditions())}"
        conds = ["e.project_id = {project_id:UInt32}", event_condition(b, self.spec.include_event_types)]
        if self.start is not None:
            conds.append(f"e.month >= {b.bind(self.start.astimezone(dt.UTC).date().replace(day=1), 'Date')}")
        conds.append(f"e.month <= {b.bind(self.end.astimezone(dt.UTC).date().replace(day=1), 'Date')}")
        return f"SELECT DISTINCT e.kind AS kind, e.value AS value FROM path_node_keys AS e WHERE {' AND '.join(conds)}"

    def dictionary_sql(self) -> str:
        """The node dictionary as one row (see _SessionPaths and PathsDict)."""
        b = self.builder
        # Node names are shown masked by the Presenter (paths/masking.py, the number detectors
        # included); grouping needs only the URL / e-mail masks, not the costly number stages.
        raw = filter_blocks.masked_text_sql(b, "raw", numbers=False) if self.spec.masked else "raw"
        node = group_sql(b, clean_sql(b, raw, self.rules), self.spec.path_groupings)
        excluded = b.bind(list(self.spec.exclude), "Array(String)")
        kinds = self._kinds()
        arms = [
            (1, "e.event = '$pageview'", "e.mat_current_url"),
            (2, "e.event = '$screen'", SCREEN_SQL),
            (4, "1", "toString(e.event)"),
        ]
        arms = [a for a in arms if a[0] in kinds]
        if len(arms) == 1:
            kind, value = str(arms[0][0]), arms[0][2]
        else:
            kind = "multiIf(" + ", ".join(f"{c}, {k}" for k, c, _ in arms[:-1]) + f", {arms[-1][0]})"
            value = "multiIf(" + ", ".join(f"{c}, {v}" for _, c, v in arms[:-1]) + f", {arms[-1][2]})"
        # No WHERE on the distinct keys: ClickHouse would push it below the DISTINCT and
        # compute the URL path for every event instead of every distinct URL.
        rows = f"""
            SELECT node, ignored, groupBitOr(kind) AS bits, groupArray((kind, value)) AS keys,
                NOT ignored AND node != '' AND NOT has({excluded}, node) AS valid
            FROM (
                SELECT kind, value, raw = '' AS ignored, if(ignored, '', {node}) AS node
                FROM (
                    SELECT kind, value, if(kind = 1, {url_path_sql("value")}, value) AS raw
                    FROM ({self._keys_sql(kind, value)})
                )
            )
            GROUP BY node, ignored"""
        point_value = b.bind(self.spec.end_point or self.spec.start_point or "", "String")
        # The fields of PathsDict, in order.
        return f"""
         SELECT names, arrayMap(x -> x.2, v),
                arrayMap(k -> k.2, arrayFilter(k -> k.1 = 1, keyed)), arrayMap(k -> k.3, arrayFilter(k -> k.1 = 1, keyed)),
                arrayMap(k -> k.2, arrayFilter(k -> k.1 = 2, keyed)), arrayMap(k -> k.3, arrayFilter(k -> k.1 = 2, keyed)),
                arrayMap(k -> k.2, arrayFilter(k -> k.1 = 4, keyed)), arrayMap(k -> k.3, arrayFilter(k -> k.1 = 4, keyed)),
                toUInt32(indexOf(names, {point_value})),
                arrayMap(k -> k.2, arrayFilter(k -> k.1 = 4 AND k.3 = indexOf(names, {point_value}), keyed)),
                arrayMap(k -> cityHash64(k.1, k.2), keyed), arrayMap(k -> k.3, keyed),
                arrayMap(k -> cityHash64(k.1, k.2), arrayFilter(k -> k.3 = indexOf(names, {point_value}), keyed))
         FROM (
            SELECT arrayMap(x -> x.1, v) AS names, v,
                arrayConcat(
                    arrayFlatten(arrayMap((x, i) -> arrayMap(k -> (k.1, k.2, toUInt32(i)), x.3), v, arrayEnumerate(v))),
                    arrayFlatten(arrayMap(x -> arrayMap(k -> (k.1, k.2, toUInt32({EXCLUDED_ID})), x.3), inv))) AS keyed
            FROM (
                SELECT arraySort(x -> x.1, groupArrayIf((node, bits, keys), valid)) AS v,
                    groupArrayIf((node, bits, keys), NOT valid AND NOT ignored) AS inv
                FROM ({rows})
            )
         )"""

    def prefetch(self, *, table: bool = False) -> None:
        """Run what comes before the runner's query: the listing of the active parts of
        `session_paths` and `path_node_keys` (one statement, ~3 ms), with, when the
        sessions come from those tables (`table`), whether `sessionless_paths` has rows in
        the range and, the first time this process reads the project, the multi-row check
        of session_paths (paths/multirow.py); then the node dictionary, unless the one
        computed for the same statement on the same parts is kept (paths/nodecache.py).
        A check that cannot be reused runs again, in a statement of its own. On a cluster
        (parts are per replica) and when the keys come from the events
        (session_table=False), nothing is reused and nothing is asked: the dictionary is
        computed in the first statement."""
        local = not settings.CLICKHOUSE_CLUSTER
        check = table and self._multi_row is None and local
        ask = table and self._sessionless is None and local
        cacheable = self._dict is None and self.session_table is not False and local
        params = self.builder.params
        if not check and not cacheable and not ask:
            if self._dict is None:
                self._dict = PathsDict(*run_query(self.dictionary_sql(), params).rows[0])
            return
        known = multirow.cached(self.project.pk) if check else None
        parts = [f"({nodecache.PARTS_SQL}) AS p"]
        if ask:
            parts.insert(0, f"({self._sessionless_sql()}) AS sl")
        if check and known is None:
            parts.insert(0, f"({self._multi_row_sql()}) AS m")
        if len(parts) > 1:
            row = run_query(f"SELECT * FROM {' CROSS JOIN '.join(parts)}", params).rows[0]
        else:  # the tables' parts alone: nothing of any project's rows
            row = ch.query(f"SELECT * FROM {parts[0]}", global_=True).rows[0]
        if ask:
            self._sessionless = bool(row[-2])
        if cacheable:
            sql = self.dictionary_sql()
            k, listed = nodecache.key(sql, params), nodecache.listing(row[-1], nodecache.TABLE)
            self._dict = nodecache.get(self.project.pk, k, listed)
            if self._dict is None:  # read after the listing: it covers every row of those parts
                self._dict = PathsDict(*run_query(sql, params).rows[0])
                nodecache.remember(self.project.pk, k, listed, self._dict)
        if not check:
            return
        sessions = sorted(nodecache.listing(row[-1], "session_paths"))
        if known is None or not known.reusable(sessions):
            if known is not None:  # stale: check again
                sql = f"SELECT * FROM ({self._multi_row_sql()}) AS m CROSS JOIN ({nodecache.PARTS_SQL}) AS p"
                row = run_query(sql, params).rows[0]
                sessions = sorted(nodecache.listing(row[-1], "session_paths"))
            known = multirow.MultiRow.found(row[0], row[1], sessions)
            multirow.remember(self.project.pk, known)
        self._multi_row = (known.hashes, known.parts)
        # Every active part has rows of the project and was read by the check (a part
        # without them, or one created while the check ran, is not in known.parts).
        if not known.hashes and {name for name, _, _ in sessions} == set(known.parts):
            self._settled_parts = tuple(sorted(known.parts))

    def _sessionless_sql(self) -> str:
        """Whether `sessionless_paths` has a row in the range. Without one the query leaves
        out the session-less branch, and with it the person overrides it resolves: on the
        demo, whose events all carry a $session_id, the Sankey's query 108 -> 89 ms and
        one statement fewer (docs/paths.md, "Session-less branch only when needed"). An
        event without a $session_id stored between this statement and the query is in the
        next answer, as a node first seen then is (the dictionary, above)."""
        return f"SELECT count() > 0 FROM (SELECT 1 FROM sessionless_paths AS s WHERE {self.sessionless_where} LIMIT 1)"

    def _overlapping(self, first: str, last: str) -> str:
        """The project's rows of table `s` whose [first, last] overlaps the range."""
        b = self.builder
        conds = ["s.project_id = {project_id:UInt32}", f"s.{first} < {b.bind(self.end, DT64)}"]
        if self.start is not None:
            conds.append(f"s.{last} >= {b.bind(self.start, DT64)}")
        return " AND ".join(conds)

    @cached_property
    def sessionless_where(self) -> str:
        """The rows of `sessionless_paths` in the range."""
        return self._overlapping("timestamp", "timestamp")

    def _multi_row_sql(self) -> str:
        # over the whole project, not the range, so that any range can reuse it
        return multirow.MULTI_ROW_SQL.format(
            where="s.project_id = {project_id:UInt32}", cap=multirow.MULTI_ROW_CAP + 1
        )

    def name_sql(self, nid: str) -> str:
        return f"arrayElement({self.value('names')}, {nid})"

    def bits_sql(self, nid: str) -> str:
        return f"arrayElement({self.value('bits')}, {nid})"

    def node_id(self, name: str) -> int:
        """The id of a node (0: not in the range)."""
        names = self.dictionary.names
        return names.index(name) + 1 if name in names else 0

    @property
    def dictionary(self) -> PathsDict:
        self.prefetch()
        return self._dict

    def value(self, name: str) -> str:
        """A bound parameter holding one field of the dictionary (bound once per query)."""
        if name not in self._bound:
            self._bound[name] = self.builder.bind(getattr(self.dictionary, name), PathsDict.TYPES[name])
        return self._bound[name]

    def nid_sql(self) -> str:
        """The node id of one event (0: ignored entirely)."""

        def lookup(kind: int, key: str) -> str:
            name = {1: "url", 2: "screen", 4: "event"}[kind]
            return f"transform({key}, {self.value(name + '_keys')}, {self.value(name + '_ids')}, toUInt32(0))"

        kinds = self._kinds()
        arms = []
        if 1 in kinds:
            arms.append(("e.event = '$pageview'", lookup(1, "e.mat_current_url")))
        if 2 in kinds:
            arms.append(("e.event = '$screen'", lookup(2, SCREEN_SQL)))
        if 4 in kinds:
            arms.append(("1", lookup(4, "toString(e.event)")))
        if len(arms) == 1:
            return arms[0][1]
        body = ", ".join(f"{c}, {v}" for c, v in arms[:-1])
        return f"multiIf({body}, {arms[-1][1]})"

    def source(self, *, need_person: bool, where: list[str]) -> EventSource:
        return EventSource(
            self.project,
            self.builder,
            self.start,
            self.end,
            filters=self.spec.properties,
            event_columns={"nid": self.nid_sql()},
            need_person=need_person,
            where=[event_condition(self.builder, self.spec.include_event_types), *where],
        )

    def events_sql(self, *, with_session: bool, need_person: bool) -> str:
        """Events with their node id: those with a $session_id (`with_session`) or those
        without (grouped per resolved person, so these always resolve the person)."""
        where = ["e.session_id != ''" if with_session else "e.session_id = ''"]
        point = self.dictionary.point
        if point and with_session and self.dictionary.bits[point - 1] == 4:
            # A point that only ever comes from event names (e.g. `purchase`): skip the
            # sessions without such an event before grouping (the event is in the sort key).
            where.append(
                f"e.session_id IN (SELECT session_id FROM events AS e WHERE "
                f"{' AND '.join(self._range_conditions())} AND has({self.value('point_events')}, toString(e.event)))"
            )
        src = self.source(need_person=need_person or not with_session, where=where)
        return f"SELECT session_id, person_id AS pid, toUnixTimestamp64Micro(timestamp) AS t, toUInt128(uuid) AS u, nid FROM ({src.sql()}) WHERE nid != 0"

    def uses_session_table(self, *, person: bool = False) -> bool:
        """Whether the sessions with a $session_id come from `session_paths` (and the
        session-less events from `sessionless_paths`): they hold no properties and
        session_paths no person, so only without filters and without persons."""
        if self.session_table is False or person or self.spec.properties:
            return False
        return True

    def table_sessions_sql(self, having: str) -> str:
        """Sessions with a $session_id from `session_paths` (migration 0005): merge each
        session's (t_us, uuid, key) states, keep the events in the range, map keys to node
        ids through the dictionary (0: not an included event / empty raw node: dropped),
        sort by (t, uuid) and collapse — the same rows the events query groups.

        One row per session after merges; a session with several rows (not merged yet)
        is grouped (on a cluster every session is, as its rows can be on several shards)."""
        b = self.builder
        where = self.table_where
        in_range = f"x.1 < {b.bind(_micros(self.end), 'Int64')}"
        if self.start is not None:
            in_range += f" AND x.1 >= {b.bind(_micros(self.start), 'Int64')}"
        if settings.CLICKHOUSE_CLUSTER:
            # a session's rows can be on several shards: FINAL merges per shard only
            rows = f"SELECT session_id, groupArrayArray(s.events) AS events FROM session_paths AS s WHERE {where} GROUP BY session_id"
        else:
            rows = self._single_or_grouped_sql(where)
        if having:
            # Sessions without any key of the point (anywhere, in range or not) cannot
            # have it: dropped before the per-session array work (the exact test follows).
            rows = f"SELECT * FROM ({rows}) WHERE hasAny(arrayMap(x -> x.3, events), {self.value('point_hashes')})"
        # (the exact test is the caller's `idx > 0`: sessions without the point in range)
        evs = _narrow(
            f"""arraySort(arrayFilter(x -> x.3 != 0,
                arrayMap(x -> (x.1, x.2, transform(x.3, {self.value("hashes")}, {self.value("hash_ids")}, toUInt32(0))),
                         arrayFilter(x -> {in_range}, events))))"""
        )
        return f"""
                SELECT sid, {_collapse("evs")} AS seq FROM (
                    SELECT session_id AS sid, {evs} AS evs
                    FROM ({rows})
                )"""

    @cached_property
    def table_where(self) -> str:
        """The rows of `session_paths` that overlap the range."""
        return self._overlapping("min_timestamp", "max_timestamp")

    def _single_or_grouped_sql(self, where: str) -> str:
        """The rows of `session_paths` in the range, one per session: almost every session
        is one row (merged, or written by one INSERT) and is read as it is; only the
        sessions with several rows are grouped (FINAL merged every row: 1.3 s CPU for 9M
        events in 1.4M sessions).

        Which sessions have several rows is asked first, in one scan that also lists the
        parts it read (paths/multirow.py: once per project and process, then reused while
        it is current). The main query then groups those sessions and every
        session with a row in a part that scan did not read (inserted or merged since):
        a session has several rows now only if it had them in the parts read then, or has
        a row in a newer part, so no session is ever split. Sessions are found by a hash
        of the id (grouping UInt64s is cheaper than strings; a collision only sends a
        one-row session through the grouping, which groups by the id itself). More than
        MULTI_ROW_CAP such sessions (merges far behind): the check runs inside the query.
        Measured at 10M events (no multi-row session in the range): 1.29-1.50 -> 0.78-0.87 s
        CPU for this stage, the check itself 0.17-0.19 (it ran twice inside the query); the
        check then ran before every query (~120 ms), now only when its answer is stale."""
        b = self.builder
        h = "cityHash64(session_id)"
        self.prefetch(table=True)
        hashes, parts = self._multi_row
        if self._settled_parts is not None:
            # Every part listed before this query was read by the check, and no session had
            # several rows in them: one read, no hashing of session ids (at 10M events this
            # stage 0.30 -> 0.22 s). The guard makes it exact if a part appeared since the
            # listing: a row of a part the check did not read raises PARTS_CHANGED, and
            # execute() runs the query again in the form below.
            known = b.bind(list(self._settled_parts), "Array(String)")
            return (
                f"SELECT session_id, s.events AS events FROM session_paths AS s WHERE {where}"
                f" AND throwIf(_part NOT IN {known}, {b.bind(PARTS_CHANGED, 'String')}) = 0"
            )
        if len(hashes) > multirow.MULTI_ROW_CAP:
            several = f"SELECT {h} AS h FROM session_paths AS s WHERE {where} GROUP BY h HAVING count() > 1"
            grouped = f"{h} IN ({several})"
        else:
            newer = f"SELECT {h} FROM session_paths AS s WHERE {where} AND _part NOT IN {b.bind(list(parts), 'Array(String)')}"
            grouped = f"({h} IN {b.bind(list(hashes), 'Array(UInt64)')} OR {h} IN ({newer}))"
        return (
            f"SELECT session_id, s.events AS events FROM session_paths AS s WHERE {where} AND NOT {grouped}"
            f" UNION ALL SELECT session_id, groupArrayArray(s.events) AS events FROM session_paths AS s"
            f" WHERE {where} AND {grouped} GROUP BY session_id"
        )

    def execute(self, build) -> ch.Result:
        """Run the statement `build()` returns; if its single read of session_paths met a
        part that appeared after the listing (PARTS_CHANGED), build and run it again with
        the multi-row sessions grouped (_single_or_grouped_sql)."""
        sql, params = build()
        try:
            return run_query(sql, params)
        except ch.ClickHouseError as exc:
            if self._settled_parts is None or PARTS_CHANGED not in str(exc):
                raise
        self._settled_parts = None
        return run_query(*build())

    def table_sessionless_sql(self) -> str:
        """The events without a $session_id from `sessionless_paths` (migration 0011), in
        the columns of events_sql(with_session=False): the range, the person resolved
        through every override (the squash does not rewrite this table), node ids by
        key through the dictionary (0: not included / empty raw node: dropped)."""
        person_id, join = current_person(self.builder, "s")
        return f"""SELECT '' AS session_id, pid, t, u, nid FROM (
                SELECT {person_id} AS pid, toUnixTimestamp64Micro(s.timestamp) AS t, toUInt128(s.uuid) AS u,
                    transform(s.key, {self.value("hashes")}, {self.value("hash_ids")}, toUInt32(0)) AS nid
                FROM sessionless_paths AS s{join}
                WHERE {self.sessionless_where}
            ) WHERE nid != 0"""

    def sql(self, *, person: bool = False) -> str:
        """Per-session paths.

        Sessions with a $session_id and the session-less events of each person are
        grouped separately (a String key, a UUID key) and joined with UNION ALL; only the
        second are split at 30-minute gaps. Excluded nodes are dropped after the split,
        then repeats collapse (on node ids)."""
        b, spec = self.builder, self.spec
        self.prefetch(table=self.uses_session_table(person=person))  # one statement for both
        limit = b.bind(spec.step_limit, "UInt16")
        if spec.end_point or spec.start_point:
            # The point's first position (no array of the path's node ids built first: 3%
            # of the depth-5 query at 10M events).
            idx = f"toUInt64(arrayFirstIndex(x -> x.2 = {self.value('point')}, seq))"
        else:
            idx = "toUInt64(length(seq) > 0)"
        if spec.end_point:
            cut = f"arraySlice(seq, greatest(1, idx - {limit} + 1), least(idx, {limit}))"
            offset = f"toInt64({limit}) - toInt64(length(path))"
        elif spec.start_point:
            cut = f"arraySlice(seq, idx, {limit})"
            offset = "toInt64(0)"
        else:
            cut = f"arraySlice(seq, 1, {limit})"
            offset = "toInt64(0)"
        having = (
            f"HAVING countIf(nid = {self.value('point')}) > 0" if (spec.end_point or spec.start_point) else ""
        )
        person_col = "argMin(pid, (t, u)) AS person_id, " if person else ""
        person_out = "person_id, " if person else ""

        collapse = _collapse
        if self.uses_session_table(person=person):
            with_session = self.table_sessions_sql(having)
            if self._sessionless is False:  # no session-less rows in the range (prefetch)
                return self._cut_sql(person_out, idx, cut, offset, with_session)
            sessionless = self.table_sessionless_sql()
        else:
            sessionless = self.events_sql(with_session=False, need_person=True)
            with_session = f"""
                SELECT session_id AS sid, {person_col}{collapse(_narrow("arraySort(groupArray((t, u, nid)))"))} AS seq
                FROM ({self.events_sql(with_session=True, need_person=person)})
                GROUP BY session_id
                {having}"""

        sessions = f"""
                {with_session}
                UNION ALL
                SELECT '' AS sid, {person_out}seq
                FROM (
                    SELECT pid AS person_id, {_narrow("arraySort(groupArray((t, u, nid)))")} AS evs,
                        arrayMap(p -> {collapse("p")},
                                 arraySplit((x, g) -> g > {SESSION_GAP_US}, evs, arrayDifference(arrayMap(x -> x.1, evs)))) AS seq_parts
                    FROM ({sessionless})
                    GROUP BY pid
                    {having}
                )
                ARRAY JOIN seq_parts AS seq"""
        return self._cut_sql(person_out, idx, cut, offset, sessions)

    @staticmethod
    def _cut_sql(person_out: str, idx: str, cut: str, offset: str, sessions: str) -> str:
        return f"""
        SELECT sid, {person_out}path, offset, arrayMap(x -> x.2, path) AS nids
        FROM (
            SELECT sid, {person_out}seq, {idx} AS idx, {cut} AS path, {offset} AS offset
            FROM (
                {sessions}
            )
        )
        WHERE idx > 0
        """


def _narrow(arr: str) -> str:
    """(t_us, node id) of each (t_us, uuid, node id) of a sorted array: the uuid only
    breaks ties in the sort, and without it the passes after the sort copy 12 bytes per
    event instead of 28 (the sessions stage at 10M events: 457 -> 419 ms)."""
    return f"arrayMap(x -> (x.1, x.3), {arr})"


def _collapse(arr: str) -> str:
    """Drop excluded nodes, then compare each node with the previous one (shifted by
    pushFront then popBack, which keeps empty arrays empty; no lambda capture). On
    (t_us, node id) pairs (_narrow)."""
    kept = f"arrayFilter(x -> x.2 != {EXCLUDED_ID}, {arr})"
    return f"arrayFilter((x, prev) -> x.2 != prev, {kept}, arrayPopBack(arrayPushFront(arrayMap(x -> x.2, {kept}), toUInt32(0))))"


def _micros(value: dt.datetime) -> int:
    return (value - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(microseconds=1)


class PathsQueryRunner:
    """Step-prefixed edges with session counts and average times, plus drop-off."""

    def __init__(
        self,
        project,
        spec: PathsSpec,
        *,
        rules: tuple[CleaningRule, ...] | None = None,
        now: dt.datetime | None = None,
        session_table: bool | None = None,
    ):
        self.project = project
        self.spec = spec
        self.paths = _SessionPaths(project, spec, rules, now, session_table)

    def build(self) -> tuple[str, dict]:
        b, spec, paths = self.paths.builder, self.spec, self.paths
        sessions_sql = paths.sql()
        sql = f"""
        SELECT source, target, value, avg_seconds, node_sessions, node_no_next, step, shown, kinds
        FROM (
            SELECT *,
                eligible AND row_number() OVER (PARTITION BY eligible ORDER BY value DESC, source, target) <= {b.bind(spec.edge_limit, "UInt32")} AS shown,
                row_number() OVER (PARTITION BY source ORDER BY value DESC, target) AS in_source
            FROM (
                SELECT source, target, value, avg_seconds, step, kinds,
                    target != '' AND value >= {b.bind(spec.min_edge_weight, "UInt64")} AS eligible,
                    sum(value) OVER (PARTITION BY source) AS node_sessions,
                    sumIf(value, target = '') OVER (PARTITION BY source) AS node_no_next
                FROM (
                    SELECT concat(toString(step), '_', {paths.name_sql("src")}) AS source,
                        if(dst = 0, '', concat(toString(step + 1), '_', {paths.name_sql("dst")})) AS target,
                        value, avg_seconds, step, {paths.bits_sql("src")} AS kinds
                    FROM (
                        SELECT step, src, dst, count() AS value, avg(seconds) AS avg_seconds
                        FROM (
                            SELECT toInt64(i) + offset AS step, src, dst, seconds
                            FROM ({sessions_sql})
                            -- only arrays of the same length: nothing else is replicated per step
                            ARRAY JOIN
                                nids AS src,
                                arrayPushBack(arrayPopFront(nids), toUInt32(0)) AS dst,
                                arrayPushBack(arrayPopFront(arrayDifference(arrayMap(x -> x.1, path))), 0) / 1e6 AS seconds,
                                arrayEnumerate(nids) AS i
                        )
                        GROUP BY step, src, dst
                    )
                )
            )
        )
        WHERE shown OR in_source = 1
        """
        return sql, b.params

    def run(self) -> PathsResult:
        rows = self.paths.execute(self.build).dicts()  # the dictionary statement runs first (prefetch)
        edges = [
            PathEdge(r["source"], r["target"], int(r["value"]), round(float(r["avg_seconds"]), 3))
            for r in rows
            if r["shown"]
        ]
        edges.sort(key=lambda e: (-e.value, e.source, e.target))
        stats = {r["source"]: r for r in rows}
        visible = {e.source for e in edges} | {e.target for e in edges}
        shown_from: dict[str, int] = {}
        for e in edges:
            shown_from[e.source] = shown_from.get(e.source, 0) + e.value
        dropoff = []
        for node in sorted(visible, key=lambda n: (step_of(n), -int(stats[n]["node_sessions"]), n)):
            r = stats[node]
            sessions, no_next = int(r["node_sessions"]), int(r["node_no_next"])
            ended = no_next if step_of(node) < self.spec.step_limit else 0
            continued = sessions - no_next
            shown = shown_from.get(node, 0)
            dropoff.append(NodeDropoff(node, sessions, continued, shown, continued - shown, ended))
        total_sessions = sum(int(r["node_no_next"]) for r in stats.values())
        return PathsResult(
            spec=self.spec,
            start=self.paths.start,
            end=self.paths.end,
            edges=edges,
            dropoff=dropoff,
            sessions=total_sessions,
            omitted_edges=self._omitted(rows, edges),
            rules=self.paths.rules,
            project_id=self.project.pk,
            kinds=node_kinds(rows),
        )

    @staticmethod
    def _omitted(rows, edges) -> int:
        # Sessions that continued along edges left out, summed over nodes (not a count of edges).
        return sum(
            int(r["node_sessions"]) - int(r["node_no_next"]) for r in {r["source"]: r for r in rows}.values()
        ) - sum(e.value for e in edges)


@dataclass(frozen=True)
class TopPath:
    nodes: list[str]
    sessions: int
    average_duration_seconds: float
    kinds: tuple[int, ...] = field(default=(), compare=False)  # where each node came from (masking)

    def to_json(self) -> dict:
        return {
            "nodes": self.nodes,
            "sessions": self.sessions,
            "average_duration_seconds": self.average_duration_seconds,
        }


class TopPathsQueryRunner:
    """The most common complete paths (as cut by start/end point and step_limit)."""

    def __init__(
        self, project, spec: PathsSpec, *, rules=None, now=None, limit: int = TOP_PATHS, session_table=None
    ):
        self.paths = _SessionPaths(project, spec, rules, now, session_table)
        self.limit = limit

    def build(self) -> tuple[str, dict]:
        b = self.paths.builder
        sessions = self.paths.sql()  # first: its one statement reads the dictionary too
        sql = f"""
        SELECT arrayMap(n -> {self.paths.name_sql("n")}, nids) AS nodes, arrayMap(n -> {self.paths.bits_sql("n")}, nids) AS kinds,
            sessions, avg_seconds
        FROM (
            SELECT nids, count() AS sessions, avg((path[length(path)].1 - path[1].1) / 1e6) AS avg_seconds
            FROM ({sessions})
            GROUP BY nids
        )
        ORDER BY sessions DESC, nodes
        LIMIT {b.bind(self.limit, "UInt32")}
        """
        return sql, b.params

    def run(self) -> list[TopPath]:
        return [
            TopPath(
                list(r["nodes"]),
                int(r["sessions"]),
                round(float(r["avg_seconds"]), 3),
                tuple(int(k) for k in r["kinds"]),
            )
            for r in self.paths.execute(self.build).dicts()
        ]


@dataclass(frozen=True)
class PathActor:
    session_id: str
    person_id: str
    timestamp: dt.datetime
    session_start: dt.datetime

    @property
    def timestamp_ms(self) -> int:
        return int(self.timestamp.timestamp() * 1000)


@dataclass(frozen=True)
class PathActors:
    what: str
    total: int
    actors: list[PathActor]


class PathsActorsRunner:
    """Sessions (and their persons) behind a node (`3_/pricing`), an edge (source ->
    target) or a node's drop-off (`ended=True`: paths that ended at the node)."""

    def __init__(
        self,
        project,
        spec: PathsSpec,
        node: str,
        target: str | None = None,
        *,
        ended: bool = False,
        rules=None,
        now=None,
        limit: int = MAX_ACTORS,
    ):
        for value in (node, target):
            if value is not None and (len(value.split("_", 1)) != 2 or not value.split("_", 1)[0].isdigit()):
                raise BadRequest(
                    "Invalid drill-down.", {"node": "must be a step-prefixed node such as 2_/pricing"}
                )
        self.paths = _SessionPaths(project, spec, rules, now)
        self.node, self.target, self.ended, self.limit = node, target, ended, limit
        self.spec = spec

    def build(self) -> tuple[str, dict]:
        b = self.paths.builder
        step, name = self.node.split("_", 1)
        cond = f"toInt64(i) + offset = {b.bind(int(step), 'Int64')} AND nids[i] = {b.bind(self.paths.node_id(name), 'UInt32')}"
        if self.target is not None:
            t_step, t_name = self.target.split("_", 1)
            cond += (
                f" AND i < length(nids) AND toInt64(i) + offset + 1 = {b.bind(int(t_step), 'Int64')}"
                f" AND nids[i + 1] = {b.bind(self.paths.node_id(t_name), 'UInt32')}"
            )
        elif self.ended:
            cond += f" AND i = length(nids) AND toInt64(i) + offset < {b.bind(self.spec.step_limit, 'Int64')}"
        sql = f"""
        SELECT sid, toString(person_id) AS person_id, fromUnixTimestamp64Micro(path[i].1) AS ts,
            fromUnixTimestamp64Micro(path[1].1) AS session_start, count() OVER () AS total
        FROM ({self.paths.sql(person=True)})
        ARRAY JOIN arrayEnumerate(nids) AS i
        WHERE {cond}
        ORDER BY ts DESC, sid
        LIMIT {b.bind(self.limit, "UInt32")}
        """
        return sql, b.params

    def run(self) -> PathActors:
        sql, params = self.build()  # the dictionary statement runs first (_SessionPaths.prefetch)
        rows = run_query(sql, params).dicts()
        what = (
            f"{self.node} → {self.target}"
            if self.target
            else (f"{self.node} (ended here)" if self.ended else self.node)
        )
        actors = [
            PathActor(r["sid"], r["person_id"], _aware(r["ts"]), _aware(r["session_start"])) for r in rows
        ]
        return PathActors(what, int(rows[0]["total"]) if rows else 0, actors)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class PathNodesQueryRunner:
    """The most frequent (cleaned, grouped) nodes in the range: the start/end picker."""

    def __init__(self, project, spec: PathsSpec, *, rules=None, now=None, limit: int = 100):
        self.paths = _SessionPaths(project, spec, rules, now)
        self.limit = limit

    def run(self) -> list[tuple[str, int]]:
        """[(node, kind bits)], most frequent first."""
        b = self.paths.builder
        src = self.paths.source(need_person=False, where=[])
        sql = f"""
        SELECT {self.paths.name_sql("nid")} AS node, {self.paths.bits_sql("nid")} AS kinds, n
        FROM (
            SELECT nid, count() AS n FROM ({src.sql()})
            WHERE nid != 0 AND nid != {EXCLUDED_ID}
            GROUP BY nid
        )
        ORDER BY n DESC, node LIMIT {b.bind(self.limit, "UInt32")}
        """
        return [(r["node"], int(r["kinds"])) for r in run_query(sql, b.params).dicts()]


@dataclass(frozen=True)
class PreviewRow:
    url: str
    path: str
    cleaned: str

    @property
    def changed(self) -> bool:
        return self.path != self.cleaned


class PathCleaningPreviewRunner:
    """A sample of recent $current_url values -> URL path -> cleaned and grouped node."""

    def __init__(
        self,
        project,
        rules: tuple[CleaningRule, ...],
        groupings: tuple[str, ...] = (),
        *,
        days: int = 30,
        limit: int = 25,
    ):
        self.project, self.rules, self.groupings, self.days, self.limit = (
            project,
            rules,
            groupings,
            days,
            limit,
        )

    def run(self) -> list[PreviewRow]:
        b = SQLBuilder(self.project.pk)
        since = dt.datetime.now(dt.UTC) - dt.timedelta(days=self.days)
        cleaned = group_sql(b, clean_sql(b, "p", self.rules), self.groupings)
        sql = f"""
        SELECT url, p, {cleaned} AS cleaned
        FROM (
            SELECT any(e.mat_current_url) AS url, {URL_PATH_SQL} AS p, count() AS n
            FROM events AS e
            WHERE e.project_id = {{project_id:UInt32}} AND e.event = '{PAGEVIEW}' AND e.mat_current_url != ''
              AND e.timestamp >= {b.bind(since, "DateTime64(6, 'UTC')")}
            GROUP BY p ORDER BY n DESC, p LIMIT {b.bind(self.limit, "UInt32")}
        )
        ORDER BY cleaned != p DESC, p
        """
        return [PreviewRow(r["url"], r["p"], r["cleaned"]) for r in run_query(sql, b.params).dicts()]


__all__ = [
    "PathCleaningPreviewRunner",
    "PathNodesQueryRunner",
    "PathsActorsRunner",
    "PathsQueryRunner",
    "TopPathsQueryRunner",
]
