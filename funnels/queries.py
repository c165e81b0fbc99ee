"""Funnel runners: counts per step (FunnelQueryRunner), the actors behind a step
(FunnelActorsQueryRunner), time to convert (FunnelTimeToConvertRunner) and conversion
by entry day (FunnelTrendsRunner). Semantics: docs/funnels.md; the Python reference
in tests/funnels/reference.py implements the same and is compared on generated data.

Two engines compute the per-actor level; the result is identical whichever runs:

arrays (every feature)
  1. events: EventSource (person resolved through person_distinct_ids) with one
     match flag per step and per exclusion computed where `properties` is read; a
     step mask `mm`, exclusion mask `xm`, and `fs` = the first step the event matches.
  2. per actor: `groupArray` of (t µs, fs, uuid as UInt128, mm[, xm][, session]
     [, breakdown]) sorted by that tuple: the actor's stream order (ties: the step
     matched first, then the uuid). Columns a query does not need stay out.
  3. array logic per actor, every pass linear in the actor's events (no lambda
     references a whole array: ClickHouse copies a captured array once per element):
     ordered: `h{k}[q]` = how many attempts take event q as step k, moved step to step
       with arrayCumSum / arrayFill (an attempt at p takes the first step-k match after
       p; attempts never overtake each other, so those on one event are a contiguous
       run of attempt numbers); per attempt, `c{k}` / `T{k}` (position / time of step
       k, ignoring the window) are the positions repeated h{k} times (arrayWithConstant
       + arrayFlatten), and `R` = the steps within the window (a prefix of the chain).
     strict: step k of the attempt at p is p + k: arrays shifted by k.
     unordered: the next match of every step at or after each position
       (arrayReverseFill), then per attempt a sort of n (position, time) tuples.
     exclusions: `X{x}[p]` = the first exclusion-x time after ts[p] (reverse fills),
     taken at the attempt's from_step event. Then `Rv` (0 = void), the actor's level,
     its counted attempt `bi` (furthest, earliest start), conversion times from the
     earliest-start attempt reaching each step, and the breakdown value.
  4. one aggregation: counts, sum/count and exact median (quantileExactLow/High
     states) per breakdown value, with the top-N ranking done by a window function
     and the rest merged into "Other" from the same states.

windowfunnel (auto-selected only where proven equal by tests/funnels/test_engines.py)
  ClickHouse's windowFunnel over (t µs, step flags) for ordered funnels whose steps have
  pairwise different event names (so no event matches two steps), with no exclusions,
  no event-property breakdown and no conversion times. Strict funnels never use it:
  windowFunnel's 'strict_order' stops at the first interruption of the *first*
  attempt, while Sextant takes the best attempt.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from analytics_app import clickhouse as ch
from analytics_app import output
from analytics_app.access import BadRequest
from insights.blocks import EventSource, SQLBuilder
from insights.blocks.breakdown import OTHER_VALUE
from insights.blocks.breakdown import label as breakdown_label
from insights.blocks.dates import interval_starts
from insights.blocks.filters import event_text_sql, filters_sql, person_text_sql

from .spec import FunnelActorsSpec, FunnelSpec

ENGINES = ("auto", "arrays", "windowfunnel")
EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def to_micros(moment: dt.datetime) -> int:
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def from_micros(value: int) -> dt.datetime:
    return EPOCH + dt.timedelta(microseconds=int(value))


def windowfunnel_eligible(spec: FunnelSpec) -> bool:
    return (
        spec.order == "ordered"
        and not spec.exclusions
        and (spec.breakdown is None or spec.breakdown.type == "person")
        and len({s.event for s in spec.steps}) == len(spec.steps)
        and not spec.conversion_times
    )


# ------------------------------------------------------------------ SQL building
class FunnelSQL:
    """Builds the per-actor SQL for one spec. Every value is bound through `b`; the
    only text generated here is structure indexed by step / exclusion numbers."""

    def __init__(self, project, spec: FunnelSpec, start: dt.datetime, end: dt.datetime, *, person_ids=None):
        self.project = project
        self.spec = spec
        self.start, self.end = start, end
        self.person_ids = person_ids  # only these (resolved) persons' events, e.g. one page of actors
        self.b = SQLBuilder(project.id)
        self.n = len(spec.steps)
        self.w = self.b.bind(spec.window.micros, "Int64")
        self.lo = self.b.bind(to_micros(start), "Int64")
        self.hi = self.b.bind(to_micros(end), "Int64")

    # 1. events ---------------------------------------------------------
    def _match_sql(self, event: str, filters, idx: str, ev_cols: dict, person_cols: dict) -> str:
        b = self.b
        ev_filters = [f for f in filters if f.type == "event"]
        pp_filters = [f for f in filters if f.type != "event"]
        ev_cols[f"m_{idx}"] = f"(e.event = {b.bind(event, 'String')} AND {filters_sql(b, ev_filters)})"
        if not pp_filters:
            return f"m_{idx}"
        person_cols[f"p_{idx}"] = filters_sql(b, pp_filters, person_id_sql="ev.person_id")
        return f"(m_{idx} AND p_{idx})"

    def events_sql(self, *, with_order_fields: bool = True, sessions: bool = False) -> str:
        spec, b = self.spec, self.b
        ev_cols: dict[str, str] = {}
        person_cols: dict[str, str] = {}
        steps = [
            self._match_sql(s.event, s.properties, f"s{k}", ev_cols, person_cols)
            for k, s in enumerate(spec.steps)
        ]
        excls = [
            self._match_sql(x.event, x.properties, f"x{i}", ev_cols, person_cols)
            for i, x in enumerate(spec.exclusions)
        ]
        bd = spec.breakdown
        if bd is not None and bd.type == "event":
            ev_cols["bv"] = event_text_sql(b, bd.property)[0]
        if bd is not None and bd.type == "person":
            person_cols["pbv"] = person_text_sql(b, bd.property)[0]
        if spec.aggregate_by.kind == "property":
            ev_cols["av"] = event_text_sql(b, spec.aggregate_by.property)[0]
        names = (
            None
            if spec.order == "strict"
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
        )
        mm = " + ".join(f"toUInt32({m}) * {1 << k}" for k, m in enumerate(steps))
        xm = " + ".join(f"toUInt32({m}) * {1 << i}" for i, m in enumerate(excls)) or "toUInt32(0)"
        fs = "multiIf(" + ", ".join(f"{m}, {k}" for k, m in enumerate(steps)) + f", {self.n})"
        akey = {"person": "''", "session": "session_id", "property": "av"}[spec.aggregate_by.kind]
        where = []
        if spec.order != "strict" and any(x.properties for x in (*spec.steps, *spec.exclusions)):
            # (Without filters every event read, `event IN names`, matches something.)
            where.append("(mm != 0 OR xm != 0)")
        if self.person_ids is not None:
            where.append(f"person_id IN {b.bind(list(self.person_ids), 'Array(UUID)')}")
        if spec.aggregate_by.kind == "session":
            where.append("session_id != ''")
        if spec.aggregate_by.kind == "property":
            where.append("av != ''")
        cols = [
            "person_id",
            f"{akey} AS akey",
            "toInt64(toUnixTimestamp64Micro(timestamp)) AS t",
            f"{mm} AS mm",
        ]
        if excls:
            cols.append(f"{xm} AS xm")
        else:
            where = [w.replace(" OR xm != 0", "") for w in where]
        if with_order_fields:
            cols.append(f"{self.key_sql(fs)} AS key")
        if sessions:
            cols.append("session_id")
        if "bv" in ev_cols:
            cols.append("bv AS bval_ev")
        if "pbv" in person_cols:
            cols.append("pbv AS bval_person")
        return f"""
        SELECT {", ".join(cols)}
        FROM ({src.sql()})
        WHERE {" AND ".join(where) or "1"}
        """

    def key_sql(self, fs: str) -> str:
        """One sortable UInt128 per event: (t µs << 5 | first step) in the high 64 bits,
        then the uuid's lowest TB bits (TB = 64 - steps - exclusions), the exclusion mask
        and the step mask in the low 64. Sorting these is the stream order (docs/funnels.md)
        and several times cheaper than sorting (t, fs, uuid, mm) tuples."""
        n, nx = self.n, len(self.spec.exclusions)
        tie_bits = 64 - n - nx
        parts = [
            f"bitShiftLeft(toUInt128(bitShiftLeft(toUInt64(t), 5) + {fs}), 64)",
            f"bitShiftLeft(toUInt128(bitAnd(toUInt64(toUInt128(uuid)), {(1 << tie_bits) - 1})), {n + nx})",
            "toUInt128(mm)",
        ]
        if nx:
            parts.append(f"bitShiftLeft(toUInt128(xm), {n})")
        return " + ".join(parts)

    # 2 + 3. per actor ---------------------------------------------------
    def actors_sql(self, *, sessions: bool = True) -> str:
        """One row per actor that has an attempt: person_id, akey, level (steps reached,
        0 when every attempt is void), bval, t1..t{n-1} (µs, -1 = not reached), tt
        (first -> last step µs or -1), reached_at (µs), plus the per-attempt arrays ts0
        (start times) and Rv (steps reached, 0 = void); with `sessions` also sessions and
        last_session (the session column is left out of the per-actor arrays otherwise).

        Every array step is linear in the actor's events: no lambda references a whole
        array (ClickHouse copies a captured array once per element, which made the
        previous per-attempt index lookups cost attempts x events). Values "at the next
        match" come from arrayReverseFill; for ordered funnels the greedy walk moves
        *counts* of attempts between positions (attempts never overtake each other, so
        the attempts sitting on one event are a contiguous run of attempt numbers) and
        per-attempt values are expanded from those counts (arrayWithConstant +
        arrayFlatten); strict funnels shift arrays by k; unordered ones sort n tuples per
        attempt. See the module doc.

        Built as layers of subqueries: ClickHouse expands aliases in place, so a chain of
        aliases over 20 steps would grow the query tree exponentially."""
        spec, n, w = self.spec, self.n, self.w
        nx = len(spec.exclusions)
        bd_event = spec.breakdown is not None and spec.breakdown.type == "event"
        inf = "toInt64(9223372036854775807)"
        layers: list[list[str]] = []
        unpack = [
            "arrayMap(k -> toInt64(bitShiftRight(k, 69)), ks) AS ts",
            f"arrayMap(k -> toUInt32(bitAnd(k, {(1 << n) - 1})), ks) AS mms",
            "length(ks) AS m",
            "arrayEnumerate(ks) AS idx",
        ]
        if not sessions:
            unpack.append("CAST([], 'Array(String)') AS sids")
        if not bd_event:
            unpack.append("CAST([], 'Array(String)') AS bvs")
        if nx:
            unpack.append(
                f"arrayMap(k -> toUInt32(bitAnd(bitShiftRight(k, {n}), {(1 << nx) - 1})), ks) AS xms"
            )
        layers.append(unpack)
        in_range = f"t >= {self.lo} AND t < {self.hi}"
        if nx:
            # X{x}[p]: time of the first exclusion-x event with a time > ts[p] (inf if none).
            layers.append(
                [
                    f"arrayReverseFill(v -> v != {inf}, arrayMap((x, t) -> if(bitTest(x, {x}), t, {inf}), xms, ts)) AS xr{x}"
                    for x in range(nx)
                ]
                + [f"arrayPushBack(arrayPopFront(ts), {inf}) AS tsn"]
            )
            layers.append(
                [
                    f"arrayReverseFill(v -> v != -1, arrayMap((t, tn, r) -> if(tn != t, r, toInt64(-1)), ts, tsn, arrayPushBack(arrayPopFront(xr{x}), {inf}))) AS X{x}"
                    for x in range(nx)
                ]
            )
        # Per attempt: ts0 (start time), c{k} (position of step k), T{k} (its time) and
        # XA{x} (X{x} at the from_step event); c/T are valid for k < R.
        if spec.order == "unordered" and self.repeated_steps:
            # One event may match several steps (of the same event name): per attempt,
            # keep each event of the window (in stream order) that can still be matched
            # to a step of its own (a bipartite matching per event name, see
            # unordered_matching_sql); steps with an event name of their own take their
            # next match, as in the pass below.
            groups: dict[str, list[int]] = {}
            for k, step_def in enumerate(spec.steps):
                groups.setdefault(step_def.event, []).append(k)
            shared = [ks for ks in groups.values() if len(ks) > 1]
            single = [ks[0] for ks in groups.values() if len(ks) == 1]
            first = [f"arrayMap((x, t) -> x != 0 AND {in_range}, mms, ts) AS st"]
            for gi, ks in enumerate(shared):
                bits = " + ".join(f"bitShiftLeft(toUInt32(bitTest(x, {k})), {j})" for j, k in enumerate(ks))
                first.append(f"arrayMap(x -> {bits}, mms) AS gm{gi}")
            layers.append(first)
            nexts = [
                f"{self.unordered_matching_sql(f'gm{gi}', len(ks))} AS bases{gi}"
                for gi, ks in enumerate(shared)
            ]
            for k in single:
                nexts += self._next_match_sql(k, nx)
            layers.append(nexts)
            filt = ["arrayFilter((t, s) -> s, ts, st) AS ts0"]
            filt += [f"arrayFilter((b, s) -> s, bases{gi}, st) AS bs{gi}" for gi in range(len(shared))]
            for k in single:
                filt.append(f"arrayFilter((v, s) -> s, np{k}, st) AS f{k}")
                filt.append(f"arrayFilter((v, s) -> s, nt{k}, st) AS g{k}")
                filt += [f"arrayFilter((v, s) -> s, nX{k}_{x}, st) AS h{k}_{x}" for x in range(nx)]
            layers.append(filt)
            args = ", ".join(
                [f"bs{gi}" for gi in range(len(shared))]
                + [f"f{k}, g{k}" + "".join(f", h{k}_{x}" for x in range(nx)) for k in single]
            )
            params = ", ".join(
                [f"bs{gi}_" for gi in range(len(shared))]
                + [f"f{k}_, g{k}_" + "".join(f", h{k}_{x}_" for x in range(nx)) for k in single]
            )
            entry_type = "Tuple(UInt32, Int64" + ", Int64" * nx + ")"
            singles = ", ".join(
                f"(if(f{k}_ != 0 AND g{k}_ - t0 <= {w}, f{k}_, 0), g{k}_"
                + "".join(f", h{k}_{x}_" for x in range(nx))
                + ")"
                for k in single
            )
            parts = [f"arrayFilter(e -> e.2 - t0 <= {w}, bs{gi}_)" for gi in range(len(shared))]
            if single:
                parts.append(f"arrayFilter(e -> e.1 != 0, CAST([{singles}], 'Array({entry_type})'))")
            layers.append(
                [
                    f"arrayMap((t0, {params}) -> arraySort(arrayConcat({', '.join(parts)})), ts0, {args}) AS chains"
                ]
            )
            layers.append(self._chain_columns(n, spec))
        elif spec.order == "unordered":
            layers.append([f"arrayMap((x, t) -> x != 0 AND {in_range}, mms, ts) AS st"])
            layers.append([sql for k in range(n) for sql in self._next_match_sql(k, nx)])
            filt = ["arrayFilter((t, s) -> s, ts, st) AS ts0"]
            for k in range(n):
                filt.append(f"arrayFilter((v, s) -> s, np{k}, st) AS f{k}")
                filt.append(f"arrayFilter((v, s) -> s, nt{k}, st) AS g{k}")
                filt += [f"arrayFilter((v, s) -> s, nX{k}_{x}, st) AS h{k}_{x}" for x in range(nx)]
            layers.append(filt)
            args = ", ".join([f"f{k}, g{k}" + "".join(f", h{k}_{x}" for x in range(nx)) for k in range(n)])
            params = ", ".join(
                [f"f{k}_, g{k}_" + "".join(f", h{k}_{x}_" for x in range(nx)) for k in range(n)]
            )
            tuples = ", ".join(
                f"(if(f{k}_ != 0 AND g{k}_ - t0 <= {w}, f{k}_, 0), g{k}_"
                + "".join(f", h{k}_{x}_" for x in range(nx))
                + ")"
                for k in range(n)
            )
            layers.append(
                [
                    f"arrayMap((t0, {params}) -> arraySort(arrayFilter(e -> e.1 != 0, [{tuples}])), ts0, {args}) AS chains"
                ]
            )
            layers.append(self._chain_columns(n, spec))
        elif spec.order == "strict":
            layers.append([f"arrayMap((x, t) -> bitTest(x, 0) AND {in_range}, mms, ts) AS st"])
            for k in range(1, n):
                prev = f"ok{k - 1}" if k > 1 else "st"
                layers.append(
                    [
                        f"arrayResize(arraySlice(ts, {k + 1}), m, toInt64(0)) AS sts{k}",
                        f"arrayMap((o, x, t, t0) -> o AND bitTest(x, {k}) AND t - t0 <= {w}, {prev}, arrayResize(arraySlice(mms, {k + 1}), m, toUInt32(0)), "
                        f"arrayResize(arraySlice(ts, {k + 1}), m, toInt64(0)), ts) AS ok{k}",
                    ]
                )
            per = [
                "arrayFilter((t, s) -> s, ts, st) AS ts0",
                "arrayFilter((i, s) -> s, idx, st) AS c0",
                "ts0 AS T0",
            ]
            per += [f"arrayMap(p -> p + {k}, c0) AS c{k}" for k in range(1, n)]
            per += [f"arrayFilter((t, s) -> s, sts{k}, st) AS T{k}" for k in range(1, n)]
            per.append(
                "arrayFilter((r, s) -> s, arrayMap(("
                + ", ".join(f"o{k}" for k in range(1, n))
                + ") -> toUInt32(1 + "
                + " + ".join(f"o{k}" for k in range(1, n))
                + "), "
                + ", ".join(f"ok{k}" for k in range(1, n))
                + "), st) AS R"
            )
            per += [
                f"arrayFilter((v, s) -> s, arrayResize(arraySlice(X{x}, {e.from_step + 1}), m, {inf}), st) AS XA{x}"
                for x, e in enumerate(spec.exclusions)
            ]
            layers.append(per)
        else:
            layers.append([f"arrayMap((x, t) -> toUInt64(bitTest(x, 0) AND {in_range}), mms, ts) AS h0"])
            layers.append(["arrayFilter((t, s) -> s = 1, ts, h0) AS ts0", "length(ts0) AS na"])
            for k in range(1, n):
                # h{k}[q]: attempts whose step-k event is q = attempts whose step-(k-1)
                # event lies in [previous step-k match, q - 1].
                layers.append(
                    [
                        f"arrayPushFront(arrayPopBack(arrayCumSum(h{k - 1})), toUInt64(0)) AS S{k}",
                        f"arrayMap(x -> bitTest(x, {k}), mms) AS mk{k}",
                    ]
                )
                layers.append(
                    [
                        f"arrayPushFront(arrayPopBack(arrayFill(v -> v != -1, arrayMap((s, b) -> if(b, toInt64(s), toInt64(-1)), S{k}, mk{k}))), toInt64(-1)) AS Y{k}"
                    ]
                )
                layers.append(
                    [
                        f"arrayMap((b, s, y) -> if(b, toUInt64(s - greatest(y, 0)), toUInt64(0)), mk{k}, S{k}, Y{k}) AS h{k}"
                    ]
                )
            expand = ["arrayFilter((i, s) -> s = 1, idx, h0) AS c0", "ts0 AS T0"]
            for k in range(1, n):
                expand.append(
                    f"arrayResize(arrayFlatten(arrayMap((i, c) -> arrayWithConstant(c, i), idx, h{k})), na) AS c{k}"
                )
                expand.append(
                    f"arrayResize(arrayFlatten(arrayMap((t, c) -> arrayWithConstant(c, t), ts, h{k})), na, {inf}) AS T{k}"
                )
            for x, e in enumerate(spec.exclusions):
                a = e.from_step
                if a == 0:
                    expand.append(f"arrayFilter((v, s) -> s = 1, X{x}, h0) AS XA{x}")
                else:
                    expand.append(
                        f"arrayResize(arrayFlatten(arrayMap((v, c) -> arrayWithConstant(c, v), X{x}, h{a})), na) AS XA{x}"
                    )
            layers.append(expand)
            # T{k} is padded with +inf for attempts that never reach step k (a suffix of
            # the attempts), so R needs no positions: c{k} is only computed when the
            # counted attempt's events are used (breakdown values, actors).
            targs = ", ".join(["ts0"] + [f"T{k}" for k in range(1, n)])
            tparams = ", ".join(["t0"] + [f"T{k}_" for k in range(1, n)])
            layers.append(
                [
                    f"arrayMap(({tparams}) -> toUInt32(1 + "
                    + " + ".join(f"(T{k}_ - t0 <= {w})" for k in range(1, n))
                    + f"), {targs}) AS R"
                ]
            )
        if nx:
            used = sorted({e.to_step for e in spec.exclusions})
            xargs = ", ".join(["R", "ts0"] + [f"XA{x}" for x in range(nx)] + [f"T{b}" for b in used])
            xparams = ", ".join(["r", "t0"] + [f"xa{x}" for x in range(nx)] + [f"tb{b}" for b in used])
            voids = [
                f"(r > {e.from_step} AND if(r > {e.to_step}, xa{x} < tb{e.to_step}, xa{x} <= t0 + {w}))"
                for x, e in enumerate(spec.exclusions)
            ]
            layers.append(
                [f"arrayMap(({xparams}) -> if(" + " OR ".join(voids) + f", toUInt32(0), r), {xargs}) AS Rv"]
            )
        else:
            layers.append(["R AS Rv"])
        layers.append(["if(empty(Rv), toUInt32(0), arrayMax(Rv)) AS level"])
        layers.append(
            ["arrayFirstIndex(r -> r = level, Rv) AS bi"]
            + [f"arrayFirstIndex(r -> r > {k}, Rv) AS i{k}" for k in range(1, n)]
        )
        last = ["[" + ", ".join(f"if(level > {k}, c{k}[bi], 0)" for k in range(n)) + "] AS cb"]
        last += [f"if(i{k} = 0, toInt64(-1), T{k}[i{k}] - T{k - 1}[i{k}]) AS t{k}" for k in range(1, n)]
        last.append(f"if(i{n - 1} = 0, toInt64(-1), T{n - 1}[i{n - 1}] - T0[i{n - 1}]) AS tt")
        layers.append(last)
        # Only what the outer query references is computed (ClickHouse prunes the
        # rest): reached_at from the per-attempt times, positions (cb) only for the
        # sessions and touch attributions.
        reached = "[" + ", ".join(f"T{k}[bi]" for k in range(n)) + "][level]"
        final = [f"if(level = 0, toInt64(0), {reached}) AS reached_at", f"{self._bval_sql()} AS bval"]
        if sessions:
            final += [
                "arrayDistinct(arrayFilter(s -> s != '', arraySlice(["
                + ", ".join(f"sids[cb[{k + 1}]]" for k in range(n))
                + "], 1, level))) AS sessions",
                "sids[cb[level]] AS last_session",
            ]
        layers.append(final)
        sql = self.per_actor_sql(
            ["arraySort(groupArray(key)) AS ks"]
            + (
                ["arraySort((v, k) -> k, groupArray(session_id), groupArray(key)) AS sids"]
                if sessions
                else []
            )
            + (["arraySort((v, k) -> k, groupArray(bval_ev), groupArray(key)) AS bvs"] if bd_event else []),
            self.events_sql(sessions=sessions),
        )
        for layer in layers:
            sql = f"SELECT *, {', '.join(layer)}\nFROM ({sql})"
        return sql

    @staticmethod
    def _chain_columns(n: int, spec) -> list[str]:
        """Per attempt, from its sorted chain of matched (time, step time, exclusion...)
        entries: the reach R, each step's match c<k> and time T<k>, and each exclusion's
        from-step value XA<x> (unordered funnels, with or without repeated step events)."""
        cols = ["arrayMap(ch -> toUInt32(length(ch)), chains) AS R"]
        cols += [f"arrayMap(ch -> ch[{k + 1}].1, chains) AS c{k}" for k in range(n)]
        cols += [f"arrayMap(ch -> ch[{k + 1}].2, chains) AS T{k}" for k in range(n)]
        cols += [
            f"arrayMap(ch -> ch[{e.from_step + 1}].{3 + x}, chains) AS XA{x}"
            for x, e in enumerate(spec.exclusions)
        ]
        return cols

    @staticmethod
    def _next_match_sql(k: int, nx: int) -> list[str]:
        """Per position: the position (np), time (nt) and exclusion times (nX) of the
        first event at or after it that matches step k."""
        return [
            f"arrayReverseFill(v -> v > 0, arrayMap((x, i) -> if(bitTest(x, {k}), i, 0), mms, idx)) AS np{k}",
            f"arrayReverseFill(v -> v != -1, arrayMap((x, t) -> if(bitTest(x, {k}), t, toInt64(-1)), mms, ts)) AS nt{k}",
        ] + [
            f"arrayReverseFill(v -> v != -1, arrayMap((x, v) -> if(bitTest(x, {k}), v, toInt64(-1)), mms, X{x})) AS nX{k}_{x}"
            for x in range(nx)
        ]

    @property
    def repeated_steps(self) -> bool:
        """Do two steps share an event name (so one event may match both)?"""
        return len({s.event for s in self.spec.steps}) < self.n

    def unordered_matching_sql(self, masks: str, g: int) -> str:
        """Per event position p of the actor's stream: the attempt basis B(p) as a sorted
        array of (position, time, X0, X1, ...) tuples, the events an unordered attempt
        starting at p keeps before the window cuts it (the window keeps a prefix).

        The events that can be matched to pairwise different steps form a (transversal)
        matroid, so walking the events in stream order and keeping each one that still
        fits gives, for every k, the earliest moment at which k steps are done by
        distinct events; its size is the maximum matching. B(p) is that walk over the
        events from p on: the lexicographically smallest basis. Computed backwards in one
        arrayFold: B(p) = B(p + 1) + e_p, minus the latest event of the circuit e_p closes
        (if any), the matroid form of "insert an edge into a minimum spanning tree".
        The state is a matching of B(p + 1): per step the mask, position, time (and
        exclusion times) of the event matched to it. Adding e_p is one breadth-first
        search over the steps (n rounds): a free step reachable by an alternating path
        takes e_p; otherwise the path to the step holding the latest reachable event moves
        every event along it, and that event leaves. Each event costs O(n²); the per-p
        output makes the pass quadratic in the actor's events (fine for the sizes
        unordered funnels with repeated events see; funnels with distinct step events
        use the linear next-match pass instead). Run once per group of steps sharing an
        event name (`masks`: the events' masks over that group's g steps; events outside
        the group have mask 0 and keep the basis), since events of different names
        never compete for a step."""
        n, nx = g, len(self.spec.exclusions)
        rng = f"range({n})"
        xs = [f"xX{x}_" for x in range(nx)]
        entry_type = "Tuple(UInt32, Int64" + ", Int64" * nx + ")"
        state_type = (
            "Tuple(Array(UInt32), Array(UInt32), Array(Int64)"
            + ", Array(Int64)" * nx
            + f", Array(Array({entry_type})))"
        )
        basis_type = "Tuple(Array(UInt32), Array(UInt32), Array(Int64)" + ", Array(Int64)" * nx + ")"
        n_arrays = 3 + nx
        acc = [f"acc_.{i + 1}" for i in range(n_arrays)]

        def let(name: str, value: str, body: str) -> str:
            return f"arrayMap({name} -> {body}, [{value}])[1]"

        # par_[j]: -1 = not reached, n = reached from e_p itself, i = reached by moving
        # the event matched to step i onto step j.
        start = f"arrayMap(j -> if(bitTest(xm_, j), toInt8({n}), toInt8(-1)), {rng})"
        grow = f"arrayMap((pj, j) -> if(pj != -1, pj, toInt8(arrayFirstIndex((q, mq) -> q != -1 AND bitTest(mq, j), s_, {acc[0]}) - 1)), s_, {rng})"
        bfs = f"arrayFold((s_, r_) -> {grow}, {rng}, {start})"
        free = f"arrayFirstIndex((pj, mj) -> pj != -1 AND mj = 0, par_, {acc[0]})"
        latest = f"arrayReduce('argMax', {rng}, arrayMap((pj, pos) -> if(pj != -1, pos, toUInt32(0)), par_, {acc[1]}))"
        target = f"toInt8(if({free} > 0, {free} - 1, {latest}))"
        walk = (
            f"arrayFold((a_, r_) -> CAST(if(a_.1 = {n}, a_, (par_[a_.1 + 1], bitOr(a_.2, bitShiftLeft(toUInt32(1), a_.1)))), 'Tuple(Int8, UInt32)'), "
            f"{rng}, CAST((tg_, toUInt32(0)), 'Tuple(Int8, UInt32)')).2"
        )
        new_values = ["xm_", "xp_", "xt_", *xs]
        moved = ", ".join(
            f"arrayMap((j, a) -> if(bitTest(op_, j), if(par_[j + 1] = {n}, {v}, {a}[par_[j + 1] + 1]), a), {rng}, {a})"
            for a, v in zip(acc, new_values, strict=True)
        )
        added = let("par_", bfs, let("tg_", target, let("op_", walk, f"({moved})")))
        kept = f"({', '.join(acc)})"
        fields = ", ".join(f"ns_.{i + 2}" for i in range(n_arrays - 1))
        cols = ", ".join(["ep_", "et_", *[f"ex{x}_" for x in range(nx)]])
        entry = f"arraySort(arrayFilter(e -> e.1 != 0, arrayMap(({cols}) -> ({cols}), {fields})))"
        step = let(
            "ns_",
            f"CAST(if(xm_ = 0, {kept}, {added}), '{basis_type}')",
            f"({', '.join(f'ns_.{i + 1}' for i in range(n_arrays))}, arrayPushBack(acc_.{n_arrays + 1}, {entry}))",
        )
        init = (
            f"CAST((arrayWithConstant({n}, toUInt32(0)), arrayWithConstant({n}, toUInt32(0)), arrayWithConstant({n}, toInt64(0))"
            + f", arrayWithConstant({n}, toInt64(0))" * nx
            + f", []), '{state_type}')"
        )
        args = ", ".join(
            [
                f"arrayReverse({masks})",
                "arrayReverse(idx)",
                "arrayReverse(ts)",
                *[f"arrayReverse(X{x})" for x in range(nx)],
            ]
        )
        params = ", ".join(["acc_", "xm_", "xp_", "xt_", *xs])
        return f"arrayReverse(arrayFold(({params}) -> CAST({step}, '{state_type}'), {args}, {init}).{n_arrays + 1})"

    def _bval_sql(self) -> str:
        bd = self.spec.breakdown
        if bd is None:
            return "''"
        if bd.type == "person":
            return "bval_person"
        touched = "arraySlice([" + ", ".join(f"bvs[cb[{k + 1}]]" for k in range(self.n)) + "], 1, level)"
        if bd.attribution == "first_touch":
            return f"arrayFirst(v -> v != '', {touched})"
        if bd.attribution == "last_touch":
            return f"arrayLast(v -> v != '', {touched})"
        k = int(bd.attribution)
        return f"if(level > {k}, bvs[c{k}[bi]], '')"

    def per_actor_sql(self, aggregates: list[str], events: str) -> str:
        """GROUP BY the actor: the person alone (a UUID key, the cheapest) unless the
        funnel aggregates by session or property."""
        bval = (
            ["any(bval_person) AS bval_person"]
            if self.spec.breakdown is not None and self.spec.breakdown.type == "person"
            else ["'' AS bval_person"]
        )
        if self.spec.aggregate_by.kind == "person":
            return f"""
            SELECT person_id, '' AS akey, {", ".join(bval + aggregates)}
            FROM ({events})
            GROUP BY person_id
            """
        return f"""
            SELECT person_id, akey, {", ".join(bval + aggregates)}
            FROM ({events})
            GROUP BY person_id, akey
        """

    def windowfunnel_sql(self) -> str:
        """Same columns as actors_sql's level/bval/t*, from windowFunnel (see module doc)."""
        n = self.n
        conds = [f"bitTest(mm, 0) AND t < {self.hi}"] + [f"bitTest(mm, {k})" for k in range(1, n)]
        times = "".join(f", toInt64(-1) AS t{k}" for k in range(1, n))
        level = f"windowFunnel(toUInt64({self.w}))(toUInt64(t), {', '.join(conds)}) AS level"
        return f"""
        SELECT person_id, akey, bval_person AS bval, level{times}, toInt64(-1) AS tt
        FROM ({self.per_actor_sql([level], self.events_sql(with_order_fields=False))})
        """


