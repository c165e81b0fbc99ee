"""The retention builder's GET fields <-> RetentionSpec.

The page submits plain GET fields, so the URL is the builder state; a saved insight
opens the page with `?q=<spec JSON>`. Both become the JSON body that
`RetentionSpec.from_json` validates:

    target_event, returning_event, retention_type, period, total_intervals,
    date_from (a preset, or "custom" with custom_from / custom_to),
    filter_key / filter_operator / filter_value / filter_type            (global, repeated)
    target_filter_* / returning_filter_*                                   (per event, repeated)
    breakdown_type ("" | "person" | "cohort"), breakdown (person property), breakdown_cohort (repeated ids)
    show ("percent" | "count"): display only, not part of the spec
"""

from __future__ import annotations

from analytics_app.errors import BadRequest
from insights.registry import decode_q

from .spec import DEFAULT_FROM, DEFAULT_INTERVALS, CohortBreakdown, RetentionSpec

DATE_PRESETS = {
    "-14d": "Last 14 days",
    "-30d": "Last 30 days",
    "-8w": "Last 8 weeks",
    "-11w": "Last 11 weeks",
    "-12w": "Last 12 weeks",
    "-6m": "Last 6 months",
    "-11m": "Last 11 months",
}
SHOW = {"percent": "%", "count": "Counts"}
FILTER_PREFIXES = ("filter", "target_filter", "returning_filter")


def _filter_state(f) -> dict:
    value = f.value
    if isinstance(value, list | tuple):
        value = ", ".join(str(v) for v in value)
    return {
        "key": f.key,
        "operator": f.operator,
        "value": "" if value is None else str(value),
        "type": f.type,
    }


def state_from_spec(spec: RetentionSpec) -> dict:
    custom = spec.date_range.date_from not in DATE_PRESETS or bool(spec.date_range.date_to)
    breakdown = spec.breakdown
    return {
        "target_event": spec.target_event.event,
        "returning_event": spec.returning_event.event,
        "retention_type": spec.retention_type.value,
        "period": spec.period.value,
        "total_intervals": str(spec.total_intervals),
        "date_preset": "custom" if custom else spec.date_range.date_from,
        "date_from": spec.date_range.date_from,
        "date_to": spec.date_range.date_to or "",
        "filter": [_filter_state(f) for f in spec.properties],
        "target_filter": [_filter_state(f) for f in spec.target_event.properties],
        "returning_filter": [_filter_state(f) for f in spec.returning_event.properties],
        "breakdown_type": "" if breakdown is None else breakdown.type,
        "breakdown": ""
        if breakdown is None or isinstance(breakdown, CohortBreakdown)
        else breakdown.property,
        "breakdown_cohorts": [str(c) for c in breakdown.cohorts]
        if isinstance(breakdown, CohortBreakdown)
        else [],
    }


def state_from_query(query) -> dict:
    def aligned(prefix):
        names = [f"{prefix}_key", f"{prefix}_operator", f"{prefix}_value", f"{prefix}_type"]
        lists = [query.getlist(n) for n in names]
        size = max((len(values) for values in lists), default=0)
        rows = [[(values[i] if i < len(values) else "").strip() for values in lists] for i in range(size)]
        return [{"key": k, "operator": o or "exact", "value": v, "type": t or "event"} for k, o, v, t in rows]

    period = query.get("period", "week").strip() or "week"
    preset = query.get("date_from", "").strip() or DEFAULT_FROM.get(period, "-11w")
    if preset not in DATE_PRESETS and preset != "custom":
        # A range that is not a preset (a link, ?date_from=-6d): show it as a custom range.
        preset, custom_from = "custom", preset
    else:
        custom_from = query.get("custom_from", "").strip()
    custom = preset == "custom"
    target = query.get("target_event", "").strip()
    return {
        "target_event": target,
        "returning_event": query.get("returning_event", "").strip() or target,
        "retention_type": query.get("retention_type", "recurring"),
        "period": period,
        "total_intervals": query.get("total_intervals", str(DEFAULT_INTERVALS)).strip()
        or str(DEFAULT_INTERVALS),
        "date_preset": preset,
        "date_from": custom_from if custom else preset,
        "date_to": query.get("custom_to", "").strip() if custom else "",
        **{prefix: aligned(prefix) for prefix in FILTER_PREFIXES},
        "breakdown_type": query.get("breakdown_type", "").strip(),
        "breakdown": query.get("breakdown", "").strip(),
        "breakdown_cohorts": [c for c in query.getlist("breakdown_cohort") if c.strip()],
    }


