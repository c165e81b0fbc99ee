"""The per-actor funnel query (the arrays engine) shared by every order: the events
read, one sorted array per actor, the exclusions, the void check, the actor's level,
its counted attempt, conversion times and breakdown value. What differs by order (how
an attempt picks its step events) is `attempt_layers()` in ordered.py, strict.py and
unordered.py. The whole pipeline is described in docs/funnels.md ("Engines").

Every value is bound through `self.b`; the only text generated here is structure
indexed by step / exclusion numbers.

Column names of the per-actor layers, for the order modules:
- per event of the actor's stream (1-based arrays, stream order): `times` (µs),
  `step_masks` / `excl_masks` (bit k: matches step k / exclusion k), `positions`
  (1..n_events), `event_sessions`, `event_breakdowns`, and `excl_after{x}` (the time of
  the first exclusion-x event with a later time, +inf if none);
- per attempt (what `attempt_layers()` must define): `attempt_start` (time of its
  first step), `step_pos{k}` / `step_time{k}` (position / time of its step-k event,
  valid for k < reach), `reach` (steps completed within the window) and
  `excl_after_from{x}` (`excl_after{x}` at the attempt's from_step event). These may
  also be per event (ordered.chain_fill_layers, unordered._next_match_layers), with
  reach 0 where no attempt starts: everything after them only reads attempts with a
  reach above 0. The result reads one attempt's step events through `step_at`; an order
  that overrides it (unordered.py, distinct event names) need not define the arrays it
  replaces.
"""

from __future__ import annotations

import datetime as dt
import threading

from django.conf import settings

from analytics_app import clickhouse as ch
from insights.blocks import EventSource, SQLBuilder
from insights.blocks.filters import event_text_sql, filters_sql, person_text_sql

from ..spec import FunnelSpec
from .results import to_micros

INF = "toInt64(9223372036854775807)"
# An event-property breakdown with at most CODES distinct values among the events read
# is packed into CODE_BITS bits of the sort key, below the step mask (the value's 1-based
# index in the sorted, bound list of values: the code orders as the value does) instead of
# a second, string array sorted by the same order: the arrays carry no strings, and the
# breakdown costs ~one more column read.
CODE_BITS = 7
CODES = (1 << CODE_BITS) - 1
# The breakdown values the exact query (breakdown_codes) last found per (project, event
# property). A runner that checks its answer (FunnelQueryRunner) packs with these instead
# of asking again; a value outside them shows as code 0 (`unknown_code`), and the runner
# then forgets them and runs exactly. Any superset packs right: values are only names.
_SEEN_CODES: dict[tuple[int, str], tuple[str, ...]] = {}
_SEEN_CODES_MAX = 1024
_seen_lock = threading.Lock()


def forget_codes(project_id: int, prop: str) -> None:
    with _seen_lock:
        _SEEN_CODES.pop((project_id, prop), None)


def _remember_codes(key: tuple[int, str], values) -> None:
    with _seen_lock:
        if key not in _SEEN_CODES and len(_SEEN_CODES) >= _SEEN_CODES_MAX:
            _SEEN_CODES.pop(next(iter(_SEEN_CODES)))
        _SEEN_CODES[key] = tuple(values)


# The least share of the months a funnel reads (from its start to its end plus the window,
# or now) that its range must cover for it to read `funnel_events` (FunnelSQL.source_table).
FUNNEL_EVENTS_MIN_COVER = 0.5

# Every query over the per-actor SQL runs with these. ClickHouse folds the layers of
# subqueries into one plan, so a short-circuit `if` or `multiIf` of the result layers
# (`if(level > k, <the counted attempt's step position>, 0)`) evaluates its branch on a
# filtered copy of every per-event array that branch reads, once per `if`. At 10M events
# that made the touch attributions 10-80% slower (unordered funnel, last touch: 1.23 ->
# 0.98 s; same event as two steps: 2.71 -> 1.60 s; an exclusion 0.99 -> 0.88 s; the same
# answers). No branch of the funnel SQL guards an error: an array read out of range
# gives the default.
QUERY_SETTINGS = {"short_circuit_function_evaluation": "disable"}


