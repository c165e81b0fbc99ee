"""Paths runners: PathsQueryRunner (edges + drop-off), TopPathsQueryRunner (complete
paths), PathsActorsRunner (sessions behind a node or an edge), PathNodesQueryRunner
(top nodes for the start/end picker) and PathCleaningPreviewRunner.

Semantics are in docs/paths.md; tests/paths/reference.py implements the same in
Python. One pass over the events builds every session's node sequence:

    events (EventSource: date range, filters, person resolved, node computed innermost:
            raw node -> cleaning rules -> wildcard groupings)
    -> one row per session: sorted array of (t_us, uuid text, node); events without
       $session_id are grouped per person and split at gaps > 30 minutes
    -> drop excluded / empty nodes, collapse consecutive repeats
    -> cut at the start point / end point, cap at step_limit, number the steps
    -> ARRAY JOIN the steps into (source, target or '' at the path's end) rows

Every value (regexes and aliases included) is a bound parameter.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass, field

from analytics_app import clickhouse as ch
from analytics_app.access import BadRequest
from insights.blocks import EventSource, SQLBuilder

from .spec import CUSTOM, PAGEVIEW, CleaningRule, PathsSpec, wildcard_regex

SESSION_GAP_US = 30 * 60 * 1_000_000
ZERO_UUID = "toUUID('00000000-0000-0000-0000-000000000000')"
# ClickHouse codes for a pattern RE2 rejects (BAD_ARGUMENTS, CANNOT_COMPILE_REGEXP).
_REGEX_ERROR_CODES = {36, 427}
MAX_ACTORS = 100
TOP_PATHS = 20


def project_rules(project) -> tuple[CleaningRule, ...]:
    from .models import PathCleaningRule  # noqa: PLC0415

    return tuple(CleaningRule(r.regex, r.alias) for r in PathCleaningRule.objects.filter(project_id=project.pk))


# ------------------------------------------------------------------ node expressions
URL_PATH_SQL = "if(e.mat_current_url = '', '', if(trim(TRAILING '/' FROM path(e.mat_current_url)) = '', '/', trim(TRAILING '/' FROM path(e.mat_current_url))))"
SCREEN_SQL = "ifNull(e.properties.`$screen_name`::Nullable(String), '')"


def raw_node_sql() -> str:
    """The node of one event before cleaning: URL path, screen name or event name."""
    return f"multiIf(e.event = '$pageview', {URL_PATH_SQL}, e.event = '$screen', {SCREEN_SQL}, toString(e.event))"


def clean_sql(b: SQLBuilder, expr: str, rules) -> str:
    for rule in rules:
        expr = f"replaceRegexpAll({expr}, {b.bind(rule.regex, 'String')}, {b.bind(rule.alias, 'String')})"
    return expr


def group_sql(b: SQLBuilder, expr: str, groupings) -> str:
    if not groupings:
        return expr
    arms = ", ".join(f"match({expr}, {b.bind(wildcard_regex(g), 'String')}), {b.bind(g, 'String')}" for g in groupings)
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
        return BadRequest("A path cleaning rule or grouping is not a valid RE2 pattern.", {"path_cleaning": exc.message.split("\n")[0][:300]})
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

    def to_json(self, presenter=None) -> dict:
        return {
            "results": [e.to_json() for e in self.edges],
            "dropoff": [d.to_json() for d in self.dropoff],
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
@dataclass
class _SessionPaths:
    """SQL for one row per session: sid, person_id, path (array of (t_us, uuid, node)),
    steps (step-prefixed node names). Shared by every paths runner."""

    project: object
    spec: PathsSpec
    rules: tuple[CleaningRule, ...] | None = None
    now: dt.datetime | None = None
    builder: SQLBuilder = field(init=False)

    def __post_init__(self):
        if self.rules is None:
            self.rules = project_rules(self.project) + self.spec.path_cleaning
        self.builder = SQLBuilder(self.project.pk)
        self.start, self.end = self.spec.date_range.resolve(self.project.tz, self.now)

    def node_sql(self) -> str:
        b = self.builder
        return group_sql(b, clean_sql(b, raw_node_sql(), self.rules), self.spec.path_groupings)

    def source(self, extra_columns: dict | None = None) -> EventSource:
        return EventSource(
            self.project, self.builder, self.start, self.end, filters=self.spec.properties,
            event_columns={"raw_node": raw_node_sql(), "node": self.node_sql(), **(extra_columns or {})},
            where=[event_condition(self.builder, self.spec.include_event_types)],
        )

    def sql(self) -> str:
        b, spec = self.builder, self.spec
        limit = b.bind(spec.step_limit, "UInt16")
        excluded = b.bind(list(spec.exclude), "Array(String)")
        if spec.end_point:
            idx = f"indexOf(arrayMap(x -> x.3, seq), {b.bind(spec.end_point, 'String')})"
            cut = f"arraySlice(seq, greatest(1, idx - {limit} + 1), least(idx, {limit}))"
            offset = f"toInt64({limit}) - toInt64(length(path))"
            keep = "idx > 0"
        elif spec.start_point:
            idx = f"indexOf(arrayMap(x -> x.3, seq), {b.bind(spec.start_point, 'String')})"
            cut = f"arraySlice(seq, idx, {limit})"
            offset = "toInt64(0)"
            keep = "idx > 0"
        else:
            idx = "toUInt64(length(seq) > 0)"
            cut = f"arraySlice(seq, 1, {limit})"
            offset = "toInt64(0)"
            keep = "idx > 0"
        return f"""
        SELECT sid, person_id, path, offset,
            arrayMap((x, i) -> concat(toString(i + offset), '_', x.3), path, arrayEnumerate(path)) AS steps
        FROM (
            SELECT sid, person_id, seq, {idx} AS idx, {cut} AS path, {offset} AS offset
            FROM (
                    SELECT sid, person_id, seq
                    FROM (
                        SELECT session_id AS sid,
                            argMin(pid, (t, u)) AS person_id,
                            arraySort(groupArray((t, u, node))) AS evs,
                            if(sid = '',
                               arraySplit((x, g) -> g > {SESSION_GAP_US}, evs, arrayDifference(arrayMap(x -> x.1, evs))),
                               [evs]) AS parts,
                            arrayMap(p -> arrayFilter(x -> x.3 != '' AND NOT has({excluded}, x.3), p), parts) AS kept_parts,
                            -- collapse repeats: compare each node with the previous one (shifted by
                            -- pushFront then popBack, which keeps empty arrays empty; no lambda capture)
                            arrayMap(k -> arrayFilter((x, prev) -> x.3 != prev, k, arrayPopBack(arrayPushFront(arrayMap(x -> x.3, k), ''))), kept_parts) AS seq_parts
                        FROM (
                            SELECT session_id, person_id AS pid, toUnixTimestamp64Micro(timestamp) AS t, toUInt128(uuid) AS u, node
                            FROM ({self.source().sql()})
                            WHERE raw_node != ''
                        )
                        GROUP BY session_id, if(session_id = '', pid, {ZERO_UUID})
                    )
                    ARRAY JOIN seq_parts AS seq
            )
        )
        WHERE {keep}
        """


class PathsQueryRunner:
    """Step-prefixed edges with session counts and average times, plus drop-off."""

    def __init__(self, project, spec: PathsSpec, *, rules: tuple[CleaningRule, ...] | None = None, now: dt.datetime | None = None):
        self.project = project
        self.spec = spec
        self.paths = _SessionPaths(project, spec, rules, now)

    def build(self) -> tuple[str, dict]:
        b, spec = self.paths.builder, self.spec
        sessions_sql = self.paths.sql()
        sql = f"""
        SELECT source, target, value, avg_seconds, node_sessions, node_no_next, step, shown
        FROM (
            SELECT *,
                eligible AND row_number() OVER (PARTITION BY eligible ORDER BY value DESC, source, target) <= {b.bind(spec.edge_limit, 'UInt32')} AS shown,
                row_number() OVER (PARTITION BY source ORDER BY value DESC, target) AS in_source
            FROM (
                SELECT source, target, value, avg_seconds, step,
                    target != '' AND value >= {b.bind(spec.min_edge_weight, 'UInt64')} AS eligible,
                    sum(value) OVER (PARTITION BY source) AS node_sessions,
                    sumIf(value, target = '') OVER (PARTITION BY source) AS node_no_next
                FROM (
                    SELECT source, target, count() AS value, avg(seconds) AS avg_seconds, any(step) AS step
                    FROM (
                        SELECT source, target, seconds, toInt64(i) + offset AS step
                        FROM ({sessions_sql})
                        ARRAY JOIN
                            steps AS source,
                            arrayPushBack(arrayPopFront(steps), '') AS target,
                            arrayMap((a, b) -> if(b = 0, 0, (b - a) / 1e6), arrayMap(x -> x.1, path), arrayPushBack(arrayPopFront(arrayMap(x -> x.1, path)), 0)) AS seconds,
                            arrayEnumerate(path) AS i
                    )
                    GROUP BY source, target
                )
            )
        )
        WHERE shown OR in_source = 1
        """
        return sql, b.params

    def run(self) -> PathsResult:
        sql, params = self.build()
        rows = run_query(sql, params).dicts()
        edges = [
            PathEdge(r["source"], r["target"], int(r["value"]), round(float(r["avg_seconds"]), 3))
            for r in rows if r["shown"]
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
            spec=self.spec, start=self.paths.start, end=self.paths.end, edges=edges, dropoff=dropoff,
            sessions=total_sessions, omitted_edges=self._omitted(rows, edges), rules=self.paths.rules,
        )

    @staticmethod
    def _omitted(rows, edges) -> int:
        # Sessions that continued along edges left out, summed over nodes (not a count of edges).
        return sum(int(r["node_sessions"]) - int(r["node_no_next"]) for r in {r["source"]: r for r in rows}.values()) - sum(e.value for e in edges)


@dataclass(frozen=True)
class TopPath:
    nodes: list[str]
    sessions: int
    average_duration_seconds: float

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


class TopPathsQueryRunner:
    """The most common complete paths (as cut by start/end point and step_limit)."""

    def __init__(self, project, spec: PathsSpec, *, rules=None, now=None, limit: int = TOP_PATHS):
        self.paths = _SessionPaths(project, spec, rules, now)
        self.limit = limit

    def build(self) -> tuple[str, dict]:
        b = self.paths.builder
        sql = f"""
        SELECT arrayMap(x -> x.3, path) AS nodes, count() AS sessions,
            avg((path[length(path)].1 - path[1].1) / 1e6) AS avg_seconds
        FROM ({self.paths.sql()})
        GROUP BY nodes
        ORDER BY sessions DESC, nodes
        LIMIT {b.bind(self.limit, 'UInt32')}
        """
        return sql, b.params

    def run(self) -> list[TopPath]:
        sql, params = self.build()
        return [TopPath(list(r["nodes"]), int(r["sessions"]), round(float(r["avg_seconds"]), 3)) for r in run_query(sql, params).dicts()]


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

    def __init__(self, project, spec: PathsSpec, node: str, target: str | None = None, *, ended: bool = False, rules=None, now=None, limit: int = MAX_ACTORS):
        for value in (node, target):
            if value is not None and (len(value.split("_", 1)) != 2 or not value.split("_", 1)[0].isdigit()):
                raise BadRequest("Invalid drill-down.", {"node": "must be a step-prefixed node such as 2_/pricing"})
        self.paths = _SessionPaths(project, spec, rules, now)
        self.node, self.target, self.ended, self.limit = node, target, ended, limit
        self.spec = spec

    def build(self) -> tuple[str, dict]:
        b = self.paths.builder
        node = b.bind(self.node, "String")
        if self.target is not None:
            cond = f"steps[i] = {node} AND i < length(path) AND steps[i + 1] = {b.bind(self.target, 'String')}"
        elif self.ended:
            cond = f"steps[i] = {node} AND i = length(path) AND toInt64(i) + offset < {b.bind(self.spec.step_limit, 'Int64')}"
        else:
            cond = f"steps[i] = {node}"
        sql = f"""
        SELECT sid, toString(person_id) AS person_id, fromUnixTimestamp64Micro(path[i].1) AS ts,
            fromUnixTimestamp64Micro(path[1].1) AS session_start, count() OVER () AS total
        FROM ({self.paths.sql()})
        ARRAY JOIN arrayEnumerate(path) AS i
        WHERE {cond}
        ORDER BY ts DESC, sid
        LIMIT {b.bind(self.limit, 'UInt32')}
        """
        return sql, b.params

    def run(self) -> PathActors:
        sql, params = self.build()
        rows = run_query(sql, params).dicts()
        what = f"{self.node} → {self.target}" if self.target else (f"{self.node} (ended here)" if self.ended else self.node)
        actors = [PathActor(r["sid"], r["person_id"], _aware(r["ts"]), _aware(r["session_start"])) for r in rows]
        return PathActors(what, int(rows[0]["total"]) if rows else 0, actors)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


class PathNodesQueryRunner:
    """The most frequent (cleaned, grouped) nodes in the range: the start/end picker."""

    def __init__(self, project, spec: PathsSpec, *, rules=None, now=None, limit: int = 100):
        self.paths = _SessionPaths(project, spec, rules, now)
        self.limit = limit

    def run(self) -> list[str]:
        b = self.paths.builder
        sql = f"""
        SELECT node, count() AS n FROM ({self.paths.source().sql()})
        WHERE raw_node != '' AND node != ''
        GROUP BY node ORDER BY n DESC, node LIMIT {b.bind(self.limit, 'UInt32')}
        """
        return run_query(sql, b.params).column("node")


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

    def __init__(self, project, rules: tuple[CleaningRule, ...], groupings: tuple[str, ...] = (), *, days: int = 30, limit: int = 25):
        self.project, self.rules, self.groupings, self.days, self.limit = project, rules, groupings, days, limit

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
            GROUP BY p ORDER BY n DESC, p LIMIT {b.bind(self.limit, 'UInt32')}
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
