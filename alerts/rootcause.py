"""Root cause of a firing: which value of which dimension explains the change.

For a trends rule, the metric's series is broken down (TrendsQueryRunner with a
breakdown, the insight's own SQL; one run per judged and baseline period) by each dimension of the project: $browser, $os,
$device_type, $geoip_country_code, $pathname (the $current_url path), utm_source,
$app_version, and the properties the tracking plan marks as dimensions. For each
value, its contribution to the change is `current - baseline`, where baseline is the
mean of that value over the periods the detector's expected value came from (the same
hour-of-week of the last weeks, the previous period, ...). Its share of the total change
is `delta / (value - expected)`; values are ranked by how much that share exceeds the
value's part of the baseline (a value that only moved with everything else explains
nothing, nor does the single value of a dimension); the top three are kept.

Values are stored raw (the alert page and notification texts show them through a
Presenter, masked for roles without view-PII). The ingestion-volume rule (events per
period) is sliced the same way by one small query per period; funnel and the other
project-level rules have no root cause yet (docs/alerts.md).
"""

from __future__ import annotations

import dataclasses
import json
from urllib.parse import urlencode

from django.urls import NoReverseMatch, reverse

from analytics_app import clickhouse as ch
from insights.blocks import DateRange, SQLBuilder
from insights.blocks.breakdown import OTHER_VALUE, Breakdown
from insights.blocks.filters import event_text_sql

from .metrics import Series, insight_kind, shift, trends_spec
from .models import AlertEvent, AlertRule, Metric

DEFAULT_DIMENSIONS = (
    "$browser",
    "$os",
    "$device_type",
    "$geoip_country_code",
    "$pathname",
    "utm_source",
    "$app_version",
)
TOP_VALUES = 50  # per period; a value outside a period's top 50 counts as 0 there
KEEP = 3


def dimensions(project) -> list[str]:
    from governance.models import PropertyDefinition  # noqa: PLC0415

    marked = PropertyDefinition.objects.filter(project=project, dimension=True).values_list("name", flat=True)
    return list(dict.fromkeys([*DEFAULT_DIMENSIONS, *marked]))


def rank(current: dict[str, float], baseline: dict[str, float], total_delta: float, prop: str) -> list[dict]:
    """Each value's contribution to the change, ranked by how much more of the change it
    explains than its part of the baseline (`score = share - baseline part`): a value
    that moved in proportion with everything else (or the only value of a dimension)
    explains nothing. Pure."""
    base_total = sum(v for k, v in baseline.items() if k != "")
    rows = []
    for value in set(current) | set(baseline):
        if value in ("", OTHER_VALUE):
            continue
        cur, base = current.get(value, 0.0), baseline.get(value, 0.0)
        delta = cur - base
        share = delta / total_delta if total_delta else 0.0
        score = share - (base / base_total if base_total else 0.0)
        if share <= 0 or score <= 0:
            continue
        rows.append(
            {"property": prop, "value": value, "current": cur, "baseline": base, "delta": delta, "share": share,
             "score": score}
        )  # fmt: skip
    rows.sort(key=lambda r: (-r["score"], r["property"], r["value"]))
    return rows


def _events_by_value(project, prop: str, start, end) -> dict[str, float]:
    """Events per value of an event property in [start, end) (the ingestion-volume rule)."""
    b = SQLBuilder(project.id)
    text, _ = event_text_sql(b, prop)
    lo, hi = b.bind(start, "DateTime64(6, 'UTC')"), b.bind(end, "DateTime64(6, 'UTC')")
    sql = (
        f"SELECT {text} AS v, count() AS n FROM events "  # noqa: S608 - the property is bound by event_text_sql
        f"WHERE project_id = {{project_id:UInt32}} AND timestamp >= {lo} AND timestamp < {hi} "
        f"GROUP BY v ORDER BY n DESC LIMIT {TOP_VALUES}"
    )
    return {v: float(n) for v, n in ch.query(sql, b.params).rows}


def root_cause(
    rule: AlertRule, event: AlertEvent, series: Series, baseline: tuple[int, ...] = ()
) -> list[dict]:
    kind = insight_kind(rule)
    if (kind != "TrendsQuery" and rule.metric != Metric.EVENTS) or event.value is None:
        return []
    import trends  # noqa: PLC0415

    tz = rule.project.tz
    try:
        i = series.starts.index(event.period_start.astimezone(tz))
    except ValueError:
        return []
    base_idx = [b for b in baseline if 0 <= b < i] or ([i - 1] if i > 0 else [])
    if not base_idx:
        return []
    expected_total = event.expected if event.expected is not None else sum(series.values[b] for b in base_idx)
    total_delta = event.value - expected_total
    periods = [i, *base_idx]
    full = (
        trends_spec(rule, series.starts[i], shift(series.starts[i], rule.interval, 1, tz)) if kind else None
    )
    one = (full.series[rule.series_index],) if kind else ()
    rows: list[dict] = []
    for prop in dimensions(rule.project):
        # One run per period (the current one and each baseline one): each reads one hour
        # (or day) of events, far less than one run over the weeks between them.
        per_period = []
        for j in periods:
            start, end = series.starts[j], shift(series.starts[j], rule.interval, 1, tz)
            if not kind:
                per_period.append(_events_by_value(rule.project, prop, start, end))
                continue
            spec = dataclasses.replace(
                full,
                series=one,
                breakdown=Breakdown(prop, "event", TOP_VALUES),
                date_range=DateRange(start.isoformat(), end.isoformat()),
            )
            result = trends.run(rule.project, spec, now=end)
            per_period.append({r.breakdown_value: float(sum(v or 0 for v in r.data)) for r in result.series})
        if all(set(p) <= {"", OTHER_VALUE} for p in per_period):
            continue  # the dimension is not present in this metric's events
        current = per_period[0]
        values = set().union(*per_period)
        base = {v: sum(p.get(v, 0.0) for p in per_period[1:]) / len(base_idx) for v in values}
        rows.extend(rank(current, base, total_delta, prop))
    rows.sort(key=lambda r: (-r["score"], r["property"], r["value"]))
    return rows[:KEEP]


def filtered_insight_url(rule: AlertRule, row: dict) -> str:
    """The insight's builder filtered to the row's value ("" without an insight builder)."""
    if rule.insight is None or rule.insight.kind_def is None:
        return ""
    spec = dict(rule.insight.spec)
    spec["properties"] = [
        *spec.get("properties", []),
        {"key": row["property"], "operator": "exact", "value": row["value"], "type": "event"},
    ]
    try:
        base = reverse(rule.insight.kind_def.builder_url_name, kwargs={"project_id": rule.project_id})
    except NoReverseMatch:
        return ""
    return f"{base}?{urlencode({'q': json.dumps(spec, sort_keys=True, separators=(',', ':'))})}"
