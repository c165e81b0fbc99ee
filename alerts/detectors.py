"""Detectors: pure functions over a metric series (no I/O, no Django).

A series is a list of floats, one per complete period (hour or day), oldest first;
`season` is the number of periods in a week (168 hourly, 7 daily). `judge(values, i,
detector, params, season)` says whether period `i` is anomalous, with the expected
value and the band of values that would not have been (docs/alerts.md, "Detectors"):

- threshold: `op` "above" | "below", `value`.
- relative: `compare_to` "previous" (the period before) | "last_week" (same period a
  week earlier); fires when the change is at least `percent` (default 30) percent.
- seasonal: the expected value is the median of the same hour-of-week (or day-of-week)
  over the last `weeks` weeks (default 4), scaled by the recent trend (the last day's,
  or last week's for daily rules, actual/expected ratio, clipped to [0.5, 2]). The
  spread is the winsorized (clipped at 4 MAD-sigmas) standard deviation of the last
  week's residuals (at least 28 periods), level-scaled for counts, plus the trend
  factor's uncertainty (SeasonalModel.sigma), so a Monday-morning peak that recurs every
  week is expected, not an anomaly. Fires when |z| >= `k`
  (default 3), after `min_history` weeks (default 2) of history.

Every detector also takes `direction` ("both" | "up" | "down") and `min_abs_change`
(the least |value - expected| that may fire; default 0), so tiny counts do not alert.

`step(state, anomalous, in_cooldown)` is the state machine: ok/resolved -> firing on
an anomalous period (unless within the cooldown), firing -> resolved on a normal one.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field

DEFAULTS = {
    "threshold": {"op": "above", "value": 0.0},
    "relative": {"compare_to": "previous", "percent": 30.0},
    "seasonal": {"weeks": 4, "k": 3.0, "min_history": 2},
}
COMMON = {"direction": "both", "min_abs_change": 0.0}
TREND_CLIP = (0.5, 2.0)


@dataclass(frozen=True)
class Judgement:
    value: float | None
    expected: float | None = None
    low: float | None = None
    high: float | None = None
    anomalous: bool = False
    reason: str = ""
    # Periods the expected value was drawn from (root cause compares the current one with them).
    baseline: tuple[int, ...] = field(default=())


def params_with_defaults(detector: str, params: dict | None) -> dict:
    return {**COMMON, **DEFAULTS[detector], **(params or {})}


def _outside(value: float, expected: float, low, high, direction: str, min_abs: float) -> bool:
    if abs(value - expected) < min_abs:
        return False
    above = high is not None and value > high
    below = low is not None and value < low
    if direction == "up":
        return above
    if direction == "down":
        return below
    return above or below


def threshold(values: list[float], i: int, p: dict) -> Judgement:
    value = values[i]
    limit = float(p["value"])
    if p["op"] == "above":
        return Judgement(
            value, limit, None, limit, value > limit, f"{value:g} above {limit:g}" if value > limit else ""
        )
    return Judgement(
        value, limit, limit, None, value < limit, f"{value:g} below {limit:g}" if value < limit else ""
    )


def relative(values: list[float], i: int, p: dict, season: int) -> Judgement:
    lag = 1 if p["compare_to"] == "previous" else season
    value = values[i]
    if i - lag < 0:
        return Judgement(value, reason="not enough history")
    expected = values[i - lag]
    frac = float(p["percent"]) / 100
    low, high = expected * (1 - frac), expected * (1 + frac)
    anomalous = _outside(value, expected, low, high, p["direction"], float(p["min_abs_change"]))
    reason = ""
    if anomalous:
        change = (value - expected) / expected * 100 if expected else math.inf
        reason = f"{change:+.0f}% vs {'the previous period' if lag == 1 else 'the same period last week'}"
    return Judgement(value, expected, low, high, anomalous, reason, (i - lag,))


class SeasonalModel:
    """The seasonal baseline of one series, computed once for many judged periods."""

    def __init__(self, values: list[float], season: int, weeks: int, valid_from: int = 0):
        self.values = values
        self.season = season
        self.weeks = weeks
        self.samples: list[list[int]] = []
        self.median: list[float | None] = []
        for i in range(len(values)):
            idx = [i - k * season for k in range(1, weeks + 1) if i - k * season >= valid_from]
            self.samples.append(idx)
            self.median.append(statistics.median(values[j] for j in idx) if idx else None)
        # The recent trend: the last day (hourly rules) or the last week (daily rules).
        self.window = season // 7 if season >= 168 else season
        # The residuals the spread is measured on: the last week, at least 28 periods.
        self.spread_window = max(season, 28)

    def trend(self, i: int) -> float:
        lo = max(0, i - self.window)
        actual = expected = 0.0
        for j in range(lo, i):
            if self.median[j] is not None:
                actual += self.values[j]
                expected += self.median[j]
        if expected <= 0 or actual <= 0:
            return 1.0
        return min(max(actual / expected, TREND_CLIP[0]), TREND_CLIP[1])

    def sigma(self, i: int, expected: float) -> float:
        """The spread of (value - expected) at period i, from last week's residuals
        (value - same-period median):

        - their winsorized standard deviation (each residual clipped to median +/- 4 MAD-sigmas
          first, so a past anomaly counts as a 4-sigma residual, not as itself): unlike the
          MAD alone it sees the residuals' real tails, which the MAD under-reads (0.66 false
          firings per rule-week at k = 3 with the MAD, 0.24 with this; docs/alerts.md);
        - the larger of that on the plain residuals and on the level-scaled ones
          (residual / sqrt(level), times sqrt(expected)), so a busy hour's wider count noise
          does not make its peaks look anomalous;
        - plus the uncertainty of the recent-trend factor the expected value is scaled by
          (its ratio is a sum of noisy periods: median x its relative spread)."""
        plain, scaled = [], []
        for j in range(max(0, i - self.spread_window), i):
            m = self.median[j]
            if m is None:
                continue
            plain.append(self.values[j] - m)
            scaled.append((self.values[j] - m) / math.sqrt(abs(m) + 1e-12))
        if len(plain) < 2:
            return 0.0
        s_plain, s_scaled = _winsorized_sd(plain), _winsorized_sd(scaled)
        noise = max(s_plain, s_scaled * math.sqrt(abs(expected)))
        # The trend ratio sum(actual) / sum(median) over the trend window: its relative spread.
        recent = [j for j in range(max(0, i - self.window), i) if self.median[j] is not None]
        total = sum(self.median[j] for j in recent)
        if total <= 0 or self.median[i] is None:
            return noise
        var = sum(max(s_plain**2, s_scaled**2 * abs(self.median[j])) for j in recent)
        trend_sd = self.median[i] * math.sqrt(var) / total
        return math.sqrt(noise**2 + trend_sd**2)

    def judge(self, i: int, p: dict) -> Judgement:
        value = self.values[i]
        idx = self.samples[i]
        if len(idx) < int(p["min_history"]):
            return Judgement(value, reason=f"needs {p['min_history']} weeks of history")
        expected = self.median[i] * self.trend(i)
        # Floor the spread at 1% of the level (a flat series has MAD 0).
        sigma = max(self.sigma(i, expected), 0.01 * abs(expected), 1e-9)
        k = float(p["k"])
        low, high = expected - k * sigma, expected + k * sigma
        anomalous = _outside(value, expected, low, high, p["direction"], float(p["min_abs_change"]))
        z = (value - expected) / sigma
        reason = f"z = {z:+.1f} (|z| >= {k:g})" if anomalous else ""
        return Judgement(value, expected, low, high, anomalous, reason, tuple(idx))


WINSOR = 4.0  # residuals are clipped at this many MAD-sigmas from their median


def _winsorized_sd(xs: list[float]) -> float:
    """Standard deviation of `xs` after clipping each to median +/- WINSOR x (1.4826 MAD)."""
    centre = statistics.median(xs)
    reach = WINSOR * 1.4826 * statistics.median(abs(x - centre) for x in xs)
    # Deviations from the median, clipped (centred first, so the sums stay well conditioned).
    dev = [-reach if d < -reach else reach if d > reach else d for d in (x - centre for x in xs)]
    n = len(dev)
    mean = sum(dev) / n
    return math.sqrt(max(sum(d * d for d in dev) / n - mean * mean, 0.0))


def judge(
    values: list[float], i: int, detector: str, params: dict | None, season: int, model=None
) -> Judgement:
    """Judge period i of `values` (a complete period)."""
    p = params_with_defaults(detector, params)
    if detector == "threshold":
        return threshold(values, i, p)
    if detector == "relative":
        return relative(values, i, p, season)
    if detector == "seasonal":
        model = model or SeasonalModel(values, season, int(p["weeks"]))
        return model.judge(i, p)
    raise ValueError(f"unknown detector {detector!r}")


def judge_range(
    values: list[float], indices, detector: str, params: dict | None, season: int, valid_from: int = 0
) -> list[Judgement]:
    """Judge many periods of one series; the seasonal baseline is computed once. Seasonal
    samples before `valid_from` (before the data began) are not history."""
    p = params_with_defaults(detector, params)
    model = SeasonalModel(values, season, int(p["weeks"]), valid_from) if detector == "seasonal" else None
    return [judge(values, i, detector, params, season, model) for i in indices]


def step(state: str, anomalous: bool, in_cooldown: bool = False) -> str:
    """The next state: ok/resolved -> firing (not within the cooldown); firing -> resolved."""
    if state == "firing":
        return "firing" if anomalous else "resolved"
    if anomalous and not in_cooldown:
        return "firing"
    return state
