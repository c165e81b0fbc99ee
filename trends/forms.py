"""The trends builder's GET fields <-> TrendsSpec.

The page's form submits plain GET fields (so the URL is the builder state and a
link reopens the same chart); a saved insight opens the page with `?q=<spec JSON>`.
Both become the one JSON body that `TrendsSpec.from_json` validates:

    series_event / series_math / series_math_property / series_name   (repeated, aligned)
    filter_scope ("all" or a series number) / filter_key / filter_operator / filter_value / filter_type
    date_from (a preset, or "custom" with custom_from / custom_to), interval, display, compare,
    breakdown, breakdown_type (event | person | cohort), breakdown_limit, breakdown_cohort (repeated:
    cohort ids or "all", with breakdown_type=cohort),
    formula (over the series letters A, B, ...), show_series, window (moving average), number
"""

from __future__ import annotations

from analytics_app.errors import BadRequest
from insights.registry import decode_q

from .spec import DEFAULT_WINDOW, TrendsSpec

DATE_PRESETS = {
    "-24h": "Last 24 hours",
    "-7d": "Last 7 days",
    "-30d": "Last 30 days",
    "-90d": "Last 90 days",
    "mStart": "This month",
    "yStart": "This year",
    "all": "All time",
}


def state_from_spec(spec: TrendsSpec) -> dict:
    filters = [{"scope": "all", **_filter_state(f)} for f in spec.properties]
    for i, s in enumerate(spec.series):
        filters += [{"scope": str(i + 1), **_filter_state(f)} for f in s.properties]
    custom = spec.date_range.date_from not in DATE_PRESETS or bool(spec.date_range.date_to)
    return {
        "series": [
            {"event": s.event, "math": s.math, "math_property": s.math_property or "", "name": s.name or ""}
            for s in spec.series
        ],
        "filters": filters,
        "date_preset": "custom" if custom else spec.date_range.date_from,
        "date_from": spec.date_range.date_from,
        "date_to": spec.date_range.date_to or "",
        "interval": spec.interval.value,
        "display": spec.display,
        "compare": spec.compare,
        "breakdown": spec.breakdown.property if spec.breakdown else "",
        "breakdown_type": spec.breakdown.type if spec.breakdown else "event",
        "breakdown_limit": str(spec.breakdown.limit) if spec.breakdown else "10",
        "breakdown_cohorts": [str(c) for c in spec.breakdown.cohorts] if spec.breakdown else [],
        "formula": spec.formula or "",
        "show_series": spec.show_series,
        "window": str(spec.window),
        "number": spec.number,
    }


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


def state_from_query(query) -> dict:
    def aligned(*names):
        lists = [query.getlist(n) for n in names]
        size = max((len(values) for values in lists), default=0)
        return [[(values[i] if i < len(values) else "").strip() for values in lists] for i in range(size)]

    series = [
        {"event": e, "math": m or "total", "math_property": p, "name": n}
        for e, m, p, n in aligned("series_event", "series_math", "series_math_property", "series_name")
    ]
    filters = [
        {"scope": s or "all", "key": k, "operator": o or "exact", "value": v, "type": t or "event"}
        for s, k, o, v, t in aligned(
            "filter_scope", "filter_key", "filter_operator", "filter_value", "filter_type"
        )
    ]
    preset = query.get("date_from", "-7d").strip() or "-7d"
    custom = preset == "custom"
    return {
        "series": series,
        "filters": filters,
        "date_preset": preset,
        "date_from": query.get("custom_from", "").strip() if custom else preset,
        "date_to": query.get("custom_to", "").strip() if custom else "",
        "interval": query.get("interval", "day"),
        "display": query.get("display", "line"),
        "compare": query.get("compare", "") in ("on", "true", "1"),
        "breakdown": query.get("breakdown", "").strip(),
        "breakdown_type": query.get("breakdown_type", "event"),
        "breakdown_limit": query.get("breakdown_limit", "10").strip() or "10",
        "breakdown_cohorts": [c.strip() for c in query.getlist("breakdown_cohort") if c.strip()],
        "formula": query.get("formula", "").strip(),
        "show_series": query.get("show_series", "") in ("on", "true", "1"),
        "window": query.get("window", "").strip() or str(DEFAULT_WINDOW),
        "number": query.get("number", "total"),
    }


