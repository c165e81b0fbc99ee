"""ClickHouse's windowFunnel as a faster engine for the funnels where it is proven to
equal the arrays engine (tests/funnels/test_reference.py compares both with the
reference): ordered funnels whose steps have pairwise different event names (so no
event matches two steps), with no exclusions, no event-property breakdown and no
conversion times. Strict funnels never use it: windowFunnel's 'strict_order' stops at
the first interruption of the *first* attempt, while Sextant takes the best attempt."""

from __future__ import annotations

from ..spec import FunnelSpec
from .base import FunnelSQL


def windowfunnel_eligible(spec: FunnelSpec) -> bool:
    return (
        spec.order == "ordered"
        and not spec.exclusions
        and (spec.breakdown is None or spec.breakdown.type == "person")
        and len({s.event for s in spec.steps}) == len(spec.steps)
        and not spec.conversion_times
    )


class WindowFunnelSQL(FunnelSQL):
    def actors_sql(self, *, sessions: bool = False) -> str:
        """The columns of the arrays engine's actors_sql that the counts read (level,
        breakdown_value, conv_time{k} and total_time, the times always -1)."""
        n = self.n
        conds = [f"bitTest(step_mask, 0) AND t < {self.hi}"] + [
            f"bitTest(step_mask, {k})" for k in range(1, n)
        ]
        times = "".join(f", toInt64(-1) AS conv_time{k}" for k in range(1, n))
        level = f"windowFunnel(toUInt64({self.w}))(toUInt64(t), {', '.join(conds)}) AS level"
        return f"""
        SELECT person_id, actor_key, person_breakdown AS breakdown_value, level{times}, toInt64(-1) AS total_time
        FROM ({self.per_actor_sql([level], self.events_sql(with_order_fields=False))})
        """
