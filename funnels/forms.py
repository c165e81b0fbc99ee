"""The funnel builder's form: its GET fields -> the FunnelsQuery body, a FunnelSpec -> the form.

The page's form submits plain GET fields, so the URL is the builder state; a saved
insight (or "Link to this funnel") opens the page with `?q=<spec JSON>`. Both are the
one JSON body that `FunnelSpec.from_json` validates, once per request
(`parse_request`, insights/builder.py); the form is then rendered from the spec:

    step_event / step_key / step_operator / step_value / step_type / step_more   (one per step, aligned;
        step_more is a JSON list of further filters of that step, kept from a ?q= spec)
    excl_event / excl_from / excl_to (1-based: 1 = the first step) / excl_key / excl_operator / excl_value / excl_type / excl_more
    filter_key / filter_operator / filter_value / filter_type                    (global filters)
    order, window_value, window_unit, date_from (a preset, or "custom" + custom_from / custom_to),
    breakdown, breakdown_type, breakdown_attribution, breakdown_limit, aggregate_by, aggregate_property
"""

from __future__ import annotations

import json

from django.http import QueryDict

from analytics_app.errors import BadRequest
from insights import builder

from .spec import FunnelSpec

DATE_PRESETS = {
    "-24h": "Last 24 hours",
    "-7d": "Last 7 days",
    "-14d": "Last 14 days",
    "-30d": "Last 30 days",
    "-90d": "Last 90 days",
    "mStart": "This month",
    "yStart": "This year",
    "all": "All time",
}
NO_VALUE_OPERATORS = ("is_set", "is_not_set")


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


def _split_filters(filters) -> tuple[dict, str]:
    """(first filter as row fields, the rest as JSON) for a step / exclusion row."""
    first = (
        _filter_state(filters[0])
        if filters
        else {"key": "", "operator": "exact", "value": "", "type": "event"}
    )
    more = json.dumps([f.to_json() for f in filters[1:]]) if len(filters) > 1 else ""
    return first, more


def state_from_spec(spec: FunnelSpec) -> dict:
    steps = []
    for s in spec.steps:
        first, more = _split_filters(s.properties)
        steps.append({"event": s.event, **first, "more": more})
    exclusions = []
    for x in spec.exclusions:
        first, more = _split_filters(x.properties)
        exclusions.append(
            # 1-based in the form, 0-based in the spec (docs/funnels.md, "Step numbers")
            {"event": x.event, "from": str(x.from_step + 1), "to": str(x.to_step + 1), **first, "more": more}
        )
    custom = spec.date_range.date_from not in DATE_PRESETS or bool(spec.date_range.date_to)
    bd = spec.breakdown
    agg = spec.aggregate_by
    return {
        "steps": steps,
        "exclusions": exclusions,
        "filters": [_filter_state(f) for f in spec.properties],
        "order": spec.order,
        "window_value": str(spec.window.value),
        "window_unit": spec.window.unit,
        "date_preset": "custom" if custom else spec.date_range.date_from,
        "date_from": spec.date_range.date_from,
        "date_to": spec.date_range.date_to or "",
        "breakdown": bd.property if bd else "",
        "breakdown_type": bd.type if bd else "event",
        "breakdown_attribution": str(bd.attribution) if bd else "0",
        "breakdown_limit": str(bd.limit) if bd else "10",
        "breakdown_cohorts": [str(c) for c in bd.cohorts] if bd else [],
        "aggregate_by": agg.kind,
        "aggregate_property": agg.property or "",
    }


def _aligned(query, *names) -> list[list[str]]:
    lists = [query.getlist(n) for n in names]
    size = max((len(values) for values in lists), default=0)
    return [[(values[i] if i < len(values) else "").strip() for values in lists] for i in range(size)]


def _step_rows(query) -> list[dict]:
    return [
        {"event": e, "key": k, "operator": o or "exact", "value": v, "type": t or "event", "more": m}
        for e, k, o, v, t, m in _aligned(
            query, "step_event", "step_key", "step_operator", "step_value", "step_type", "step_more"
        )
    ]


def _exclusion_rows(query) -> list[dict]:
    return [
        {
            "event": e,
            "from": a,
            "to": b,
            "key": k,
            "operator": o or "exact",
            "value": v,
            "type": t or "event",
            "more": m,
        }
        for e, a, b, k, o, v, t, m in _aligned(
            query,
            "excl_event",
            "excl_from",
            "excl_to",
            "excl_key",
            "excl_operator",
            "excl_value",
            "excl_type",
            "excl_more",
        )
    ]


def _filter_rows(query) -> list[dict]:
    return [
        {"key": k, "operator": o or "exact", "value": v, "type": t or "event"}
        for k, o, v, t in _aligned(query, "filter_key", "filter_operator", "filter_value", "filter_type")
    ]


def _dates(query) -> tuple[str, str, str]:
    """(preset shown, date_from, date_to) of the date fields."""
    preset = query.get("date_from", "-30d").strip() or "-30d"
    if preset == "custom":
        return preset, query.get("custom_from", "").strip(), query.get("custom_to", "").strip()
    return preset, preset, ""