def body_from_state(state: dict) -> dict:
    series = []
    for s in state["series"]:
        item = {"event": s["event"], "math": s["math"]}
        if s["math_property"]:
            item["math_property"] = s["math_property"]
        if s["name"]:
            item["name"] = s["name"]
        series.append(item)
    global_filters = []
    errors = {}
    for i, f in enumerate(state["filters"]):
        if not f["key"]:
            continue  # a blank row
        raw = {"key": f["key"], "operator": f["operator"], "type": f["type"]}
        if f["operator"] not in ("is_set", "is_not_set"):
            raw["value"] = f["value"]
        if f["scope"] == "all":
            global_filters.append(raw)
        elif f["scope"].isdigit() and 1 <= int(f["scope"]) <= len(series):
            series[int(f["scope"]) - 1].setdefault("properties", []).append(raw)
        else:
            errors[f"filters[{i}].scope"] = "applies to all series or to one series that exists"
    body = {
        "kind": "TrendsQuery",
        "date_from": state["date_from"],
        "interval": state["interval"],
        "display": state["display"],
        "compare": state["compare"],
        "series": series,
        "properties": global_filters,
    }
    if state["date_to"]:
        body["date_to"] = state["date_to"]
    if state.get("formula"):
        body["formula"] = state["formula"]
        body["show_series"] = bool(state.get("show_series"))
    if state.get("window", str(DEFAULT_WINDOW)) != str(DEFAULT_WINDOW):
        try:
            body["window"] = int(state["window"])
        except ValueError:
            errors["window"] = "must be a whole number"
    if state.get("number", "total") != "total":
        body["number"] = state["number"]
    if state["breakdown_type"] == "cohort":
        if state.get("breakdown_cohorts"):
            body["breakdown"] = {"type": "cohort", "cohorts": list(state["breakdown_cohorts"])}
        else:
            errors["breakdown.cohorts"] = "pick one or more cohorts to break down by"
    elif state["breakdown"]:
        try:
            limit = int(state["breakdown_limit"])
        except ValueError:
            errors["breakdown.limit"] = "must be a whole number"
            limit = 10
        body["breakdown"] = {"property": state["breakdown"], "type": state["breakdown_type"], "limit": limit}
    if errors:
        raise BadRequest("Invalid TrendsQuery.", errors)
    return body


def parse_request(
    query, project, default_event: str = "$pageview"
) -> tuple[dict, TrendsSpec | None, BadRequest | None]:
    """(form state to render, spec or None, the error or None) from the page's GET."""
    if "q" in query:
        try:
            spec = TrendsSpec.from_json(decode_q(query.get("q", "")), project)
        except BadRequest as exc:
            return default_state(default_event), None, exc
        return state_from_spec(spec), spec, None
    if not any(k in query for k in ("series_event", "interval", "date_from")):
        state = default_state(default_event)
    else:
        state = state_from_query(query)
    try:
        spec = TrendsSpec.from_json(body_from_state(state), project)
    except BadRequest as exc:
        return state, None, exc
    return state, spec, None


def default_state(event: str) -> dict:
    return {
        "series": [{"event": event, "math": "total", "math_property": "", "name": ""}],
        "filters": [],
        "date_preset": "-7d",
        "date_from": "-7d",
        "date_to": "",
        "interval": "day",
        "display": "line",
        "compare": False,
        "breakdown": "",
        "breakdown_type": "event",
        "breakdown_limit": "10",
        "breakdown_cohorts": [],
        "formula": "",
        "show_series": False,
        "window": str(DEFAULT_WINDOW),
        "number": "total",
    }
