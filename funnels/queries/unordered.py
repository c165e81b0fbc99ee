"""Unordered funnels: an attempt starts at any event matching a step and keeps, in
stream order within the window, each event that can still be matched to a step of its
own (docs/funnels.md, "Attempts"). With a different event name per step that is the
next match of every step; steps sharing an event name need a bipartite matching."""

from __future__ import annotations

import json

from .base import INF, FunnelSQL

# Groups of steps sharing an event name whose closed form (_hall_layers) would need
# more per-event arrays than this use the arrayFold instead: each array holds
# one time per event of every actor in the block. 32 = four different definitions of
# one event name; at 10M events that group took 2.9 s and 786 MB peak, cold (as tuple
# arrays 4.8 s and 823 MB; the fold 21.5 s, 757 MB), two definitions (4 arrays) 1.3 s
# warm (the fold 15.2 s, 768 MB).
HALL_MAX_FILLS = 32
# A step's next match outside the attempt's window (sorts after every kept one).
NO_KEY = "toUInt64(18446744073709551615)"


def sorting_network(n: int) -> list[list[tuple[int, int]]]:
    """Batcher's odd-even merge sort for n wires, in stages of disjoint comparators
    (i, j), i < j: after each, wire i holds the smaller value. Built for the next power
    of two; a comparator reaching a wire >= n is dropped (those wires would hold +inf,
    which no comparator moves)."""
    size = 1
    while size < n:
        size *= 2
    stages: list[list[tuple[int, int]]] = []
    p = 1
    while p < size:
        k = p
        while k >= 1:
            stage = []
            for j in range(k % p, size - k, 2 * k):
                for i in range(min(k, size - j - k)):
                    a, b = i + j, i + j + k
                    if a // (2 * p) == b // (2 * p) and b < n:
                        stage.append((a, b))
            if stage:
                stages.append(stage)
            k //= 2
        p *= 2
    return stages