class FunnelSQL:
    """Builds the per-actor SQL for one spec; subclasses add the order's attempt walk."""

    reads_every_event = False  # strict funnels: any event between two steps breaks an attempt

    def __init__(self, project, spec: FunnelSpec, start: dt.datetime, end: dt.datetime, *, person_ids=None):
        self.project = project
        self.spec = spec
        self.start, self.end = start, end
        self.person_ids = person_ids  # only these (resolved) persons' events, e.g. one page of actors
        self.b = SQLBuilder(project.id)
        self.n = len(spec.steps)
        self.nx = len(spec.exclusions)
        self.w = self.b.bind(spec.window.micros, "Int64")
        self.lo = self.b.bind(to_micros(start), "Int64")
        self.hi = self.b.bind(to_micros(end), "Int64")
        self._codes: str | None = None  # the bound breakdown values when packed (see CODES)
        self._codes_decided = False
        self._n_codes = 0
        self.guess_codes = False  # pack with _SEEN_CODES when known (the caller checks unknown_code)
        self.codes_guessed = False
        self._table: str | None = None  # source_table(), decided once

    # 1. events ---------------------------------------------------------
    def _match_sql(self, event: str, filters, name: str, ev_cols: dict, person_cols: dict) -> str:
        b = self.b
        ev_filters = [f for f in filters if f.type == "event"]
        pp_filters = [f for f in filters if f.type != "event"]
        ev_cols[f"match_{name}"] = f"(e.event = {b.bind(event, 'String')} AND {filters_sql(b, ev_filters)})"
        if not pp_filters:
            return f"match_{name}"
        person_cols[f"person_match_{name}"] = filters_sql(b, pp_filters, person_id_sql="ev.person_id")
        return f"(match_{name} AND person_match_{name})"

    def events_sql(
        self, *, with_order_fields: bool = True, sessions: bool = False, compact: bool = False
    ) -> str:
        """One row per event read: person_id, actor_key, t (µs), step_mask[, excl_mask]
        [, sort_key (UInt64 with `compact`, else UInt128)][, session_id][, event_breakdown]
        [, person_breakdown]."""
        spec, b = self.spec, self.b
        ev_cols: dict[str, str] = {}
        person_cols: dict[str, str] = {}
        steps = [
            self._match_sql(s.event, s.properties, f"step{k}", ev_cols, person_cols)
            for k, s in enumerate(spec.steps)
        ]
        excls = [
            self._match_sql(x.event, x.properties, f"excl{i}", ev_cols, person_cols)
            for i, x in enumerate(spec.exclusions)
        ]
        bd = spec.breakdown
        if bd is not None and bd.type == "event":
            ev_cols["breakdown_property"] = event_text_sql(b, bd.property)[0]
        if bd is not None and bd.type == "person":
            person_cols["breakdown_person_property"] = person_text_sql(b, bd.property)[0]
        if spec.aggregate_by.kind == "property":
            ev_cols["aggregation_property"] = event_text_sql(b, spec.aggregate_by.property)[0]
        names = (
            None
            if self.reads_every_event
            else sorted({s.event for s in spec.steps} | {x.event for x in spec.exclusions})
        )
        src = EventSource(
            self.project,
            b,
            self.start,
            self.end + dt.timedelta(microseconds=spec.window.micros),
            events=names,
            filters=spec.properties,
            event_columns=ev_cols,
            person_columns=person_cols,
            need_person=True,
            persons=None if self.person_ids is None else list(self.person_ids),
            table=self.source_table(),
        )
        step_mask = " + ".join(f"toUInt32({m}) * {1 << k}" for k, m in enumerate(steps))
        excl_mask = " + ".join(f"toUInt32({m}) * {1 << i}" for i, m in enumerate(excls))
        first_step = "multiIf(" + ", ".join(f"{m}, {k}" for k, m in enumerate(steps)) + f", {self.n})"
        actor_key = {"person": "''", "session": "session_id", "property": "aggregation_property"}[
            spec.aggregate_by.kind
        ]
        where = []
        if not self.reads_every_event and any(x.properties for x in (*spec.steps, *spec.exclusions)):
            # (Without filters every event read, `event IN names`, matches something.)
            where.append("(step_mask != 0 OR excl_mask != 0)" if excls else "(step_mask != 0)")
        if spec.aggregate_by.kind == "session":
            where.append("session_id != ''")
        if spec.aggregate_by.kind == "property":
            where.append("aggregation_property != ''")
        cols = [
            "person_id",
            f"{actor_key} AS actor_key",
            "toInt64(toUnixTimestamp64Micro(timestamp)) AS t",
            f"{step_mask} AS step_mask",
        ]
        if excls:
            cols.append(f"{excl_mask} AS excl_mask")
        if with_order_fields:
            code = None
            codes = self.breakdown_codes() if "breakdown_property" in ev_cols else None
            if codes is not None:
                indexes = self.b.bind(list(range(1, self._n_codes + 1)), "Array(UInt8)")
                code = f"transform(breakdown_property, {codes}, {indexes}, toUInt8(0))"
            key = self.compact_key_sql(first_step, code) if compact else self.sort_key_sql(first_step, code)
            cols.append(f"{key} AS sort_key")
        if sessions:
            cols.append("session_id")
        if "breakdown_property" in ev_cols:
            cols.append("breakdown_property AS event_breakdown")
        if "breakdown_person_property" in person_cols:
            cols.append("breakdown_person_property AS person_breakdown")
        return f"""
        SELECT {", ".join(cols)}
        FROM ({src.sql()})
        WHERE {" AND ".join(where) or "1"}
        """

    def source_table(self) -> str:
        """`funnel_events` (migration 0014: the events ordered by distinct_id and time in each
        month, without properties) when it holds everything this funnel reads and its range
        covers at least FUNNEL_EVENTS_MIN_COVER of the months it reads, else `events`.

        Both hold the same rows (the view fills one from the other's inserts; deletions,
        retention and the squash treat both), so the answer is the same either way
        (tests/funnels/test_funnel_events.py); the choice is only speed. On `events` a
        person's rows are spread over every day's block of each event name, one or a few at
        a time; on `funnel_events` they come in runs, which makes gathering them per person
        cheaper (docs/funnels.md, "The events ordered by actor"). But `funnel_events` cannot
        skip the days of a month outside the range: for a short range `events` reads less."""
        if self._table is None:
            self._table = self._pick_table()
        return self._table

    def _pick_table(self) -> str:
        spec = self.spec
        if not settings.SEXTANT_FUNNEL_EVENTS or spec.aggregate_by.kind == "property":
            return "events"
        if spec.breakdown is not None and spec.breakdown.type == "event":
            return "events"
        filters = [*spec.properties]
        for item in (*spec.steps, *spec.exclusions):
            filters += item.properties
        if any(f.type == "event" for f in filters):
            return "events"
        now = dt.datetime.now(dt.UTC)
        try:
            first = self.start.astimezone(dt.UTC)
            last = min(self.end + dt.timedelta(microseconds=spec.window.micros), now)
            month0 = first.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            last_month = last.astimezone(dt.UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
            months = (last_month + dt.timedelta(days=32)).replace(day=1) - month0
        except OverflowError:  # a range at the ends of the calendar
            return "events"
        cover = (last - first) / months if last > first else 0
        return "funnel_events" if cover >= FUNNEL_EVENTS_MIN_COVER else "events"

    def breakdown_codes(self) -> str | None:
        """The bound array of the event breakdown's values when they are few enough to pack
        into the sort key (CODES), else None; decided once, by one query over the events read
        (or, with `guess_codes`, from the values that query last found: _SEEN_CODES)."""
        if not self._codes_decided:
            self._codes_decided = True
            key = (self.project.id, self.spec.breakdown.property)
            values = list(_SEEN_CODES.get(key, ())) if self.guess_codes else []
            guessed = bool(values)
            if not guessed:
                events = self.events_sql(with_order_fields=False)
                # GROUP BY + LIMIT rather than groupUniqArray(n): 0.14 vs 0.22 s CPU at 10M
                # events ($browser; a LowCardinality column groups by its dictionary positions)
                values = ch.query(
                    f"SELECT groupArray(v) FROM (SELECT event_breakdown AS v FROM ({events}) GROUP BY v LIMIT {CODES + 1})",
                    self.b.params,
                ).scalar()
                if values and len(values) <= CODES:
                    _remember_codes(key, values)
            if len(values) <= CODES:
                # sorted as ClickHouse compares strings (bytes; UTF-8 keeps code point order)
                self._codes = self.b.bind(sorted(values), "Array(String)")
                self._n_codes = len(values)
                self.codes_guessed = guessed
        return self._codes

    @property
    def code_bits(self) -> int:
        """Bits of the stream order given to the event breakdown's value (0 without one)."""
        bd = self.spec.breakdown
        return CODE_BITS if bd is not None and bd.type == "event" else 0

    @property
    def tie_bits(self) -> int:
        """Bits of the uuid in the UInt128 key: what the low 64 bits leave after the
        exclusion and step masks and the breakdown code."""
        return 64 - self.n - self.nx - self.code_bits

    def sort_key_sql(self, first_step: str, code: str | None = None) -> str:
        """One sortable UInt128 per event: (t µs << 5 | first step) in the high 64 bits,
        then the exclusion mask, the step mask, the breakdown code (`code`: 0 on the string
        path, whose arrays sort by the value there, `sorted_by_stream`) and the uuid's
        lowest `tie_bits` bits in the low 64. Sorting these is the stream order
        (docs/funnels.md) and several times cheaper than sorting tuples."""
        n, cb, tb = self.n, self.code_bits, self.tie_bits
        parts = [
            f"bitShiftLeft(toUInt128(bitShiftLeft(toUInt64(t), 5) + {first_step}), 64)",
            f"toUInt128(bitAnd(toUInt64(toUInt128(uuid)), {(1 << tb) - 1}))",
            f"bitShiftLeft(toUInt128(step_mask), {tb + cb})",
        ]
        if code is not None:
            parts.append(f"bitShiftLeft(toUInt128({code}), {tb})")
        if self.nx:
            parts.append(f"bitShiftLeft(toUInt128(excl_mask), {tb + cb + n})")
        return " + ".join(parts)

    def compact_fits(self) -> bool:
        """Whether the compact key holds every event read: t - start (µs, events up to end +
        window) above 5 bits of first step, the exclusion and step masks and the code."""
        span = to_micros(self.end) + self.spec.window.micros - to_micros(self.start)
        return span >= 0 and span.bit_length() + 5 + self.nx + self.n + self.code_bits <= 64

    def compact_key_sql(self, first_step: str, code: str | None = None) -> str:
        """The stream order without the uuid, in one UInt64: ((t - start) << 5 | first step)
        << (exclusions + steps + code bits) | exclusion mask << (steps + code bits) | step
        mask << code bits | breakdown code. Events equal in it are interchangeable wherever
        no per-event value but the packed breakdown (a session id, a breakdown's string) is
        taken from a position (actors_sql decides); collecting and sorting 8 bytes per event
        instead of 16 cut the arrays engine's CPU by about a fifth at 10M events."""
        n, nx, cb = self.n, self.nx, self.code_bits
        parts = [
            f"bitShiftLeft(bitShiftLeft(toUInt64(t - {self.lo}), 5) + {first_step}, {nx + n + cb})",
            f"bitShiftLeft(toUInt64(step_mask), {cb})",
        ]
        if code is not None:
            parts.append(f"toUInt64({code})")
        if nx:
            parts.append(f"bitShiftLeft(toUInt64(excl_mask), {n + cb})")
        return " + ".join(parts)

    # 2. per actor ------------------------------------------------------
    def per_actor_sql(self, aggregates: list[str], events: str) -> str:
        """GROUP BY the actor: the person alone (a UUID key, the cheapest) unless the
        funnel aggregates by session or property."""
        breakdown = (
            ["any(person_breakdown) AS person_breakdown"]
            if self.spec.breakdown is not None and self.spec.breakdown.type == "person"
            else ["'' AS person_breakdown"]
        )
        if self.spec.aggregate_by.kind == "person":
            return f"""
            SELECT person_id, '' AS actor_key, {", ".join(breakdown + aggregates)}
            FROM ({events})
            GROUP BY person_id
            """
        return f"""
            SELECT person_id, actor_key, {", ".join(breakdown + aggregates)}
            FROM ({events})
            GROUP BY person_id, actor_key
        """

    # 3. per attempt ----------------------------------------------------
    def actors_sql(self, *, sessions: bool = True) -> str:
        """One row per actor that has an attempt: person_id, actor_key, level (steps
        reached, 0 when every attempt is void), breakdown_value, conv_time1..conv_time{n-1}
        (µs from the previous step, -1 = not reached), total_time (first -> last step µs
        or -1), reached_at (µs), plus the per-attempt arrays attempt_start and valid_reach
        (steps reached, 0 = void); with `sessions` also sessions and last_session (the
        session column is left out of the per-actor arrays otherwise).

        Every array step is linear in the actor's events: no lambda references a whole
        array (ClickHouse copies a captured array once per element). Built as layers of
        subqueries: ClickHouse expands aliases in place, so a chain of aliases over 20
        steps would grow the query tree exponentially."""
        bd_event = self.spec.breakdown is not None and self.spec.breakdown.type == "event"
        packed = bd_event and self.breakdown_codes() is not None
        # Without per-event strings (a session id, a breakdown's value too many to pack),
        # events equal but for the uuid are interchangeable.
        compact = not sessions and (packed or not bd_event) and self.compact_fits()
        events = self.events_sql(sessions=sessions, compact=compact)
        layers = [self._unpack_layer(sessions=sessions, bd_event=bd_event, compact=compact)]
        layers += self._exclusion_layers()
        layers += self.attempt_layers()
        layers += self._result_layers(sessions=sessions)
        sql = self.per_actor_sql(
            [f"{self.sorted_by_stream('sort_key')} AS sort_keys"]
            + ([f"{self.sorted_by_stream('session_id')} AS event_sessions"] if sessions else [])
            + (
                [f"{self.sorted_by_stream('event_breakdown')} AS event_breakdowns"]
                if bd_event and not packed
                else []
            ),
            events,
        )
        for layer in layers:
            sql = f"SELECT *, {', '.join(layer)}\nFROM ({sql})"
        return sql

    def sorted_by_stream(self, column: str) -> str:
        """The actor's values of `column` in stream order (an aggregate). The sort key is the
        order, but on the string path of an event breakdown (too many values to pack) the
        key's code bits are 0 and the order takes the value from the event_breakdown column:
        (key above the uuid, value, key)."""
        bd = self.spec.breakdown
        if bd is None or bd.type != "event" or self._codes is not None:
            if column == "sort_key":
                return "arraySort(groupArray(sort_key))"
            return f"arraySort((v, k) -> k, groupArray({column}), groupArray(sort_key))"
        order = f"(bitShiftRight(k, {self.tie_bits}), b, k)"
        return f"arraySort((v, k, b) -> {order}, groupArray({column}), groupArray(sort_key), groupArray(event_breakdown))"

    def attempt_layers(self) -> list[list[str]]:
        """The order's attempt walk: defines attempt_start, step_pos{k}, step_time{k},
        reach and excl_after_from{x} (see the module doc)."""
        raise NotImplementedError

    def attempt_columns(self, attempts: list[str]) -> list[list[str]]:
        """Layers of columns computed once per actor for the attempts at these indexes,
        before `step_at` reads them (none by default)."""
        return []

    def step_at(self, what: str, k: int, attempt: str) -> str:
        """The step-k event's time (`what` = "time") or position ("pos") of the attempt at
        index `attempt` (an expression of the result layers: `counted`, `first_reaching{k}`).
        The order's per-attempt arrays by default; an order may instead compute it for the
        one attempt (unordered.py)."""
        return f"step_{what}{k}[{attempt}]"

    @property
    def in_range(self) -> str:
        """Inside a lambda over (.., t): may an event at t start an attempt?"""
        return f"t >= {self.lo} AND t < {self.hi}"

    def _unpack_layer(self, *, sessions: bool, bd_event: bool, compact: bool = False) -> list[str]:
        n, nx = self.n, self.nx
        cb = self.code_bits
        if compact:
            t = f"toInt64(bitShiftRight(k, {5 + nx + n + cb})) + {self.lo}"
            code_at = 0
        else:
            t = "toInt64(bitShiftRight(k, 69))"
            code_at = self.tie_bits
        mask_at = code_at + cb
        excl_at = mask_at + n
        unpack = [
            f"arrayMap(k -> {t}, sort_keys) AS times",
            f"arrayMap(k -> toUInt32(bitAnd(bitShiftRight(k, {mask_at}), {(1 << n) - 1})), sort_keys) AS step_masks",
            "length(sort_keys) AS n_events",
            "arrayEnumerate(sort_keys) AS positions",
        ]
        if not sessions:
            unpack.append("CAST([], 'Array(String)') AS event_sessions")
        if not bd_event:
            unpack.append("CAST([], 'Array(String)') AS event_breakdowns")
        elif self._codes is not None:
            unpack.append(
                f"arrayMap(k -> toUInt8(bitAnd(bitShiftRight(k, {code_at}), {CODES})), sort_keys) AS event_codes"
            )
        if nx:
            unpack.append(
                f"arrayMap(k -> toUInt32(bitAnd(bitShiftRight(k, {excl_at}), {(1 << nx) - 1})), sort_keys) AS excl_masks"
            )
        return unpack

    def _exclusion_layers(self) -> list[list[str]]:
        """excl_after{x}[p]: time of the first exclusion-x event with a time > times[p]
        (two reverse fills: the first at or after p, then skip the events tied with p)."""
        nx = self.nx
        if not nx:
            return []
        return [
            [
                f"arrayReverseFill(v -> v != {INF}, arrayMap((x, t) -> if(bitTest(x, {x}), t, {INF}), excl_masks, times)) AS excl_from{x}"
                for x in range(nx)
            ]
            + [f"arrayPushBack(arrayPopFront(times), {INF}) AS next_times"],
            [
                f"arrayReverseFill(v -> v != -1, arrayMap((t, tn, r) -> if(tn != t, r, toInt64(-1)), times, next_times, arrayPushBack(arrayPopFront(excl_from{x}), {INF}))) AS excl_after{x}"
                for x in range(nx)
            ],
        ]

    def _result_layers(self, *, sessions: bool) -> list[list[str]]:
        spec, n, w = self.spec, self.n, self.w
        layers: list[list[str]] = []
        if self.nx:
            to_steps = sorted({e.to_step for e in spec.exclusions})
            xargs = ", ".join(
                ["reach", "attempt_start"]
                + [f"excl_after_from{x}" for x in range(self.nx)]
                + [f"step_time{s}" for s in to_steps]
            )
            xparams = ", ".join(
                ["r", "t0"] + [f"xa{x}" for x in range(self.nx)] + [f"tb{s}" for s in to_steps]
            )
            voids = [
                f"(r > {e.from_step} AND if(r > {e.to_step}, xa{x} < tb{e.to_step}, xa{x} <= t0 + {w}))"
                for x, e in enumerate(spec.exclusions)
            ]
            layers.append(
                [
                    f"arrayMap(({xparams}) -> if("
                    + " OR ".join(voids)
                    + f", toUInt32(0), r), {xargs}) AS valid_reach"
                ]
            )
        else:
            layers.append(["reach AS valid_reach"])
        layers.append(["if(empty(valid_reach), toUInt32(0), arrayMax(valid_reach)) AS level"])
        # The counted attempt: the earliest-starting non-void one with the actor's level;
        # conversion times come from the earliest-starting one reaching each step.
        layers.append(
            ["arrayFirstIndex(r -> r = level, valid_reach) AS counted"]
            + [f"arrayFirstIndex(r -> r > {k}, valid_reach) AS first_reaching{k}" for k in range(1, n)]
        )
        layers += self.attempt_columns(["counted"] + [f"first_reaching{k}" for k in range(1, n)])
        last = [
            "["
            + ", ".join(f"if(level > {k}, {self.step_at('pos', k, 'counted')}, 0)" for k in range(n))
            + "] AS counted_pos"
        ]
        last += [
            f"if(first_reaching{k} = 0, toInt64(-1), {self.step_at('time', k, f'first_reaching{k}')} - {self.step_at('time', k - 1, f'first_reaching{k}')}) AS conv_time{k}"
            for k in range(1, n)
        ]
        last.append(
            f"if(first_reaching{n - 1} = 0, toInt64(-1), {self.step_at('time', n - 1, f'first_reaching{n - 1}')} - {self.step_at('time', 0, f'first_reaching{n - 1}')}) AS total_time"
        )
        layers.append(last)
        # Only what the outer query references is computed (ClickHouse prunes the
        # rest): reached_at from the per-attempt times, positions (counted_pos) only for
        # the sessions and touch attributions.
        reached = "[" + ", ".join(self.step_at("time", k, "counted") for k in range(n)) + "][level]"
        final = [
            f"if(level = 0, toInt64(0), {reached}) AS reached_at",
            f"{self._breakdown_sql()} AS breakdown_value",
        ]
        if self.codes_guessed:  # an event whose value is not among the guessed ones
            final.append("has(event_codes, toUInt8(0)) AS unknown_code")
        if sessions:
            final += [
                "arrayDistinct(arrayFilter(s -> s != '', arraySlice(["
                + ", ".join(f"event_sessions[counted_pos[{k + 1}]]" for k in range(n))
                + "], 1, level))) AS sessions",
                "event_sessions[counted_pos[level]] AS last_session",
            ]
        layers.append(final)
        return layers

    def _breakdown_sql(self) -> str:
        bd = self.spec.breakdown
        if bd is None or bd.type == "cohort":  # cohorts: runners.with_cohorts
            return "''"
        if bd.type == "person":
            return "person_breakdown"
        touched = (
            "arraySlice(["
            + ", ".join(self._breakdown_at(f"counted_pos[{k + 1}]") for k in range(self.n))
            + "], 1, level)"
        )
        if bd.attribution == "first_touch":
            return f"arrayFirst(v -> v != '', {touched})"
        if bd.attribution == "last_touch":
            return f"arrayLast(v -> v != '', {touched})"
        k = int(bd.attribution)
        return f"if(level > {k}, {self._breakdown_at(self.step_at('pos', k, 'counted'))}, '')"

    def _breakdown_at(self, position: str) -> str:
        """The breakdown value of the event at `position` of the actor's stream."""
        if self._codes is not None:
            return f"{self._codes}[event_codes[{position}]]"
        return f"event_breakdowns[{position}]"