def state_from_query(query) -> dict:
    """The form as submitted (shown again when it does not make a funnel)."""
    preset, date_from, date_to = _dates(query)
    return {
        "steps": _step_rows(query),
        "exclusions": _exclusion_rows(query),
        "filters": _filter_rows(query),
        "order": query.get("order", "ordered"),
        "window_value": query.get("window_value", "14").strip() or "14",
        "window_unit": query.get("window_unit", "day"),
        "date_preset": preset,
        "date_from": date_from,
        "date_to": date_to,
        "breakdown": query.get("breakdown", "").strip(),
        "breakdown_type": query.get("breakdown_type", "event"),
        "breakdown_attribution": query.get("breakdown_attribution", "0").strip() or "0",
        "breakdown_limit": query.get("breakdown_limit", "10").strip() or "10",
        "breakdown_cohorts": [c.strip() for c in query.getlist("breakdown_cohort") if c.strip()],
        "aggregate_by": query.get("aggregate_by", "person"),
        "aggregate_property": query.get("aggregate_property", "").strip(),
    }


def _row_filters(row: dict, where: str, errors: dict) -> list:
    out = []
    if row.get("key"):
        raw = {"key": row["key"], "operator": row["operator"], "type": row["type"]}
        if row["operator"] not in NO_VALUE_OPERATORS:
            raw["value"] = row["value"]
        out.append(raw)
    if row.get("more"):
        try:
            more = json.loads(row["more"])
            if not isinstance(more, list):
                raise ValueError
            out.extend(more)
        except ValueError:
            errors[f"{where}.properties"] = "the extra filters are not a JSON list"
    return out


def _int(text: str, where: str, errors: dict, default: int) -> int:
    try:
        return int(text)
    except (TypeError, ValueError):
        errors[where] = "must be a whole number"
        return default


def body_from_query(query) -> dict:
    """The form's fields as the FunnelsQuery JSON body (BadRequest for a number field
    that is not a number)."""
    errors: dict[str, str] = {}
    steps = []
    for i, row in enumerate(_step_rows(query)):
        step = {"event": row["event"]}
        filters = _row_filters(row, f"steps[{i}]", errors)
        if filters:
            step["properties"] = filters
        steps.append(step)
    exclusions = []
    for i, row in enumerate(_exclusion_rows(query)):
        if not row["event"]:
            continue  # a blank row
        # The form numbers steps from 1 (as the badges do); the spec from 0.
        where = f"exclusions[{i}]"
        first = _int(row["from"] or "1", f"{where}.from_step", errors, 1)
        last = _int(row["to"] or str(max(len(steps), 2)), f"{where}.to_step", errors, 2)
        if (
            f"{where}.from_step" not in errors
            and f"{where}.to_step" not in errors
            and not (1 <= first < last <= max(len(steps), 2))
        ):
            errors[f"{where}.from_step"] = (
                f"exclude between step X and step Y with 1 ≤ X < Y ≤ {max(len(steps), 2)} "
                f"(steps are numbered from 1); got {first} and {last}"
            )
        item = {"event": row["event"], "from_step": first - 1, "to_step": last - 1}
        filters = _row_filters(row, f"exclusions[{i}]", errors)
        if filters:
            item["properties"] = filters
        exclusions.append(item)
    filters = []
    for f in _filter_rows(query):
        if not f["key"]:
            continue
        raw = {"key": f["key"], "operator": f["operator"], "type": f["type"]}
        if f["operator"] not in NO_VALUE_OPERATORS:
            raw["value"] = f["value"]
        filters.append(raw)
    _, date_from, date_to = _dates(query)
    body: dict = {
        "kind": "FunnelsQuery",
        "date_from": date_from,
        "steps": steps,
        "order": query.get("order", "ordered"),
        "window": {
            "value": _int(query.get("window_value", "14").strip() or "14", "window.value", errors, 14),
            "unit": query.get("window_unit", "day"),
        },
        "properties": filters,
    }
    if date_to:
        body["date_to"] = date_to
    if exclusions:
        body["exclusions"] = exclusions
    breakdown = query.get("breakdown", "").strip()
    if query.get("breakdown_type") == "cohort":  # breakdown_cohort: repeated cohort ids (or "all")
        cohorts = [c.strip() for c in query.getlist("breakdown_cohort") if c.strip()]
        if cohorts:
            body["breakdown"] = {"type": "cohort", "cohorts": cohorts}
        else:
            errors["breakdown.cohorts"] = "pick one or more cohorts to break down by"
    elif breakdown:
        attribution = query.get("breakdown_attribution", "0").strip() or "0"
        body["breakdown"] = {
            "property": breakdown,
            "type": query.get("breakdown_type", "event"),
            "attribution": int(attribution) if attribution.isdigit() else attribution,
            "limit": _int(query.get("breakdown_limit", "10").strip() or "10", "breakdown.limit", errors, 10),
        }
    aggregate_by = query.get("aggregate_by", "person")
    if aggregate_by == "property":
        body["aggregate_by"] = {"property": query.get("aggregate_property", "").strip()}
    elif aggregate_by != "person":
        body["aggregate_by"] = aggregate_by
    if errors:
        raise BadRequest("Invalid FunnelsQuery.", errors)
    return body


def default_query(events: list[str]) -> QueryDict:
    """The fields of the first visit's funnel: the two most frequent events, last 30 days."""
    first = events[0] if events else "$pageview"
    second = events[1] if len(events) > 1 else first
    query = QueryDict(mutable=True)
    query.setlist("step_event", [first, second])
    return query


def parse_request(
    query, project, default_events: list[str]
) -> tuple[dict, FunnelSpec | None, BadRequest | None]:
    """(form state, spec or None, the error or None) from the page's GET (insights/builder.py)."""
    return builder.parse_request(
        query,
        lambda body: FunnelSpec.from_json(body, project),
        body_from_query=body_from_query,
        state_from_spec=state_from_spec,
        state_from_query=state_from_query,
        default_query=default_query(default_events),
        form_fields=("step_event", "order", "date_from"),
    )
