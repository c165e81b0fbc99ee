"""The funnel engine: runners (runners.py) over one per-actor query per funnel order
(ordered.py, strict.py, unordered.py, sharing base.py), ClickHouse's windowFunnel where
it is proven equal (windowfunnel.py), and the result types (results.py). Semantics and
the engine's design: docs/funnels.md; tests/funnels/reference.py implements the same
semantics in Python and is compared with these runners on generated data."""

from .base import FunnelSQL
from .ordered import OrderedFunnelSQL
from .results import (
    BreakdownResult,
    FunnelActor,
    FunnelActorsResult,
    FunnelResult,
    StepResult,
    TimeToConvertResult,
    TrendPoint,
    build_steps,
    from_micros,
    to_micros,
)
from .runners import (
    DISTINCT_IDS_SQL,
    ENGINES,
    PERSONS_SQL,
    SQL_BY_ORDER,
    FunnelActorsQueryRunner,
    FunnelQueryRunner,
    FunnelTimeToConvertRunner,
    FunnelTrendsRunner,
    funnel_sql,
)
from .strict import StrictFunnelSQL
from .unordered import UnorderedFunnelSQL
from .windowfunnel import WindowFunnelSQL, windowfunnel_eligible

__all__ = [
    "DISTINCT_IDS_SQL",
    "ENGINES",
    "PERSONS_SQL",
    "SQL_BY_ORDER",
    "BreakdownResult",
    "FunnelActor",
    "FunnelActorsQueryRunner",
    "FunnelActorsResult",
    "FunnelQueryRunner",
    "FunnelResult",
    "FunnelSQL",
    "FunnelTimeToConvertRunner",
    "FunnelTrendsRunner",
    "OrderedFunnelSQL",
    "StepResult",
    "StrictFunnelSQL",
    "TimeToConvertResult",
    "TrendPoint",
    "UnorderedFunnelSQL",
    "WindowFunnelSQL",
    "build_steps",
    "from_micros",
    "funnel_sql",
    "to_micros",
    "windowfunnel_eligible",
]