# ------------------------------------------------------------------ results
@dataclass(frozen=True)
class StepResult:
    order: int
    event: str
    count: int
    conversion_rate: float
    conversion_rate_from_previous: float
    dropped: int
    average_conversion_time_seconds: float | None
    median_conversion_time_seconds: float | None

    def to_json(self) -> dict:
        return dict(self.__dict__)


@dataclass(frozen=True)
class BreakdownResult:
    value: str | None  # raw value ("" = none, OTHER_VALUE = Other); None without a breakdown
    steps: list[StepResult]
    rank: int = 0

    @property
    def label(self) -> str | None:
        return None if self.value is None else breakdown_label(self.value)


@dataclass(frozen=True)
class FunnelResult:
    spec: FunnelSpec
    start: dt.datetime
    end: dt.datetime
    results: list[BreakdownResult] = field(default_factory=list)
    engine: str = "arrays"

    def shown_value(self, r: BreakdownResult, presenter) -> str | None:
        if r.value is None:
            return None
        if presenter is not None and r.value not in ("", OTHER_VALUE):
            return presenter.label(self.spec.breakdown.property, r.label)
        return r.label

    def to_json(self, presenter) -> dict:
        out = []
        for r in self.results:
            item = {
                "breakdown_value": self.shown_value(r, presenter),
                "steps": [s.to_json() for s in r.steps],
            }
            if r.value is not None:
                # A value the user sees masked gets a token as its drill-down key, not the raw value.
                masked = presenter is not None and item["breakdown_value"] != r.label
                item["breakdown_key"] = (
                    presenter.token(r.label) if masked and r.value not in ("", OTHER_VALUE) else r.value
                )
            out.append(item)
        return {
            "results": out,
            "aggregate_by": self.spec.aggregate_by.to_json(),
            "date_from": self.start.isoformat(),
            "date_to": self.end.isoformat(),
        }


