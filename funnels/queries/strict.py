"""Strict funnels: the very next event of the actor's stream must match the next step,
so step k of the attempt starting at position p can only be p + k (docs/funnels.md)."""

from __future__ import annotations

from .base import INF, FunnelSQL


class StrictFunnelSQL(FunnelSQL):
    """Arrays shifted by k: `time_plus{k}[p]` is the time of event p + k, `chain_ok{k}[p]`
    says whether events p..p+k are steps 0..k within the window."""

    reads_every_event = True

    def attempt_layers(self) -> list[list[str]]:
        n, w = self.n, self.w
        layers = [[f"arrayMap((x, t) -> bitTest(x, 0) AND {self.in_range}, step_masks, times) AS starts"]]
        for k in range(1, n):
            prev = f"chain_ok{k - 1}" if k > 1 else "starts"
            layers.append(
                [
                    f"arrayResize(arraySlice(times, {k + 1}), n_events, toInt64(0)) AS time_plus{k}",
                    f"arrayMap((o, x, t, t0) -> o AND bitTest(x, {k}) AND t - t0 <= {w}, {prev}, arrayResize(arraySlice(step_masks, {k + 1}), n_events, toUInt32(0)), "
                    f"arrayResize(arraySlice(times, {k + 1}), n_events, toInt64(0)), times) AS chain_ok{k}",
                ]
            )
        per = [
            "arrayFilter((t, s) -> s, times, starts) AS attempt_start",
            "arrayFilter((i, s) -> s, positions, starts) AS step_pos0",
            "attempt_start AS step_time0",
        ]
        per += [f"arrayMap(p -> p + {k}, step_pos0) AS step_pos{k}" for k in range(1, n)]
        per += [f"arrayFilter((t, s) -> s, time_plus{k}, starts) AS step_time{k}" for k in range(1, n)]
        per.append(
            "arrayFilter((r, s) -> s, arrayMap(("
            + ", ".join(f"o{k}" for k in range(1, n))
            + ") -> toUInt32(1 + "
            + " + ".join(f"o{k}" for k in range(1, n))
            + "), "
            + ", ".join(f"chain_ok{k}" for k in range(1, n))
            + "), starts) AS reach"
        )
        per += [
            f"arrayFilter((v, s) -> s, arrayResize(arraySlice(excl_after{x}, {e.from_step + 1}), n_events, {INF}), starts) AS excl_after_from{x}"
            for x, e in enumerate(self.spec.exclusions)
        ]
        layers.append(per)
        return layers