def _filters(rows: list[dict]) -> list[dict]:
    out = []
    for f in rows:
        if not f["key"] and f["type"] != "cohort":
            continue  # a blank row
        raw = {"key": f["key"], "operator": f["operator"], "type": f["type"]}
        if f["type"] == "cohort":
            raw["value"] = int(f["value"]) if f["value"].isdigit() else f["value"]
            raw["operator"] = "not_in" if f["operator"] in ("not_in", "is_not") else "in"
            if not f["value"]:
                continue
        elif f["operator"] not in ("is_set", "is_not_set"):
            raw["value"] = f["value"]
        out.append(raw)
    return out


def body_from_state(state: dict) -> dict:
    errors = {}
    try:
        total = int(state["total_intervals"])
    except ValueError:
        errors["total_intervals"] = "must be a whole number"
        total = DEFAULT_INTERVALS
    body = {
        "kind": "RetentionQuery",
        "date_from": state["date_from"],
        "period": state["period"],
        "total_intervals": total,
        "retention_type": state["retention_type"],
        "target_event": {"event": state["target_event"], "properties": _filters(state["target_filter"])},
        "returning_event": {
            "event": state["returning_event"],
            "properties": _filters(state["returning_filter"]),
        },
        "properties": _filters(state["filter"]),
    }
    if state["date_to"]:
        body["date_to"] = state["date_to"]
    if state["breakdown_type"] == "person" and state["breakdown"]:
        body["breakdown"] = {"property": state["breakdown"], "type": "person", "limit": 10}
    elif state["breakdown_type"] == "cohort" and state["breakdown_cohorts"]:
        try:
            body["breakdown"] = {"type": "cohort", "cohorts": [int(c) for c in state["breakdown_cohorts"]]}
        except ValueError:
            errors["breakdown.cohorts"] = "must be cohort ids"
    if errors:
        raise BadRequest("Invalid RetentionQuery.", errors)
    return body


def parse_request(
    query, project, default_event: str = "$pageview"
) -> tuple[dict, RetentionSpec | None, BadRequest | None]:
    """(form state to render, spec or None, the error or None) from the page's GET."""
    if "q" in query:
        try:
            spec = RetentionSpec.from_json(decode_q(query.get("q", "")), project)
        except BadRequest as exc:
            return default_state(default_event), None, exc
        return state_from_spec(spec), spec, None
    if not any(k in query for k in ("target_event", "period", "date_from")):
        state = default_state(default_event)
    else:
        state = state_from_query(query)
    try:
        spec = RetentionSpec.from_json(body_from_state(state), project)
    except BadRequest as exc:
        return state, None, exc
    return state, spec, None


def default_state(event: str) -> dict:
    return {
        "target_event": event,
        "returning_event": event,
        "retention_type": "recurring",
        "period": "week",
        "total_intervals": str(DEFAULT_INTERVALS),
        "date_preset": "-11w",
        "date_from": "-11w",
        "date_to": "",
        "filter": [],
        "target_filter": [],
        "returning_filter": [],
        "breakdown_type": "",
        "breakdown": "",
        "breakdown_cohorts": [],
    }


def show_from_query(query) -> str:
    show = query.get("show", "percent")
    return show if show in SHOW else "percent"
