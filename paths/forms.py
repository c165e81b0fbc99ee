"""The paths builder's form: its GET fields -> the PathsQuery body, a PathsSpec -> the form
(and the cleaning-rule editor form).

The page's form submits plain GET fields, so the URL is the builder state and a
link reopens the same chart; a saved insight opens the page with `?q=<spec JSON>`.
Both are the JSON body `PathsSpec.from_json` validates, once per request
(`parse_request`, insights/builder.py); the form is then rendered from the spec:

    date_from (preset or "custom" + custom_from / custom_to), event_type (repeated:
    $pageview / $screen / custom_event), event_names (comma separated), point_type
    (start / end), point, step_limit, rule_regex / rule_alias (repeated, aligned),
    groupings / exclude (one per line), min_edge_weight, edge_limit,
    filter_key / filter_operator / filter_value / filter_type (repeated, aligned)
"""

from __future__ import annotations

from django import forms

from analytics_app.errors import BadRequest
from insights import builder

from .spec import CUSTOM, DEFAULT_EDGE_LIMIT, DEFAULT_STEPS, PAGEVIEW, SCREEN, PathsSpec, regex_problem

DATE_PRESETS = {
    "-24h": "Last 24 hours",
    "-7d": "Last 7 days",
    "-30d": "Last 30 days",
    "-90d": "Last 90 days",
    "mStart": "This month",
    "all": "All time",
}
BUILTIN_TYPES = (PAGEVIEW, SCREEN, CUSTOM)


def _lines(text: str) -> list[str]:
    return [line.strip() for line in text.replace(",", "\n").splitlines() if line.strip()]


def state_from_spec(spec: PathsSpec) -> dict:
    custom = spec.date_range.date_from not in DATE_PRESETS or bool(spec.date_range.date_to)
    return {
        "date_preset": "custom" if custom else spec.date_range.date_from,
        "date_from": spec.date_range.date_from,
        "date_to": spec.date_range.date_to or "",
        "event_types": [t for t in spec.include_event_types if t in BUILTIN_TYPES],
        "event_names": ", ".join(t for t in spec.include_event_types if t not in BUILTIN_TYPES),
        "point_type": "end" if spec.end_point else "start",
        "point": spec.end_point or spec.start_point or "",
        "step_limit": str(spec.step_limit),
        "rules": [{"regex": r.regex, "alias": r.alias} for r in spec.path_cleaning],
        "groupings": "\n".join(spec.path_groupings),
        "exclude": "\n".join(spec.exclude),
        "min_edge_weight": str(spec.min_edge_weight),
        "edge_limit": str(spec.edge_limit),
        "filters": [
            {"key": f.key, "operator": f.operator, "value": _value_text(f.value), "type": f.type}
            for f in spec.properties
        ],
    }


def _value_text(value) -> str:
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    return "" if value is None else str(value)


def _aligned(query, *names) -> list[list[str]]:
    lists = [query.getlist(n) for n in names]
    size = max((len(v) for v in lists), default=0)
    return [[(v[i] if i < len(v) else "").strip() for v in lists] for i in range(size)]


def _dates(query) -> tuple[str, str, str]:
    """(preset shown, date_from, date_to) of the date fields."""
    preset = query.get("date_from", "-7d").strip() or "-7d"
    if preset == "custom":
        return preset, query.get("custom_from", "").strip(), query.get("custom_to", "").strip()
    return preset, preset, ""


def _event_types(query) -> tuple[list[str], str]:
    """(built-in event types checked, the other event names as typed): page views if neither."""
    types = [t for t in query.getlist("event_type") if t]
    names = query.get("event_names", "").strip()
    return (types if (types or names) else [PAGEVIEW]), names


def rules_from_query(query) -> list[dict]:
    """The query's own cleaning rules (rule_regex / rule_alias), blank rows left out."""
    return [{"regex": r, "alias": a} for r, a in _aligned(query, "rule_regex", "rule_alias") if r or a]


def groupings_from_query(query) -> list[str]:
    return _lines(query.get("groupings", ""))


def _filter_rows(query) -> list[dict]:
    return [
        {"key": k, "operator": o or "exact", "value": v, "type": t or "event"}
        for k, o, v, t in _aligned(query, "filter_key", "filter_operator", "filter_value", "filter_type")
        if k
    ]


def state_from_query(query) -> dict:
    """The form as submitted (shown again when it does not make a paths query)."""
    preset, date_from, date_to = _dates(query)
    types, names = _event_types(query)
    return {
        "date_preset": preset,
        "date_from": date_from,
        "date_to": date_to,
        "event_types": types,
        "event_names": names,
        "point_type": "end" if query.get("point_type") == "end" else "start",
        "point": query.get("point", "").strip(),
        "step_limit": query.get("step_limit", str(DEFAULT_STEPS)).strip(),
        "rules": rules_from_query(query),
        "groupings": query.get("groupings", ""),
        "exclude": query.get("exclude", ""),
        "min_edge_weight": query.get("min_edge_weight", "1").strip() or "1",
        "edge_limit": query.get("edge_limit", str(DEFAULT_EDGE_LIMIT)).strip() or str(DEFAULT_EDGE_LIMIT),
        "filters": _filter_rows(query),
    }


def body_from_query(query) -> dict:
    """The form's fields as the PathsQuery JSON body (numbers stay text: from_json reads them)."""
    _, date_from, date_to = _dates(query)
    types, names = _event_types(query)
    body: dict = {
        "kind": "PathsQuery",
        "date_from": date_from,
        "include_event_types": types + [n.strip() for n in names.split(",") if n.strip()],
        "step_limit": query.get("step_limit", str(DEFAULT_STEPS)).strip(),
        "path_cleaning": rules_from_query(query),
        "path_groupings": groupings_from_query(query),
        "exclude": [line.strip() for line in query.get("exclude", "").splitlines() if line.strip()],
        "min_edge_weight": query.get("min_edge_weight", "1").strip() or "1",
        "edge_limit": query.get("edge_limit", str(DEFAULT_EDGE_LIMIT)).strip() or str(DEFAULT_EDGE_LIMIT),
        "properties": [
            {
                "key": f["key"],
                "operator": f["operator"],
                "type": f["type"],
                **({"value": f["value"]} if f["operator"] not in ("is_set", "is_not_set") else {}),
            }
            for f in _filter_rows(query)
        ],
    }
    if date_to:
        body["date_to"] = date_to
    point = query.get("point", "").strip()
    if point:
        body["end_point" if query.get("point_type") == "end" else "start_point"] = point
    return body


def parse_request(query, project) -> tuple[dict, PathsSpec | None, BadRequest | None]:
    """(form state, spec or None, the error or None) from the page's GET (insights/builder.py)."""
    return builder.parse_request(
        query,
        lambda body: PathsSpec.from_json(body, project),
        body_from_query=body_from_query,
        state_from_spec=state_from_spec,
        state_from_query=state_from_query,
    )


class CleaningRuleForm(forms.Form):
    regex = forms.CharField(max_length=500)
    alias = forms.CharField(max_length=500, required=False, strip=False)

    def clean_regex(self):
        regex = self.cleaned_data["regex"]
        problem = regex_problem(regex)
        if problem:
            raise forms.ValidationError(problem)
        return regex