def _rate(num: int, den: int) -> float:
    return num / den if den else 0.0


def build_steps(spec: FunnelSpec, counts: list[int], avgs: list, medians: list) -> list[StepResult]:
    out = []
    for k, step in enumerate(spec.steps):
        out.append(
            StepResult(
                order=k,
                event=step.event,
                count=counts[k],
                conversion_rate=_rate(counts[k], counts[0]) if k else (1.0 if counts[0] else 0.0),
                conversion_rate_from_previous=_rate(counts[k], counts[k - 1])
                if k
                else (1.0 if counts[0] else 0.0),
                dropped=counts[k - 1] - counts[k] if k else 0,
                average_conversion_time_seconds=avgs[k],
                median_conversion_time_seconds=medians[k],
            )
        )
    return out


def _resolve(project, spec: FunnelSpec) -> tuple[dt.datetime, dt.datetime]:
    start, end = spec.date_range.resolve(project.tz)
    if start is None:
        first = ch.query(
            "SELECT min(timestamp) FROM events WHERE project_id = {project_id:UInt32}",
            {"project_id": project.id},
        ).scalar()
        start = first.replace(tzinfo=dt.UTC) if first else end - dt.timedelta(days=1)
        if start.year < 2000:
            start = end - dt.timedelta(days=1)
    return start, end


