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


def _periods(rule: AlertRule, event: AlertEvent, series: Series, baseline) -> tuple[int, list[int]] | None:
    """(index of the judged period, indices of its baseline periods) in `series`, or None."""
    try:
        i = series.starts.index(event.period_start.astimezone(rule.project.tz))
    except ValueError:
        return None
    base_idx = [b for b in baseline if 0 <= b < i] or ([i - 1] if i > 0 else [])
    return (i, base_idx) if base_idx else None


def root_cause(
    rule: AlertRule, event: AlertEvent, series: Series, baseline: tuple[int, ...] = ()
) -> list[dict]:
    """The top values explaining the firing `event` ([] when the rule's metric has none)."""
    if event.value is None:
        return []
    kind = insight_kind(rule)
    found = _periods(rule, event, series, baseline)
    if found is None:
        return []
    i, base_idx = found
    if kind == "FunnelsQuery":
        return funnel_root_cause(rule, series, i, base_idx)
    if rule.metric in (Metric.WARNINGS, Metric.RECORDINGS):
        return project_root_cause(rule, event, series, i, base_idx)
    if kind != "TrendsQuery" and rule.metric != Metric.EVENTS:
        return []  # freshness: a time since the last event has no slices
    import trends  # noqa: PLC0415

    tz = rule.project.tz
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


# ------------------------------------------------------------------ funnels
def rank_ratio(
    current: dict[str, tuple[float, float]], baseline: dict[str, tuple[float, float]], prop: str
) -> list[dict]:
    """Each value's contribution to a conversion change, ranked like `rank`. Pure.

    `current` and `baseline` map a value to (entrants, converted). With N the entrants, w_v
    = n_v / N a value's share of them, r_v its conversion and R0 the baseline's overall
    conversion, the change R1 - R0 splits exactly into, per value,

        contribution_v = w1_v (r1_v - r0_v)  +  (w1_v - w0_v) (r0_v - R0)
                         rate effect            mix effect

    (= c1_v / N1 - c0_v / N0 - (w1_v - w0_v) R0, which needs no r0 for a new value). The
    mix effect is centred on R0: more entrants of a value that converts like everyone does
    change nothing. share = contribution / (R1 - R0); score = share - the value's part of
    the baseline's conversions (c0_v / C0), so when every value's conversion moves by the
    same factor each explains nothing, as in `rank` (and so does a dimension's only value).
    Blank ("") and Other count in the totals but are not ranked."""
    n1 = sum(n for n, _ in current.values())
    n0 = sum(n for n, _ in baseline.values())
    c1 = sum(c for _, c in current.values())
    c0 = sum(c for _, c in baseline.values())
    if not n1 or not n0:
        return []
    r_now, r_base = c1 / n1, c0 / n0
    total = r_now - r_base
    if not total:
        return []
    rows = []
    for value in set(current) | set(baseline):
        if value in ("", OTHER_VALUE):
            continue
        vn1, vc1 = current.get(value, (0.0, 0.0))
        vn0, vc0 = baseline.get(value, (0.0, 0.0))
        contribution = vc1 / n1 - vc0 / n0 - (vn1 / n1 - vn0 / n0) * r_base
        share = contribution / total
        score = share - (vc0 / c0 if c0 else vn0 / n0)
        if share <= 0 or score <= 0:
            continue
        rows.append(
            {"property": prop, "value": value, "current": vc1 / vn1 if vn1 else 0.0,
             "baseline": vc0 / vn0 if vn0 else r_base, "entered": vn1, "baseline_entered": vn0,
             "delta": contribution, "share": share, "score": score, "unit": "rate"}
        )  # fmt: skip
    rows.sort(key=lambda r: (-r["score"], r["property"], r["value"]))
    return rows


def _funnel_by_value(rule: AlertRule, spec, prop: str, start, end) -> dict[str, tuple[float, float]]:
    """(entrants, converted) per value of `prop` for the actors entering in [start, end):
    FunnelQueryRunner with a breakdown (the funnel's own SQL), on the funnel truncated as
    the rule's metric is (alerts.metrics)."""
    import funnels  # noqa: PLC0415

    k = rule.funnel_step
    run_spec = dataclasses.replace(
        funnels.with_breakdown(spec, prop, TOP_VALUES),
        conversion_times=False,
        date_range=DateRange(start.isoformat(), end.isoformat()),
    )
    out = {}
    for r in funnels.run(rule.project, run_spec).results:
        counts = [s.count for s in r.steps]
        entered = counts[0] if k is None else counts[k - 1]
        out[r.value or ""] = (float(entered), float(counts[-1]))
    return out


