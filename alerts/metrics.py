"""The metric series a rule watches, one value per period, fetched through the insight
runners (no second copy of their SQL) or, for the project-level ingestion metrics, one
small query bound to the project.

- trends insight: TrendsQueryRunner on the saved spec with the rule's interval, no
  breakdown and no comparison (so the series' total), series `series_index`;
- funnel insight (daily): FunnelTrendsRunner (conversion by entry day). Overall
  conversion, or step k's conversion from step k-1 as the ratio of the funnels
  truncated after step k and after step k-1. A day is complete once the funnel's
  conversion window has passed after it;
- events / warnings / recordings per period, and freshness (minutes from the last
  event to the end of the period).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from dataclasses import dataclass

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from insights.blocks import DateRange, Interval
from insights.blocks.dates import bucket_sql, floor_to_interval, interval_starts

from .models import AlertRule, Metric

SEASON = {"hour": 168, "day": 7}
STEP = {"hour": dt.timedelta(hours=1), "day": dt.timedelta(days=1)}


@dataclass(frozen=True)
class Series:
    starts: list[dt.datetime]
    values: list[float]
    label: str = ""


def shift(moment: dt.datetime, interval: str, n: int, tz) -> dt.datetime:
    """`moment` (a period start) moved by n periods (calendar days in the project's zone)."""
    if interval == "hour":
        return (moment.astimezone(dt.UTC) + dt.timedelta(hours=n)).astimezone(tz)
    local = moment.astimezone(tz)
    return floor_to_interval(
        dt.datetime.combine(local.date() + dt.timedelta(days=n), dt.time(12), tzinfo=tz), Interval.DAY, tz
    )


def insight_kind(rule: AlertRule) -> str | None:
    return rule.insight.kind if rule.metric == Metric.INSIGHT and rule.insight_id else None


def complete_end(rule: AlertRule, now: dt.datetime) -> dt.datetime:
    """The end of the last complete period (exclusive): the start of the current one; for a
    funnel, the start of the day in which the conversion window after the judged day ends."""
    tz = rule.project.tz
    if insight_kind(rule) == "FunnelsQuery":
        window = _funnel_spec(rule).window.seconds
        return floor_to_interval(now - dt.timedelta(seconds=window), Interval.DAY, tz)
    return floor_to_interval(now, Interval(rule.interval), tz)


def fetch(rule: AlertRule, start: dt.datetime, end: dt.datetime) -> Series:
    """The rule's metric for each period in [start, end) (period starts, project zone)."""
    kind = insight_kind(rule)
    if kind == "TrendsQuery":
        return _trends(rule, start, end)
    if kind == "FunnelsQuery":
        return _funnel(rule, start, end)
    if rule.metric == Metric.INSIGHT:
        raise BadRequest("This rule's insight is not a trends or funnel insight.")
    return _project_metric(rule, start, end)


# ------------------------------------------------------------------ trends
def trends_spec(rule: AlertRule, start: dt.datetime, end: dt.datetime, **changes):
    import trends  # noqa: PLC0415

    spec = trends.spec_from_json(rule.insight.spec, rule.project)
    return dataclasses.replace(
        spec,
        interval=Interval(rule.interval),
        breakdown=None,
        compare=False,
        date_range=DateRange(start.isoformat(), end.isoformat()),
        **changes,
    )


def _trends(rule: AlertRule, start, end) -> Series:
    import trends  # noqa: PLC0415

    spec = trends_spec(rule, start, end)
    if rule.series_index >= len(spec.series):
        raise BadRequest(f"The insight has no series #{rule.series_index + 1}.")
    result = trends.run(rule.project, spec, now=end)
    s = next(r for r in result.series if r.series_index == rule.series_index)
    return Series(list(s.dates), [float(v or 0) for v in s.data], s.series_label)


# ------------------------------------------------------------------ funnels
def _funnel_spec(rule: AlertRule):
    import funnels  # noqa: PLC0415

    return funnels.spec_from_json(rule.insight.spec, rule.project)


def _truncated(spec, n_steps: int):
    return dataclasses.replace(
        spec,
        steps=spec.steps[:n_steps],
        exclusions=tuple(e for e in spec.exclusions if e.to_step < n_steps),
        breakdown=None,
    )


def _funnel(rule: AlertRule, start, end) -> Series:
    import funnels  # noqa: PLC0415

    spec = dataclasses.replace(_funnel_spec(rule), date_range=DateRange(start.isoformat(), end.isoformat()))
    k = rule.funnel_step
    if k is not None and not 1 <= k < len(spec.steps):
        raise BadRequest(f"The funnel has no step {k + 1}.")
    if k is None:
        points = funnels.conversion_by_day(rule.project, _truncated(spec, len(spec.steps)))
        return Series([p.day for p in points], [p.rate for p in points], "Overall conversion")
    upper = funnels.conversion_by_day(rule.project, _truncated(spec, k + 1))
    if k == 1:
        pairs = [(p.converted, p.entered) for p in upper]
    else:
        lower = funnels.conversion_by_day(rule.project, _truncated(spec, k))
        pairs = [(a.converted, b.converted) for a, b in zip(upper, lower, strict=True)]
    values = [num / den if den else 0.0 for num, den in pairs]
    return Series([p.day for p in upper], values, f"Conversion to step {k + 1} ({spec.steps[k].event})")


# ------------------------------------------------------------------ project-level metrics
# metric -> (table, time column, aggregate); an allow-list, never built from input.
PROJECT_METRICS = {
    Metric.EVENTS: ("events", "timestamp", "count()"),
    Metric.WARNINGS: ("ingestion_warnings", "timestamp", "count()"),
    Metric.RECORDINGS: ("session_replay_summaries", "start_time", "uniqExact(session_id)"),
    Metric.FRESHNESS: ("events", "timestamp", "max(toUnixTimestamp64Micro(timestamp))"),
}
FRESHNESS_LOOKBACK = dt.timedelta(days=7)


def _project_metric(rule: AlertRule, start, end) -> Series:
    project, interval = rule.project, Interval(rule.interval)
    table, column, aggregate = PROJECT_METRICS[Metric(rule.metric)]
    tz = project.tz
    starts = interval_starts(start, end, interval, tz)
    lookback = FRESHNESS_LOOKBACK if rule.metric == Metric.FRESHNESS else dt.timedelta(0)
    bucket = bucket_sql(interval, column, "{tz:String}")
    # Identifiers and the aggregate come from PROJECT_METRICS (allow-list); values are bound.
    sql = (
        f"SELECT toUnixTimestamp({bucket}) AS bucket, {aggregate} FROM {table} "  # noqa: S608 - allow-listed
        f"WHERE project_id = {{project_id:UInt32}} AND {column} >= {{start:DateTime64(6, 'UTC')}} "
        f"AND {column} < {{end:DateTime64(6, 'UTC')}} GROUP BY bucket"
    )
    rows = ch.query(
        sql,
        {"project_id": project.id, "tz": project.time_zone, "start": start - lookback, "end": end},
    ).rows
    found = {dt.datetime.fromtimestamp(b, dt.UTC).astimezone(tz): v for b, v in rows}
    if rule.metric != Metric.FRESHNESS:
        return Series(starts, [float(found.get(s, 0)) for s in starts], Metric(rule.metric).label)
    # Minutes from the last event at or before each period's end to that end.
    latest = max((v for b, v in found.items() if b < starts[0]), default=None) if starts else None
    values = []
    for s in starts:
        if s in found:
            latest = max(latest or 0, found[s])
        period_end = shift(s, rule.interval, 1, tz)
        since = (start - lookback) if latest is None else dt.datetime.fromtimestamp(latest / 1e6, dt.UTC)
        values.append(round((period_end - since).total_seconds() / 60, 1))
    return Series(starts, values, Metric(rule.metric).label)