class FunnelQueryRunner:
    """Counts, rates and conversion times per step (and per breakdown value)."""

    def __init__(self, project, spec: FunnelSpec, *, engine: str = "auto"):
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {ENGINES}")
        if engine == "windowfunnel" and not windowfunnel_eligible(spec):
            raise ValueError("windowFunnel cannot compute this funnel exactly (see funnels/queries.py)")
        self.project = project
        self.spec = spec
        self.engine = (
            "windowfunnel"
            if engine == "auto" and windowfunnel_eligible(spec)
            else ("arrays" if engine == "auto" else engine)
        )

    def sql(self) -> tuple[str, dict, dt.datetime, dt.datetime]:
        start, end = _resolve(self.project, self.spec)
        q = FunnelSQL(self.project, self.spec, start, end)
        actors = q.windowfunnel_sql() if self.engine == "windowfunnel" else q.actors_sql(sessions=False)
        n = q.n
        times = self.spec.conversion_times and self.engine == "arrays"
        per_step = [f"countIf(level > {k}) AS n{k}" for k in range(n)]
        for k in range(1, n):
            if times:
                per_step += [
                    f"sumIf(t{k}, t{k} >= 0) AS s{k}",
                    f"countIf(t{k} >= 0) AS k{k}",
                    f"quantileExactLowIfState(0.5)(t{k}, t{k} >= 0) AS ql{k}",
                    f"quantileExactHighIfState(0.5)(t{k}, t{k} >= 0) AS qh{k}",
                ]
            else:  # not referenced: ClickHouse drops the per-step time columns upstream
                per_step += [f"0 AS s{k}", f"0 AS k{k}", f"0 AS ql{k}", f"0 AS qh{k}"]
        merged = [f"sum(n{k}) AS n{k}" for k in range(n)]
        for k in range(1, n):
            if times:
                merged += [
                    f"sum(s{k})",
                    f"sum(k{k})",
                    f"quantileExactLowIfMerge(0.5)(ql{k})",
                    f"quantileExactHighIfMerge(0.5)(qh{k})",
                ]
            else:
                merged += ["0", "0", "0", "0"]
        if self.spec.breakdown is None:  # one group: no ranking, no merge of states
            single = [f"countIf(level > {k})" for k in range(n)]
            for k in range(1, n):
                single += (
                    [
                        f"sumIf(t{k}, t{k} >= 0)",
                        f"countIf(t{k} >= 0)",
                        f"quantileExactLowIf(0.5)(t{k}, t{k} >= 0)",
                        f"quantileExactHighIf(0.5)(t{k}, t{k} >= 0)",
                    ]
                    if times
                    else ["0", "0", "0", "0"]
                )
            sql = f"""
            SELECT '' AS b, 1 AS rank, {", ".join(single)}
            FROM ({actors})
            WHERE level > 0
            HAVING count() > 0
            """
            return sql, q.b.params, start, end
        limit = q.b.bind(self.spec.breakdown.limit, "UInt32")
        other = q.b.bind(OTHER_VALUE, "String")
        sql = f"""
        SELECT if(rk <= {limit}, bval, {other}) AS b, min(rk) AS rank, {", ".join(merged)}
        FROM (
            SELECT bval, {", ".join(per_step)}, row_number() OVER (ORDER BY count() DESC, bval) AS rk
            FROM ({actors})
            WHERE level > 0
            GROUP BY bval
        )
        GROUP BY b
        ORDER BY rank
        """
        return sql, q.b.params, start, end

    def run(self) -> FunnelResult:
        sql, params, start, end = self.sql()
        rows = ch.query(sql, params).rows
        n = len(self.spec.steps)
        results = []
        for row in rows:
            value, rank = row[0], row[1]
            counts = list(row[2 : 2 + n])
            avgs, medians = [None], [None]
            rest = row[2 + n :]
            for k in range(1, n):
                s, c, low, high = rest[4 * (k - 1) : 4 * k]
                if c and self.spec.conversion_times and self.engine == "arrays":
                    avgs.append(s / c / 1e6)
                    medians.append((low + high) / 2 / 1e6)
                else:
                    avgs.append(None)
                    medians.append(None)
            results.append(
                BreakdownResult(
                    value if self.spec.breakdown else None,
                    build_steps(self.spec, counts, avgs, medians),
                    rank,
                )
            )
        if not results and self.spec.breakdown is None:
            results.append(BreakdownResult(None, build_steps(self.spec, [0] * n, [None] * n, [None] * n)))
        if self.spec.breakdown is not None:
            # "Other" last, whatever its size.
            results.sort(key=lambda r: (r.value == OTHER_VALUE, r.rank))
        return FunnelResult(self.spec, start, end, results, self.engine)