class UnorderedFunnelSQL(FunnelSQL):
    """ "Step k" of an attempt is its k-th kept event: with a different event name per
    step, from the steps' next matches (as keys); with steps sharing an event name, from
    each group's kept events by Hall's theorem (as times) and the other steps' next
    matches. Either way per event, sorted by a sorting network for the exclusions' void
    check and for the counted attempt alone where the result reads it (`step_at`). A
    group of more than HALL_MAX_FILLS arrays keeps the arrayFold, with a sorted
    `chains` array of (position, time, exclusion times...) entries per attempt."""

    @property
    def repeated_steps(self) -> bool:
        """Do two steps share an event name (so one event may match both)?"""
        return len({s.event for s in self.spec.steps}) < self.n

    @property
    def closed_form(self) -> bool:
        """Steps sharing an event name, every group within HALL_MAX_FILLS arrays: the
        per-event Hall form (_hall_layers) instead of the arrayFold's per-attempt chains."""
        return self.repeated_steps and all(
            self.hall_fills(self._step_classes(ks)) <= HALL_MAX_FILLS for ks in self._shared_groups()
        )

    def _shared_groups(self) -> list[list[int]]:
        """The steps of each event name that several steps share."""
        groups: dict[str, list[int]] = {}
        for k, step_def in enumerate(self.spec.steps):
            groups.setdefault(step_def.event, []).append(k)
        return [ks for ks in groups.values() if len(ks) > 1]

    def attempt_layers(self) -> list[list[str]]:
        if not self.repeated_steps:
            return self._next_match_layers()
        if self.closed_form:
            return self._hall_layers()
        return self._matching_layers()

    # distinct event names: the next match of every step -------------------------
    def _next_match_layers(self) -> list[list[str]]:
        """Per event p (every array per event, reach 0 where no attempt starts): each
        step's next match at or after p, kept when within the window of p, as one UInt64
        `key{k}` = (time - date_from) << 5 | k (+max when not kept). With a different event
        name per step each event matches one step, so the stream order of two kept events
        is their time, then their first step: the order of the keys. A sorting network
        (`sorting_network`) of least / greatest over the n keys gives the attempt's kept
        events in order (`sorted{depth}_{i}`, the last of each wire): the r-th kept event's
        time and, through the step number in its low bits, its position and exclusion
        times; only the exclusions' void check needs that for every attempt, and the
        counted attempt's steps are sorted for it alone (`step_at`). No per-attempt
        arrays are built or sorted (docs/funnels.md, "Unordered without per-attempt
        sorts"). The key holds any range up to 2^59 µs (18,000 years)."""
        n, w = self.n, self.w
        layers = [
            [
                f"arrayMap((x, t) -> x != 0 AND {self.in_range}, step_masks, times) AS starts",
                # every event's key (its step: the one bit of its mask; 31 for none)
                f"arrayMap((x, t) -> bitShiftLeft(toUInt64(t - {self.lo}), 5) + if(x = 0, 31, bitCount(x - 1)), step_masks, times) AS event_keys",
            ],
            # next_excl only feeds excl_after_from (computed when read)
            [sql for k in range(n) for sql in self._next_match_sql(k, times=False, positions=False)]
            + [
                f"arrayReverseFill(v -> v != {NO_KEY}, arrayMap((x, e) -> if(bitTest(x, {k}), e, {NO_KEY}), step_masks, event_keys)) AS next_key{k}"
                for k in range(n)
            ],
            [
                f"arrayMap((s, t0, v) -> if(s AND v != {NO_KEY} AND {self._key_time('v')} - t0 <= {w}, v, {NO_KEY}), starts, times, next_key{k}) AS key{k}"
                for k in range(n)
            ],
        ]
        keys = [f"key{k}" for k in range(n)]
        network, wires = self._sorted(keys)
        layers += network
        last = ["times AS attempt_start", f"{self._kept_count(keys, NO_KEY)} AS reach"]
        # Read only by the exclusions' void check (ClickHouse skips the network otherwise).
        last += [f"arrayMap(k -> {self._key_time('k')}, {wires[r]}) AS step_time{r}" for r in range(n)]
        last += [
            f"{self._by_step(wires[e.from_step], f'next_excl{{k}}_{x}')} AS excl_after_from{x}"
            for x, e in enumerate(self.spec.exclusions)
        ]
        layers.append(last)
        return layers

    @staticmethod
    def _sorted(columns: list[str]) -> tuple[list[list[str]], list[str]]:
        """The sorting network over per-event arrays (least / greatest per comparator,
        element-wise): its layers, and the column holding each rank's values."""
        wires = list(columns)
        layers = []
        for depth, stage in enumerate(sorting_network(len(columns))):
            layer = []
            for i, j in stage:
                lo_, hi_ = f"sorted{depth}_{i}", f"sorted{depth}_{j}"
                layer.append(f"arrayMap((a, b) -> least(a, b), {wires[i]}, {wires[j]}) AS {lo_}")
                layer.append(f"arrayMap((a, b) -> greatest(a, b), {wires[i]}, {wires[j]}) AS {hi_}")
                wires[i], wires[j] = lo_, hi_
            layers.append(layer)
        return layers, wires

    @staticmethod
    def _kept_count(columns: list[str], none: str) -> str:
        """Per event, how many of these per-event arrays hold a value other than `none`."""
        params = ", ".join(f"k{c}_" for c in range(len(columns)))
        kept = " + ".join(f"(k{c}_ != {none})" for c in range(len(columns)))
        return f"arrayMap(({params}) -> toUInt32({kept}), {', '.join(columns)})"

    def attempt_columns(self, attempts: list[str]) -> list[list[str]]:
        """Distinct event names: the n keys of each attempt the result reads, sorted once
        per actor (`chain_at_{attempt}`), instead of per-attempt arrays of every step.
        Shared event names, closed form: see _hall_attempt_columns."""
        if self.closed_form:
            return self._hall_attempt_columns(attempts)
        if self.repeated_steps:
            return []
        keys = ", ".join(f"key{j}[{{a}}]" for j in range(self.n))
        return [[f"arraySort([{keys.format(a=a)}]) AS chain_at_{a}" for a in attempts]]

    def step_at(self, what: str, k: int, attempt: str) -> str:
        """Distinct event names: from the attempt's sorted keys. A kept event's position
        is the first event with its key (`indexOf`): events with one key are adjacent in
        the stream, so a kept event of another step than the attempt's first has no event
        of its key before the attempt's; one of the same step is the attempt's own."""
        if self.closed_form:
            if what == "time":
                return f"chain_time_at_{attempt}[{k + 1}]"
            return f"chain_at_{attempt}[{k + 1}].2"
        if self.repeated_steps:
            return super().step_at(what, k, attempt)
        key = f"chain_at_{attempt}[{k + 1}]"
        if what == "time":
            return self._key_time(key)
        return f"if({key} = event_keys[{attempt}], {attempt}, indexOf(event_keys, {key}))"

    def _key_time(self, key: str) -> str:
        """The time (µs) of a key (time - date_from) << 5 | step."""
        return f"(toInt64(bitShiftRight({key}, 5)) + {self.lo})"

    def _by_step(self, slot: str, column: str) -> str:
        """Per event, `column` (a per-step name pattern with {k}) of the step whose key is in
        `slot` (its low 5 bits)."""
        cols = ", ".join(column.format(k=k) for k in range(self.n))
        params = ", ".join(f"v{k}_" for k in range(self.n))
        pick = ", ".join(f"i_ = {k}, v{k}_" for k in range(self.n - 1))
        return f"arrayMap((i_, {params}) -> multiIf({pick}, v{self.n - 1}_), arrayMap(k -> bitAnd(k, 31), {slot}), {cols})"

    # shared event names, closed form: per-event times of the kept events ----------
    def _candidates(self) -> list[tuple[str, list[str], str]]:
        """Per event p, the n candidates of an attempt starting at p, in step order of
        their groups: (the column of its time, +inf if none; its exclusion values' columns;
        the SQL of its position for the attempt at index `{a}`, computed only when read).
        A group of steps sharing an event name gives its g kept events (`hall{gi}_t{k}`;
        the k-th is the latest over T of the d-th T-event, so its position is the greatest
        of theirs), a step with a name of its own its next match."""
        out = []
        for gi, ks in enumerate(self._shared_groups()):
            classes = self._step_classes(ks)
            g, unions = len(ks), self._unions(classes)
            for k in range(1, g + 1):
                ts = [t for t in unions if k - g + t.bit_count() >= 1]
                nth = [
                    self._nth_match(f"group_masks{gi}", f"bitAnd(m, {t}) != 0", k - g + t.bit_count())
                    for t in ts
                ]
                out.append(
                    (
                        f"hall{gi}_t{k}",
                        [f"hall{gi}_x{x}_{k}" for x in range(self.nx)],
                        f"greatest({', '.join(nth)})" if len(nth) > 1 else nth[0],
                    )
                )
        for k in self._single_steps():
            out.append(
                (
                    f"next_time{k}",
                    [f"next_excl{k}_{x}" for x in range(self.nx)],
                    self._nth_match("step_masks", f"bitTest(m, {k})", 1),
                )
            )
        return out

    @staticmethod
    def _nth_match(masks: str, matches: str, d: int) -> str:
        """The position of the d-th event at or after the attempt at index `{a}` whose
        mask (in `masks`) `matches` (a condition on m): where the running count of
        matches first exceeds the count before the attempt by d."""
        count = f"arrayMap(m -> toUInt32({matches}), {masks})"
        before = f"arrayCount(m -> {matches}, arraySlice({masks}, 1, {{a}} - 1))"
        return f"indexOf(arrayCumSum({count}), {before} + {d})"

    def _single_steps(self) -> list[int]:
        names = [s.event for s in self.spec.steps]
        return [k for k, name in enumerate(names) if names.count(name) == 1]

    def _hall_layers(self) -> list[list[str]]:
        """Steps sharing an event name, as per-event arrays (reach 0 where no attempt
        starts), linear in the actor's events.

        B(p), the events of a group of g steps an attempt starting at p keeps, is the
        greedy walk over the events from p on: an event is kept when the walk's matching
        grows. So the k-th kept event is the first q at which the events p..q can be
        matched to k distinct steps. By Hall's theorem (the deficiency form, König) the
        largest matching of events p..q to the group's g steps is the least, over step
        sets T, of g - |T| + (events of p..q matching some step of T). So it reaches k
        exactly when every T has at least k - g + |T| events matching T among p..q: the
        k-th kept event is the latest, over T, of the (k - g + |T|)-th event at or after
        p that matches T (for no T, the matching never reaches k). T need only range
        over unions of classes of identical steps (adding a step identical to one in T
        changes no event count). The same kept events as the arrayFold of
        unordered_matching_sql (tested), which stays for groups whose classes would need
        more than HALL_MAX_FILLS arrays.

        `hall{gi}_t{T}_{d}`[p]: the time of the d-th event at or after p matching T, +inf
        if none: d = 1 by one reverse fill; d + 1 at an event matching T is the d-th from
        the next position on, filled the same way; with exclusions, the exclusion values
        of those events alongside (`hall{gi}_x{x}_{T}_{d}`). The group's k-th kept event
        (`hall{gi}_t{k}`) is the latest of them; each other step gives its next match.
        An attempt's candidates are kept within its window (`cand{c}`; a next match's
        none is -1, _next_match_sql) and its reach is how many are. Stream order is time order, so the
        latest of a group's T-events by time is the latest by position, and everything
        the void check reads of an event (its time, `excl_after`) is a function of its
        time: the void check takes "step r" from a sorting network over the candidates'
        times, and only the counted attempt's positions are looked up
        (_hall_attempt_columns). No per-attempt arrays (docs/funnels.md, "Unordered
        without per-attempt sorts")."""
        n, nx, w = self.n, self.nx, self.w
        first = [f"arrayMap((x, t) -> x != 0 AND {self.in_range}, step_masks, times) AS starts"]
        fills: list[list[str]] = []
        kept: list[str] = []
        for gi, ks in enumerate(self._shared_groups()):
            bits = " + ".join(f"bitShiftLeft(toUInt32(bitTest(x, {k})), {j})" for j, k in enumerate(ks))
            first.append(f"arrayMap(x -> {bits}, step_masks) AS group_masks{gi}")
            masks = f"group_masks{gi}"
            classes = self._step_classes(ks)
            g, unions = len(ks), self._unions(classes)
            for d in range(1, g + 1):
                if len(fills) < d:
                    fills.append([])
                for t in unions:
                    if t.bit_count() < d:
                        continue
                    shifted = (
                        "times" if d == 1 else f"arrayPushBack(arrayPopFront(hall{gi}_t{t}_{d - 1}), {INF})"
                    )
                    fills[d - 1].append(
                        f"arrayReverseFill(v -> v != {INF}, arrayMap((m, v) -> if(bitAnd(m, {t}) != 0, v, {INF}), {masks}, {shifted})) AS hall{gi}_t{t}_{d}"
                    )
                    for x in range(nx):
                        shifted = (
                            f"excl_after{x}"
                            if d == 1
                            else f"arrayPushBack(arrayPopFront(hall{gi}_x{x}_{t}_{d - 1}), {INF})"
                        )
                        fills[d - 1].append(
                            f"arrayReverseFill((v, m) -> bitAnd(m, {t}) != 0, arrayMap((m, v) -> if(bitAnd(m, {t}) != 0, v, {INF}), {masks}, {shifted}), {masks}) AS hall{gi}_x{x}_{t}_{d}"
                        )
            for k in range(1, g + 1):
                ts = [(t, k - g + t.bit_count()) for t in unions if k - g + t.bit_count() >= 1]
                times = [f"hall{gi}_t{t}_{d}" for t, d in ts]
                if len(ts) == 1:
                    kept.append(f"{times[0]} AS hall{gi}_t{k}")
                    kept += [f"hall{gi}_x{x}_{ts[0][0]}_{ts[0][1]} AS hall{gi}_x{x}_{k}" for x in range(nx)]
                    continue
                params = ", ".join(f"c{i}_" for i in range(len(ts)))
                kept.append(
                    f"arrayMap(({params}) -> greatest({params}), {', '.join(times)}) AS hall{gi}_t{k}"
                )
                for x in range(nx):
                    # the value of a T whose time is the latest (equal times: equal values)
                    xs = [f"hall{gi}_x{x}_{t}_{d}" for t, d in ts]
                    xparams = ", ".join(f"v{i}_" for i in range(len(ts)))
                    pick = ", ".join(f"c{i}_ = m_, v{i}_" for i in range(len(ts) - 1))
                    kept.append(
                        f"arrayMap((m_, {params}, {xparams}) -> multiIf({pick}, v{len(ts) - 1}_), hall{gi}_t{k}, {', '.join(times)}, {', '.join(xs)}) AS hall{gi}_x{x}_{k}"
                    )
        singles = [sql for k in self._single_steps() for sql in self._next_match_sql(k, positions=False)]
        layers = [first, singles + fills[0], *fills[1:], kept]
        cands = self._candidates()
        layers.append(
            ["times AS attempt_start"]
            + [
                f"arrayMap((s, t0, v) -> if(s AND v != -1 AND v <= t0 + {w}, v, {INF}), starts, times, {col}) AS cand{c}"
                for c, (col, _, _) in enumerate(cands)
            ]
        )
        last = [f"{self._kept_count([f'cand{c}' for c in range(n)], INF)} AS reach"]
        if nx:
            network, wires = self._sorted([f"cand{c}" for c in range(n)])
            layers += network
            last += [f"{wires[r]} AS step_time{r}" for r in range(n)]
            cols = ", ".join(f"cand{c}" for c in range(n))
            cparams = ", ".join(f"c{c}_" for c in range(n))
            for x, e in enumerate(self.spec.exclusions):
                xs = ", ".join(cx[x] for _, cx, _ in cands)
                xparams = ", ".join(f"v{c}_" for c in range(n))
                pick = ", ".join(f"c{c}_ = m_, v{c}_" for c in range(n - 1))
                last.append(
                    f"arrayMap((m_, {cparams}, {xparams}) -> multiIf({pick}, v{n - 1}_), {wires[e.from_step]}, {cols}, {xs}) AS excl_after_from{x}"
                )
        layers.append(last)
        return layers

    def _hall_attempt_columns(self, attempts: list[str]) -> list[list[str]]:
        """Per attempt the result reads: its kept times sorted (`chain_time_at_{a}`), and
        (computed only when positions are read: sessions, touch attributions) its kept
        (time, position) pairs sorted (`chain_at_{a}`; stream order, as positions break
        ties of time). A candidate's position is looked up for the attempt alone
        (_nth_match); a candidate the window drops (+inf) sorts last and is never read."""
        n = self.n
        cands = self._candidates()
        last = []
        for a in attempts:
            times = ", ".join(f"cand{c}[{a}]" for c in range(n))
            last.append(f"arraySort([{times}]) AS chain_time_at_{a}")
            entries = ", ".join(f"(cand{c}[{a}], {pos.format(a=a)})" for c, (_, _, pos) in enumerate(cands))
            last.append(f"arraySort([{entries}]) AS chain_at_{a}")
        return [last]

    # shared event names: a bipartite matching per group of steps -----------------
    def _matching_layers(self) -> list[list[str]]:
        """One event may match several steps (of the same event name): per attempt, keep
        each event of the window (in stream order) that can still be matched to a step of
        its own (a bipartite matching per event name, see unordered_matching_sql); steps
        with an event name of their own take their next match, as above."""
        nx, w = self.nx, self.w
        shared, single = self._shared_groups(), self._single_steps()
        first = [f"arrayMap((x, t) -> x != 0 AND {self.in_range}, step_masks, times) AS starts"]
        for gi, ks in enumerate(shared):
            bits = " + ".join(f"bitShiftLeft(toUInt32(bitTest(x, {k})), {j})" for j, k in enumerate(ks))
            first.append(f"arrayMap(x -> {bits}, step_masks) AS group_masks{gi}")
        layers = [first]
        layers.append(
            [
                f"{self.unordered_matching_sql(f'group_masks{gi}', len(ks))} AS basis{gi}"
                for gi, ks in enumerate(shared)
            ]
        )
        for k in single:
            layers[1] += self._next_match_sql(k)
        filt = ["arrayFilter((t, s) -> s, times, starts) AS attempt_start"]
        filt += [
            f"arrayFilter((b, s) -> s, basis{gi}, starts) AS attempt_basis{gi}" for gi in range(len(shared))
        ]
        for k in single:
            filt += self._at_attempts_sql(k)
        layers.append(filt)
        args = ", ".join(
            [f"attempt_basis{gi}" for gi in range(len(shared))] + [self._attempt_args(k) for k in single]
        )
        params = ", ".join(
            [f"b{gi}_" for gi in range(len(shared))] + [self._attempt_params(k) for k in single]
        )
        entry_type = "Tuple(UInt32, Int64" + ", Int64" * nx + ")"
        singles = ", ".join(self._entry_sql(k) for k in single)
        parts = [f"arrayFilter(e -> e.2 - t0 <= {w}, b{gi}_)" for gi in range(len(shared))]
        if single:
            parts.append(f"arrayFilter(e -> e.1 != 0, CAST([{singles}], 'Array({entry_type})'))")
        layers.append(
            [
                f"arrayMap((t0, {params}) -> arraySort(arrayConcat({', '.join(parts)})), attempt_start, {args}) AS chains"
            ]
        )
        layers.append(self._chain_columns())
        return layers

    # pieces ------------------------------------------------------------------------
    def _next_match_sql(self, k: int, *, times: bool = True, positions: bool = True) -> list[str]:
        """Per position: the position (next_pos), time (next_time) and exclusion times
        (next_excl) of the first event at or after it that matches step k."""
        out = []
        if positions:
            out.append(
                f"arrayReverseFill(v -> v > 0, arrayMap((x, i) -> if(bitTest(x, {k}), i, 0), step_masks, positions)) AS next_pos{k}"
            )
        if times:
            out.append(
                f"arrayReverseFill(v -> v != -1, arrayMap((x, t) -> if(bitTest(x, {k}), t, toInt64(-1)), step_masks, times)) AS next_time{k}"
            )
        return out + [
            f"arrayReverseFill(v -> v != -1, arrayMap((x, v) -> if(bitTest(x, {k}), v, toInt64(-1)), step_masks, excl_after{x})) AS next_excl{k}_{x}"
            for x in range(self.nx)
        ]

    def _at_attempts_sql(self, k: int) -> list[str]:
        """The next-match arrays of step k kept at the positions that start an attempt."""
        return [
            f"arrayFilter((v, s) -> s, next_pos{k}, starts) AS attempt_pos{k}",
            f"arrayFilter((v, s) -> s, next_time{k}, starts) AS attempt_time{k}",
        ] + [
            f"arrayFilter((v, s) -> s, next_excl{k}_{x}, starts) AS attempt_excl{k}_{x}"
            for x in range(self.nx)
        ]

    def _attempt_args(self, k: int) -> str:
        return f"attempt_pos{k}, attempt_time{k}" + "".join(f", attempt_excl{k}_{x}" for x in range(self.nx))

    def _attempt_params(self, k: int) -> str:
        return f"p{k}_, t{k}_" + "".join(f", x{k}_{x}_" for x in range(self.nx))

    def _entry_sql(self, k: int) -> str:
        """Step k's (position, time, exclusion times...) entry of the attempt starting
        at t0; position 0 when step k has no match within the window."""
        return (
            f"(if(p{k}_ != 0 AND t{k}_ - t0 <= {self.w}, p{k}_, 0), t{k}_"
            + "".join(f", x{k}_{x}_" for x in range(self.nx))
            + ")"
        )

    def _chain_columns(self) -> list[str]:
        """Per attempt, from its sorted chain of kept (position, time, exclusion times...)
        entries: the reach, each step's position and time, and each exclusion's value at
        the from-step event."""
        n = self.n
        cols = ["arrayMap(ch -> toUInt32(length(ch)), chains) AS reach"]
        cols += [f"arrayMap(ch -> ch[{k + 1}].1, chains) AS step_pos{k}" for k in range(n)]
        cols += [f"arrayMap(ch -> ch[{k + 1}].2, chains) AS step_time{k}" for k in range(n)]
        cols += [
            f"arrayMap(ch -> ch[{e.from_step + 1}].{3 + x}, chains) AS excl_after_from{x}"
            for x, e in enumerate(self.spec.exclusions)
        ]
        return cols

    def _step_classes(self, ks: list[int]) -> list[int]:
        """The group's steps (bits 0..g-1 of its masks) in classes of identical
        definitions, as bit masks: identical steps match the same events."""
        classes: dict[str, int] = {}
        for j, k in enumerate(ks):
            # its JSON (a filter's masking included): values may be lists, so not hashable
            key = json.dumps(self.spec.steps[k].to_json(), sort_keys=True, default=repr)
            classes[key] = classes.get(key, 0) | (1 << j)
        return list(classes.values())

    @staticmethod
    def _unions(classes: list[int]) -> list[int]:
        """Every non-empty union of the classes (bit masks over the group's steps)."""
        return sorted(
            {sum(c for i, c in enumerate(classes) if pick >> i & 1) for pick in range(1, 1 << len(classes))}
        )

    @classmethod
    def hall_fills(cls, classes: list[int]) -> int:
        """How many time arrays _hall_layers fills for a group (sum of |T| over T)."""
        return sum(t.bit_count() for t in cls._unions(classes))

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
        n, nx = g, self.nx
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
                "arrayReverse(positions)",
                "arrayReverse(times)",
                *[f"arrayReverse(excl_after{x})" for x in range(nx)],
            ]
        )
        params = ", ".join(["acc_", "xm_", "xp_", "xt_", *xs])
        return f"arrayReverse(arrayFold(({params}) -> CAST({step}, '{state_type}'), {args}, {init}).{n_arrays + 1})"
