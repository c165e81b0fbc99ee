"""The retention builder's form: its GET fields -> the RetentionQuery body, a RetentionSpec -> the form.

The page submits plain GET fields, so the URL is the builder state; a saved insight
opens the page with `?q=<spec JSON>`. Both are the JSON body that
`RetentionSpec.from_json` validates, once per request (`parse_request`,
insights/builder.py); the form is then rendered from the spec:

    target_event, returning_event, retention_type, period, total_intervals,
    date_from (a preset, or "custom" with custom_from / custom_to),
    filter_key / filter_operator / filter_value / filter_type            (global, repeated)
    target_filter_* / returning_filter_*                                   (per event, repeated)
    breakdown_type ("" | "person" | "cohort"), breakdown (person property), breakdown_cohort (repeated ids)
    show ("percent" | "count"): display only, not part of the spec
"""

from __future__ import annotations

from django.http import QueryDict

from analytics_app.errors import BadRequest
from insights import builder

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


def _filter_rows(query, prefix: str) -> list[dict]:
    names = [f"{prefix}_key", f"{prefix}_operator", f"{prefix}_value", f"{prefix}_type"]
    lists = [query.getlist(n) for n in names]
    size = max((len(values) for values in lists), default=0)
    rows = [[(values[i] if i < len(values) else "").strip() for values in lists] for i in range(size)]
    return [{"key": k, "operator": o or "exact", "value": v, "type": t or "event"} for k, o, v, t in rows]


def _dates(query) -> tuple[str, str, str, str]:
    """(period, preset shown, date_from, date_to) of the period and date fields."""
    period = query.get("period", "week").strip() or "week"
    preset = query.get("date_from", "").strip() or DEFAULT_FROM.get(period, "-11w")
    if preset not in DATE_PRESETS and preset != "custom":
        # A range that is not a preset (a link, ?date_from=-6d): show it as a custom range.
        return period, "custom", preset, query.get("custom_to", "").strip()
    if preset == "custom":
        return period, preset, query.get("custom_from", "").strip(), query.get("custom_to", "").strip()
    return period, preset, preset, ""


def _events(query) -> tuple[str, str]:
    target = query.get("target_event", "").strip()
    return target, query.get("returning_event", "").strip() or target


def state_from_query(query) -> dict:
    """The form as submitted (shown again when it does not make a retention query)."""
    period, preset, date_from, date_to = _dates(query)
    target, returning = _events(query)
    return {
        "target_event": target,
        "returning_event": returning,
        "retention_type": query.get("retention_type", "recurring"),
        "period": period,
        "total_intervals": query.get("total_intervals", str(DEFAULT_INTERVALS)).strip()
        or str(DEFAULT_INTERVALS),
        "date_preset": preset,
        "date_from": date_from,
        "date_to": date_to,
        **{prefix: _filter_rows(query, prefix) for prefix in FILTER_PREFIXES},
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


def body_from_query(query) -> dict:
    """The form's fields as the RetentionQuery JSON body (BadRequest for a number field
    that is not a number)."""
    errors = {}
    raw_total = query.get("total_intervals", str(DEFAULT_INTERVALS)).strip() or str(DEFAULT_INTERVALS)
    try:
        total = int(raw_total)
    except ValueError:
        errors["total_intervals"] = "must be a whole number"
        total = DEFAULT_INTERVALS
    period, _, date_from, date_to = _dates(query)
    target, returning = _events(query)
    body = {
        "kind": "RetentionQuery",
        "date_from": date_from,
        "period": period,
        "total_intervals": total,
        "retention_type": query.get("retention_type", "recurring"),
        "target_event": {"event": target, "properties": _filters(_filter_rows(query, "target_filter"))},
        "returning_event": {
            "event": returning,
            "properties": _filters(_filter_rows(query, "returning_filter")),
        },
        "properties": _filters(_filter_rows(query, "filter")),
    }
    if date_to:
        body["date_to"] = date_to
    breakdown_type = query.get("breakdown_type", "").strip()
    breakdown = query.get("breakdown", "").strip()
    cohorts = [c for c in query.getlist("breakdown_cohort") if c.strip()]
    if breakdown_type == "person" and breakdown:
        body["breakdown"] = {"property": breakdown, "type": "person", "limit": 10}
    elif breakdown_type == "cohort" and cohorts:
        try:
            body["breakdown"] = {"type": "cohort", "cohorts": [int(c) for c in cohorts]}
        except ValueError:
            errors["breakdown.cohorts"] = "must be cohort ids"
    if errors:
        raise BadRequest("Invalid RetentionQuery.", errors)
    return body


def default_query(event: str) -> QueryDict:
    """The fields of the first visit's matrix: weekly recurring retention of one event."""
    query = QueryDict(mutable=True)
    query["target_event"] = event
    return query


def parse_request(
    query, project, default_event: str = "$pageview"
) -> tuple[dict, RetentionSpec | None, BadRequest | None]:
    """(form state, spec or None, the error or None) from the page's GET (insights/builder.py)."""
    return builder.parse_request(
        query,
        lambda body: RetentionSpec.from_json(body, project),
        body_from_query=body_from_query,
        state_from_spec=state_from_spec,
        state_from_query=state_from_query,
        default_query=default_query(default_event),
        form_fields=("target_event", "period", "date_from"),
    )


def show_from_query(query) -> str:
    show = query.get("show", "percent")
    return show if show in SHOW else "percent"