# ------------------------------------------------------------------ actors
@dataclass(frozen=True)
class FunnelActor:
    person_id: str
    aggregation_value: str | None
    reached_step: int
    reached_at: dt.datetime
    session_ids: list[str]
    session_id_at_last_step: str | None
    distinct_ids: list[str] = field(default_factory=list)
    properties: dict = field(default_factory=dict)

    def to_json(self, presenter) -> dict:
        out = {
            "person_id": self.person_id,
            "distinct_ids": [presenter.distinct_id(d) for d in self.distinct_ids]
            if presenter is not None
            else self.distinct_ids,
            "properties": presenter.properties(self.properties) if presenter is not None else self.properties,
            "reached_step": self.reached_step,
            "reached_at": self.reached_at.isoformat(),
            "session_ids": self.session_ids,
            "session_id_at_last_step": self.session_id_at_last_step,
        }
        if self.aggregation_value is not None:
            out["aggregation_value"] = self.aggregation_value
        return out

    @property
    def replay_at_ms(self) -> int:
        """The moment to open the recording at, in ms since the epoch (the replay
        player's `?at=`; `?t=` is reserved for ms from the recording's start)."""
        return to_micros(self.reached_at) // 1000


@dataclass(frozen=True)
class FunnelActorsResult:
    spec: FunnelActorsSpec
    actors: list[FunnelActor]
    total: int

    def to_json(self, presenter) -> dict:
        return {"results": [a.to_json(presenter) for a in self.actors], "total": self.total}


