"""Ordered funnels: each step is the first later event matching it; anything may happen
in between (docs/funnels.md, "Attempts" and "Engines")."""

from __future__ import annotations

from .base import INF, FunnelSQL


class OrderedFunnelSQL(FunnelSQL):
    """The greedy walk moves *counts* of attempts between events: an attempt whose step
    k-1 event is p takes the first step-k match after p, so the attempts taking event q
    as step k are those sitting on step-(k-1) events between the previous step-k match
    and q. Attempts never overtake each other, so the attempts on one event are a
    contiguous run of attempt numbers, and the per-attempt position / time of step k is
    the events' positions / times repeated by those counts."""

    def attempt_layers(self) -> list[list[str]]:
        n, w = self.n, self.w
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
        tparams = ", ".join(["t0"] + [f"T{k}_" for k in range(1, n)])
        layers.append(
            [
                f"arrayMap(({tparams}) -> toUInt32(1 + "
                + " + ".join(f"(T{k}_ - t0 <= {w})" for k in range(1, n))
                + f"), {targs}) AS reach"
            ]
        )
        return layers
