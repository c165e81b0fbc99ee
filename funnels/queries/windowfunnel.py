"""The window-funnel engine: ClickHouse's windowFunnel algorithm, for the funnels where it
is proven to equal the arrays engine (tests/funnels/test_reference.py compares both with
the reference): ordered funnels whose steps have pairwise different event names (so no
event matches two steps), with no exclusions, no event-property breakdown and no
conversion times. Strict funnels never use it: windowFunnel's 'strict_order' stops at
the first interruption of the *first* attempt, while Sextant takes the best attempt.

The algorithm (windowFunnel's default mode): walk the actor's events in (time, step)
order; a step-0 event in the date range opens a chain at its time, replacing the chain
open before it; a step-k event extends the latest chain that reached step k-1 if it is
within the window of that chain's start. The level is the furthest step any chain
reached. Later chains start later, so keeping only the latest one per step loses nothing.

It is evaluated on one sorted UInt64 per event, (µs since the range start << B) | step,
with forward fills, not with the `windowFunnel` aggregate: at 10M events (a 4-step
funnel, 200k persons, 7.5M events read) the aggregate's per-person event lists cost
1.27 s of CPU, collecting the packed keys and these array passes 0.73 s (same counts).
"""

from __future__ import annotations

import datetime as dt

from ..spec import FunnelSpec
from .base import FunnelSQL
from .results import to_micros


def windowfunnel_eligible(spec: FunnelSpec) -> bool:
    return (
        spec.order == "ordered"
        and not spec.exclusions
        and (spec.breakdown is None or spec.breakdown.type == "person")
        and len({s.event for s in spec.steps}) == len(spec.steps)
        and not spec.conversion_times
    )


def step_bits(n: int) -> int:
    return max(1, (n - 1).bit_length())


def fits(spec: FunnelSpec, start: dt.datetime, end: dt.datetime) -> bool:
    """The packed keys hold the events read (up to end + window) as µs since the start."""
    span = to_micros(end) + spec.window.micros - to_micros(start)
    return span >= 0 and span << step_bits(len(spec.steps)) < 1 << 63


class WindowFunnelSQL(FunnelSQL):
    def actors_sql(self, *, sessions: bool = False) -> str:
        """The columns of the arrays engine's actors_sql that the counts read (level,
        breakdown_value, conv_time{k} and total_time, the times always -1)."""
        n, w, lo, hi = self.n, self.w, self.lo, self.hi
        bits = step_bits(n)
        first_step = (
            "multiIf(" + ", ".join(f"bitTest(step_mask, {k}), {k}" for k in range(n - 1)) + f", {n - 1})"
        )
        key = f"bitShiftLeft(toUInt64(t - {lo}), {bits}) + {first_step}"
        layers = [
            [
                f"arrayMap(k -> toInt64(bitShiftRight(k, {bits})), keys) AS ts",
                f"arrayMap(k -> toUInt8(bitAnd(k, {(1 << bits) - 1})), keys) AS st",
            ],
            # chain0[i]: the start of the latest chain open at event i (-1: none)
            [
                f"arrayFill(v -> v >= 0, arrayMap((s, t) -> if(s = 0 AND t < {hi} - {lo}, t, -1), st, ts)) AS chain0"
            ],
        ]
        # chain{k}[i]: the start of the latest chain that reached step k by event i
        reach = lambda k: f"s = {k} AND c >= 0 AND t - c <= {w}"  # noqa: E731
        layers += [
            [
                f"arrayFill(v -> v >= 0, arrayMap((s, t, c) -> if({reach(k)}, c, -1), st, ts, chain{k - 1})) AS chain{k}"
            ]
            for k in range(1, n - 1)
        ]
        reached = [f"(chain{k}[-1] >= 0)" for k in range(n - 1)]
        reached.append(f"arrayExists((s, t, c) -> {reach(n - 1)}, st, ts, chain{n - 2})")
        layers.append([f"toUInt32({' + '.join(reached)}) AS level"])
        sql = self.per_actor_sql(
            [f"arraySort(groupArray({key})) AS keys"], self.events_sql(with_order_fields=False)
        )
        for layer in layers:
            sql = f"SELECT *, {', '.join(layer)}\nFROM ({sql})"
        times = "".join(f", toInt64(-1) AS conv_time{k}" for k in range(1, n))
        return f"""
        SELECT person_id, actor_key, person_breakdown AS breakdown_value, level{times}, toInt64(-1) AS total_time
        FROM ({sql})
        """