PERSONS_SQL = """
    SELECT id, argMax(properties, version) AS properties
    FROM persons
    WHERE project_id = {project_id:UInt32} AND id IN {ids:Array(UUID)}
    GROUP BY id
"""
DISTINCT_IDS_SQL = """
    SELECT person_id, groupArray(distinct_id) AS distinct_ids
    FROM (
        SELECT distinct_id, argMax(person_id, version) AS person_id, argMax(is_deleted, version) AS deleted
        FROM person_distinct_ids
        WHERE project_id = {project_id:UInt32}
        GROUP BY distinct_id
    )
    WHERE deleted = 0 AND person_id IN {ids:Array(UUID)}
    GROUP BY person_id
"""


class FunnelActorsQueryRunner:
    """Actors converted at step k (reached step >= k) or dropped at k (reached k-1 exactly)."""

    def __init__(self, project, spec: FunnelActorsSpec, *, engine: str = "arrays", with_persons: bool = True):
        self.project = project
        self.spec = spec
        self.with_persons = with_persons

    def _raw_breakdown_value(self) -> str:
        """The raw value behind `breakdown_value`, which may be the token of a masked label
        (docs/access.md): found among this funnel's top values by its keyed tag."""
        value = self.spec.breakdown_value
        if not value.startswith(output.TOKEN_PREFIX):
            return value
        tag = value.removeprefix(output.TOKEN_PREFIX)
        for r in FunnelQueryRunner(self.project, self.spec.funnel, engine="arrays").run().results:
            if r.value not in ("", OTHER_VALUE) and output.label_tag(self.project.pk, r.label) == tag:
                return r.value
        raise BadRequest("Invalid drill-down.", {"breakdown_value": "not a breakdown value of this funnel"})

    def run(self) -> FunnelActorsResult:
        funnel = self.spec.funnel
        start, end = _resolve(self.project, funnel)
        q = FunnelSQL(self.project, funnel, start, end)
        b = q.b
        step = b.bind(self.spec.step, "UInt32")
        cond = f"level - 1 >= {step}" if self.spec.status == "converted" else f"level = {step}"
        where = ["level > 0", cond]
        if self.spec.breakdown_value is not None and funnel.breakdown is not None:
            if self.spec.breakdown_value == OTHER_VALUE:
                top = [
                    r.value
                    for r in FunnelQueryRunner(self.project, funnel, engine="arrays").run().results
                    if r.value != OTHER_VALUE
                ]
                where.append(f"bval NOT IN {b.bind(top, 'Array(String)')}")
            else:
                where.append(f"bval = {b.bind(self._raw_breakdown_value(), 'String')}")
        # Two passes: the page of actors without sessions (collecting and sorting every
        # actor's session ids doubled the cost), then the sessions of that page's
        # persons only (the per-actor result depends on the actor's own events alone).
        sql = f"""
        SELECT toString(person_id) AS person_id, akey, level, reached_at, count() OVER () AS total
        FROM ({q.actors_sql(sessions=False)})
        WHERE {" AND ".join(where)}
        ORDER BY reached_at DESC, person_id, akey
        LIMIT {b.bind(self.spec.limit, "UInt32")} OFFSET {b.bind(self.spec.offset, "UInt32")}
        """
        page = ch.query(sql, b.params).rows
        total = page[0][4] if page else self._count(q, where)
        sessions = {}
        if page:
            q2 = FunnelSQL(self.project, funnel, start, end, person_ids=sorted({r[0] for r in page}))
            found = ch.query(
                f"SELECT toString(person_id), akey, sessions, last_session FROM ({q2.actors_sql()}) WHERE level > 0",
                q2.b.params,
            ).rows
            sessions = {(pid, akey): (list(sids), last) for pid, akey, sids, last in found}
        rows = [
            (pid, akey, level, at, *sessions.get((pid, akey), ([], "")), total)
            for pid, akey, level, at, total in page
        ]
        ids = sorted({r[0] for r in rows})
        props, dids = {}, {}
        if ids and self.with_persons:
            params = {"project_id": self.project.id, "ids": ids}
            import json  # noqa: PLC0415

            for pid, raw in ch.query(PERSONS_SQL, params).rows:
                try:
                    props[str(pid)] = json.loads(raw) if raw else {}
                except ValueError:
                    props[str(pid)] = {}
            dids = {str(pid): sorted(d) for pid, d in ch.query(DISTINCT_IDS_SQL, params).rows}
        actors = [
            FunnelActor(
                person_id=pid,
                aggregation_value=akey if funnel.aggregate_by.kind != "person" else None,
                reached_step=level - 1,
                reached_at=from_micros(reached_at),
                session_ids=list(sessions),
                session_id_at_last_step=last or None,
                distinct_ids=dids.get(pid, []),
                properties=props.get(pid, {}),
            )
            for pid, akey, level, reached_at, sessions, last, _ in rows
        ]
        return FunnelActorsResult(self.spec, actors, total)

    def _count(self, q: FunnelSQL, where: list[str]) -> int:
        if self.spec.offset == 0:
            return 0
        sql = f"SELECT count() FROM ({q.actors_sql(sessions=False)}) WHERE {' AND '.join(where)}"
        return ch.query(sql, q.b.params).scalar() or 0


