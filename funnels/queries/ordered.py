"""Ordered funnels: each step is the first later event matching it; anything may happen
in between (docs/funnels.md, "Attempts" and "Engines")."""

from __future__ import annotations

from .base import INF, FunnelSQL

# Funnels with up to this many steps fill each attempt's chain back from the last step
# (`chain_fill_layers`: n(n-1)/2 reverse fills over the actor's events, per-event
# arrays); longer ones move counts of attempts (`attempt_count_layers`: O(n) passes,
# then every attempt's step times expanded from the counts). At 10M events, both forms
# alternating in one process (docs/funnels.md, "Chains filled back"): the fills are
# 23-35% faster with 4 steps, 20% with 6, the same with 8, 10% slower with 10 and twice
# as slow with 20.
CHAIN_FILL_MAX_STEPS = 7


class OrderedFunnelSQL(FunnelSQL):
    def attempt_layers(self) -> list[list[str]]:
        if self.n <= CHAIN_FILL_MAX_STEPS:
            return self.chain_fill_layers()
        return self.attempt_count_layers()

    def chain_fill_layers(self) -> list[list[str]]:
        """Per event r of the actor's stream: the attempt starting at r (a step-0 event in
        the date range) takes as step 1 the first step-1 event after r, as step 2 the first
        step-2 event after that, and so on: a composition of "first later match" maps.
        Filled back from the last step, `chain{k}_{j}[r]` is the time of the step-j event
        of the chain that takes the first step-k event after r as its step k (+inf when
        that chain stops before step j): `chain{k}_{k}` is the times shifted by one and
        reverse-filled over the step-k events, `chain{k}_{j}` for j > k the same fill of
        `chain{k+1}_{j}` (`pos{k}_{j}`: positions, only computed when the counted attempt's
        events are read). So `step_time{j}` = `chain1_{j}`, and every per-attempt array is
        per event, with reach 0 where no attempt starts."""
        n = self.n
        layers = [
            [
                f"arrayMap((x, t) -> bitTest(x, 0) AND {self.in_range}, step_masks, times) AS starts",
                # the step mask of the next event: a fill over step-k events after r
                "arrayShiftLeft(step_masks, 1, toUInt32(0)) AS next_masks",
                "times AS attempt_start",
                "times AS step_time0",
                "positions AS step_pos0",
            ]
        ]
        excl_from = {x: e.from_step for x, e in enumerate(self.spec.exclusions)}

        def fill(k: int, values: str, empty: str) -> str:
            return f"arrayReverseFill((v, x) -> bitTest(x, {k}), arrayShiftLeft({values}, 1, {empty}), next_masks)"

        for k in range(n - 1, 0, -1):
            layer = []
            for j in range(k, n):
                t, p = ("times", "positions") if j == k else (f"chain{k + 1}_{j}", f"pos{k + 1}_{j}")
                layer.append(f"{fill(k, t, INF)} AS chain{k}_{j}")
                layer.append(f"{fill(k, p, 'toUInt32(0)')} AS pos{k}_{j}")
            # excl_after{x} at the attempt's from_step event, carried back the same way
            for x, a in excl_from.items():
                if a >= k:
                    src = f"excl_after{x}" if a == k else f"excl_chain{k + 1}_{x}"
                    layer.append(f"{fill(k, src, INF)} AS excl_chain{k}_{x}")
            layers.append(layer)
        last = [f"chain1_{j} AS step_time{j}" for j in range(1, n)]
        last += [f"pos1_{j} AS step_pos{j}" for j in range(1, n)]
        last += [
            f"{f'excl_chain1_{x}' if a else f'excl_after{x}'} AS excl_after_from{x}"
            for x, a in excl_from.items()
        ]
        args = ", ".join(["starts", "times"] + [f"chain1_{k}" for k in range(1, n)])
        last.append(
            f"arrayMap((s, {self._chain_params()}) -> if(s, {self._reach()}, toUInt32(0)), {args}) AS reach"
        )
        layers.append(last)
        return layers

    def attempt_count_layers(self) -> list[list[str]]:
        """The greedy walk moves *counts* of attempts between events: an attempt whose step
        k-1 event is p takes the first step-k match after p, so the attempts taking event q
        as step k are those sitting on step-(k-1) events between the previous step-k match
        and q. Attempts never overtake each other, so the attempts on one event are a
        contiguous run of attempt numbers, and the per-attempt position / time of step k is
        the events' positions / times repeated by those counts."""
        n = self.n
        layers = [
            [
                f"arrayMap((x, t) -> toUInt64(bitTest(x, 0) AND {self.in_range}), step_masks, times) AS attempts_on0"
            ],
            [
                "arrayFilter((t, s) -> s = 1, times, attempts_on0) AS attempt_start",
                "length(attempt_start) AS n_attempts",
            ],
        ]
        for k in range(1, n):
            # attempts_on{k}[q]: attempts whose step-k event is q = attempts whose
            # step-(k-1) event lies in [previous step-k match, q - 1]: `waiting{k}` counts
            # the step-(k-1) attempts before q, `taken{k}` those already taken by the
            # previous step-k match (-1 before the first one).
            layers.append(
                [
                    f"arrayPushFront(arrayPopBack(arrayCumSum(attempts_on{k - 1})), toUInt64(0)) AS waiting{k}",
                    f"arrayMap(x -> bitTest(x, {k}), step_masks) AS is_step{k}",
                ]
            )
            layers.append(
                [
                    f"arrayPushFront(arrayPopBack(arrayFill(v -> v != -1, arrayMap((s, b) -> if(b, toInt64(s), toInt64(-1)), waiting{k}, is_step{k}))), toInt64(-1)) AS taken{k}"
                ]
            )
            layers.append(
                [
                    f"arrayMap((b, s, y) -> if(b, toUInt64(s - greatest(y, 0)), toUInt64(0)), is_step{k}, waiting{k}, taken{k}) AS attempts_on{k}"
                ]
            )
        expand = [
            "arrayFilter((i, s) -> s = 1, positions, attempts_on0) AS step_pos0",
            "attempt_start AS step_time0",
        ]
        for k in range(1, n):
            expand.append(
                f"arrayResize(arrayFlatten(arrayMap((i, c) -> arrayWithConstant(c, i), positions, attempts_on{k})), n_attempts) AS step_pos{k}"
            )
            expand.append(
                f"arrayResize(arrayFlatten(arrayMap((t, c) -> arrayWithConstant(c, t), times, attempts_on{k})), n_attempts, {INF}) AS step_time{k}"
            )
        for x, e in enumerate(self.spec.exclusions):
            a = e.from_step
            if a == 0:
                expand.append(
                    f"arrayFilter((v, s) -> s = 1, excl_after{x}, attempts_on0) AS excl_after_from{x}"
                )
            else:
                expand.append(
                    f"arrayResize(arrayFlatten(arrayMap((v, c) -> arrayWithConstant(c, v), excl_after{x}, attempts_on{a})), n_attempts) AS excl_after_from{x}"
                )
        layers.append(expand)
        # step_time{k} is padded with +inf for attempts that never reach step k (a suffix
        # of the attempts), so the reach needs no positions: step_pos{k} is only computed
        # when the counted attempt's events are used (breakdown values, actors). This is
        # the chain without the window; the window keeps a prefix of it.
        targs = ", ".join(["attempt_start"] + [f"step_time{k}" for k in range(1, n)])
        layers.append([f"arrayMap(({self._chain_params()}) -> {self._reach()}, {targs}) AS reach"])
        return layers

    def _chain_params(self) -> str:
        """The lambda parameters of an attempt's start and later step times."""
        return ", ".join(["t0"] + [f"T{k}_" for k in range(1, self.n)])

    def _reach(self) -> str:
        """Steps reached within the window, over _chain_params (times only grow along a
        chain, so the window keeps a prefix; +inf where the chain stops)."""
        return "toUInt32(1 + " + " + ".join(f"(T{k}_ - t0 <= {self.w})" for k in range(1, self.n)) + ")"