def funnel_root_cause(rule: AlertRule, series: Series, i: int, base_idx: list[int]) -> list[dict]:
    """A funnel rule's conversion (overall or one step's) by each dimension: (entrants,
    converted) per value for the judged day and for the baseline days pooled, ranked by
    `rank_ratio`."""
    from .metrics import _funnel_spec, _truncated  # noqa: PLC0415

    tz = rule.project.tz
    spec = _funnel_spec(rule)
    k = rule.funnel_step
    spec = _truncated(spec, len(spec.steps) if k is None else k + 1)
    rows: list[dict] = []
    for prop in dimensions(rule.project):
        per_period = [
            _funnel_by_value(
                rule, spec, prop, series.starts[j], shift(series.starts[j], rule.interval, 1, tz)
            )
            for j in [i, *base_idx]
        ]
        if all(set(p) <= {"", OTHER_VALUE} for p in per_period):
            continue  # the dimension is not present in the funnel's events
        pooled: dict[str, tuple[float, float]] = {}
        for p in per_period[1:]:
            for value, (n, c) in p.items():
                pn, pc = pooled.get(value, (0.0, 0.0))
                pooled[value] = (pn + n, pc + c)
        rows.extend(rank_ratio(per_period[0], pooled, prop))
    rows.sort(key=lambda r: (-r["score"], r["property"], r["value"]))
    return rows[:KEEP]


# ------------------------------------------------------------------ ingestion warnings, recordings
# metric -> {shown property: the head of its query}; an allow-list, never built from input.
PROJECT_SLICES = {
    Metric.WARNINGS: {
        "warning type": "SELECT type AS v, count() AS n FROM ingestion_warnings",
        "event name": "SELECT event AS v, count() AS n FROM ingestion_warnings",
    },
    Metric.RECORDINGS: {
        # A recording's latest summary row (ReplacingMergeTree) says its browser / OS.
        prop: (
            f"SELECT v, count() AS n FROM (SELECT session_id, argMax({column}, version) AS v "  # noqa: S608
            "FROM session_replay_summaries"
        )
        for prop, column in (("$browser", "browser"), ("$os", "os"), ("$device_type", "device_type"))
    },
}
PROJECT_SLICE_TIME = {Metric.WARNINGS: "timestamp", Metric.RECORDINGS: "start_time"}


def _project_by_value(rule: AlertRule, prop: str, start, end) -> dict[str, float]:
    head = PROJECT_SLICES[Metric(rule.metric)][prop]
    column = PROJECT_SLICE_TIME[Metric(rule.metric)]
    where = (
        f" WHERE project_id = {{project_id:UInt32}} AND {column} >= {{start:DateTime64(6, 'UTC')}}"
        f" AND {column} < {{end:DateTime64(6, 'UTC')}}"
    )
    if rule.metric == Metric.RECORDINGS:
        sql = f"{head}{where} GROUP BY session_id) GROUP BY v ORDER BY n DESC LIMIT {TOP_VALUES}"
    else:
        sql = f"{head}{where} GROUP BY v ORDER BY n DESC LIMIT {TOP_VALUES}"
    params = {"project_id": rule.project_id, "start": start, "end": end}
    return {v: float(n) for v, n in ch.query(sql, params).rows}


def project_root_cause(
    rule: AlertRule, event: AlertEvent, series: Series, i: int, base_idx: list[int]
) -> list[dict]:
    """Ingestion warnings by warning type and event name; recordings by browser, OS and
    device type (from the recordings' summaries). Ranked by `rank`, as trends rules are."""
    tz = rule.project.tz
    expected_total = event.expected if event.expected is not None else series.values[base_idx[0]]
    total_delta = event.value - expected_total
    rows: list[dict] = []
    for prop in PROJECT_SLICES[Metric(rule.metric)]:
        per_period = [
            _project_by_value(rule, prop, series.starts[j], shift(series.starts[j], rule.interval, 1, tz))
            for j in [i, *base_idx]
        ]
        if all(set(p) <= {""} for p in per_period):
            continue
        values = set().union(*per_period)
        base = {v: sum(p.get(v, 0.0) for p in per_period[1:]) / len(base_idx) for v in values}
        rows.extend(rank(per_period[0], base, total_delta, prop))
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