# ------------------------------------------------------------------ time to convert
@dataclass(frozen=True)
class TimeToConvertResult:
    bins: list[tuple[float, float, int]]  # (from seconds, to seconds, actors)
    total: int
    average_seconds: float | None
    median_seconds: float | None


class FunnelTimeToConvertRunner:
    """Time from the first to the last step (of the earliest-start attempt that
    completed the funnel), in power-of-two second bins: [0,1), [1,2), [2,4), ..."""

    def __init__(self, project, spec: FunnelSpec):
        self.project = project
        self.spec = spec

    def run(self) -> TimeToConvertResult:
        start, end = _resolve(self.project, self.spec)
        q = FunnelSQL(self.project, self.spec, start, end)
        done = f"level = {len(self.spec.steps)} AND tt >= 0"
        sql = f"""
        SELECT groupArray((bin, n)), sum(n), sum(s), quantileExactLowMerge(0.5)(ql), quantileExactHighMerge(0.5)(qh)
        FROM (
            SELECT if(tt < 1000000, -1, toInt32(floor(log2(tt / 1e6)))) AS bin, count() AS n, sum(tt) AS s,
                quantileExactLowState(0.5)(tt) AS ql, quantileExactHighState(0.5)(tt) AS qh
            FROM ({q.actors_sql(sessions=False)})
            WHERE {done}
            GROUP BY bin
        )
        """
        pairs, total, s, low, high = ch.query(sql, q.b.params).rows[0]
        bins = []
        for bin_, count in sorted(pairs):
            lo = 0.0 if bin_ < 0 else float(2**bin_)
            bins.append((lo, 1.0 if bin_ < 0 else float(2 ** (bin_ + 1)), count))
        avg = s / total if total else None
        return TimeToConvertResult(
            bins, total or 0, (avg / 1e6) if total else None, ((low + high) / 2 / 1e6) if total else None
        )


# ------------------------------------------------------------------ conversion over time
@dataclass(frozen=True)
class TrendPoint:
    day: dt.datetime
    entered: int
    converted: int

    @property
    def rate(self) -> float:
        return self.converted / self.entered if self.entered else 0.0


class FunnelTrendsRunner:
    """Conversion rate by entry day (project time zone): for each local day, the actors
    with a non-void attempt starting that day, and those of them with such an attempt
    completing the funnel."""

    def __init__(self, project, spec: FunnelSpec):
        self.project = project
        self.spec = spec

    def run(self) -> list[TrendPoint]:
        start, end = _resolve(self.project, self.spec)
        q = FunnelSQL(self.project, self.spec, start, end)
        tz = q.b.bind(self.project.time_zone, "String")
        n = len(self.spec.steps)
        sql = f"""
        SELECT day, count() AS entered, countIf(best = {n}) AS converted
        FROM (
            SELECT person_id, akey, toDate(toTimeZone(fromUnixTimestamp64Micro(a.1), {tz})) AS day, max(a.2) AS best
            FROM ({q.actors_sql(sessions=False)})
            ARRAY JOIN arrayZip(ts0, Rv) AS a
            WHERE a.2 > 0
            GROUP BY person_id, akey, day
        )
        GROUP BY day
        ORDER BY day
        """
        found = {day: (entered, converted) for day, entered, converted in ch.query(sql, q.b.params).rows}
        tz_info = self.project.tz
        out = []
        for moment in interval_starts(start, end, "day", tz_info):
            entered, converted = found.get(moment.date(), (0, 0))
            out.append(TrendPoint(moment, entered, converted))
        return out
