"""Property filters on event properties, person properties and cohort membership.

A filter is `{"key", "operator", "value", "type": "event"|"person"|"cohort"}`.

Semantics (the Python reference in tests/insights/reference.py implements the same):
- A property's text is its string value, or the JSON text of a number/boolean
  (`42`, `1.5`, `true`); a missing property (or JSON null) has text "" and is "not set".
- `exact` / `is_not`: value may be one scalar or a list (any of). Numbers compare as
  numbers (42 matches 42, 42.0 and "42"); other values compare as text.
- `icontains` / `not_icontains`: case-insensitive substring of the text.
- `regex` / `not_regex`: RE2 match anywhere in the text.
- `gt`, `gte`, `lt`, `lte`: numeric; a property whose text is not a number never matches.
- `is_set` / `is_not_set`: present and not null.
Negative operators (`is_not`, `not_icontains`, `not_regex`) match events that lack
the property, as PostHog does.

PII (docs/access.md, "Search and filters"): for a user who sees PII masked, a filter
on a PII key (or `$set` / `$set_once`) or with an e-mail address in its value is
refused (403), and every other filter is evaluated on the text as that user sees it
(`masked=True`: URL query values, fragments and e-mail addresses replaced by a mask,
`masked_text_sql`), so a filter can never confirm a value the user cannot read.
"""

from __future__ import annotations

import dataclasses
import math
import re
from dataclasses import dataclass

from analytics_app.errors import BadRequest
from cohorts.membership import cohort_condition
from governance import presenter

from .builder import SQLBuilder

OPERATORS = [
    "exact",
    "is_not",
    "icontains",
    "not_icontains",
    "regex",
    "not_regex",
    "gt",
    "gte",
    "lt",
    "lte",
    "is_set",
    "is_not_set",
]
FILTER_TYPES = ["event", "person", "cohort"]
COHORT_OPERATORS = ["in", "not_in", "exact", "is_not"]
MAX_KEY_LENGTH = 400
MAX_FILTERS = 50


@dataclass(frozen=True)
class PropertyFilter:
    key: str
    operator: str = "exact"
    value: object = None
    type: str = "event"
    # Evaluated on the masked text (set at parse time for a viewer without view-PII; not in to_json).
    masked: bool = dataclasses.field(default=False, compare=False)

    @property
    def values(self) -> list:
        if self.value is None:
            return []
        return list(self.value) if isinstance(self.value, list | tuple) else [self.value]

    def to_json(self) -> dict:
        out = {"key": self.key, "operator": self.operator, "value": self.value, "type": self.type}
        if self.masked:  # kept when saved or shared, so the filter stays one on the masked text
            out["masked"] = True
        return out


def _is_number(value) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def as_number(value) -> float | None:
    """A filter value as a number, if it is one (or a numeric string)."""
    if _is_number(value):
        return float(value)
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return number if math.isfinite(number) else None
    return None


def parse_filter(raw, where: str) -> PropertyFilter:
    f = _parse_filter(raw, where)
    if f.type != "cohort" and raw.get("masked") is True:  # saved by a user who sees PII masked
        f = dataclasses.replace(f, masked=True)
    viewer = presenter.current()
    if viewer is None or viewer.can_view_pii or f.type == "cohort":
        return f
    if f.operator not in ("is_set", "is_not_set"):
        viewer.guard_key(f.key)
        viewer.guard_value(f.value)
    return dataclasses.replace(f, masked=True)


def _parse_filter(raw, where: str) -> PropertyFilter:
    if not isinstance(raw, dict):
        raise BadRequest(
            "Invalid property filter.",
            {where: "each filter must be an object with key, operator, value, type"},
        )
    ftype = raw.get("type", "event")
    operator = raw.get("operator", "exact")
    key = raw.get("key")
    value = raw.get("value")
    if ftype not in FILTER_TYPES:
        raise BadRequest("Invalid property filter.", {where: f"type must be one of {FILTER_TYPES}"})
    if ftype == "cohort":
        if not isinstance(value, int) or isinstance(value, bool):
            raise BadRequest("Invalid property filter.", {where: "a cohort filter's value is the cohort id"})
        if operator not in COHORT_OPERATORS:
            raise BadRequest("Invalid property filter.", {where: "cohort filters take operator in or not_in"})
        return PropertyFilter(key=str(key or "id"), operator=operator, value=value, type=ftype)
    if not isinstance(key, str) or not key or len(key) > MAX_KEY_LENGTH:
        raise BadRequest(
            "Invalid property filter.",
            {where: f"key must be a non-empty string of at most {MAX_KEY_LENGTH} characters"},
        )
    if operator not in OPERATORS:
        raise BadRequest("Invalid property filter.", {where: f"operator must be one of {OPERATORS}"})
    if operator in ("is_set", "is_not_set"):
        return PropertyFilter(key, operator, None, ftype)
    values = value if isinstance(value, list) else [value]
    if not values or any(v is None or isinstance(v, dict | list) for v in values):
        raise BadRequest(
            "Invalid property filter.",
            {where: f"{operator} needs a value (a string, number, boolean, or a list of them)"},
        )
    if operator in ("gt", "gte", "lt", "lte"):
        if isinstance(value, list) or as_number(value) is None:
            raise BadRequest("Invalid property filter.", {where: f"{operator} needs one number"})
    elif operator in ("icontains", "not_icontains", "regex", "not_regex"):
        if isinstance(value, list) or isinstance(value, bool):
            raise BadRequest("Invalid property filter.", {where: f"{operator} needs one string"})
        value = str(value)
        if operator in ("regex", "not_regex"):
            try:
                re.compile(value)
            except re.error as exc:
                raise BadRequest(
                    "Invalid property filter.", {where: f"not a valid regular expression: {exc}"}
                ) from None
    return PropertyFilter(key, operator, value, ftype)


def parse_filters(raw, where: str = "properties") -> tuple[PropertyFilter, ...]:
    if raw in (None, ""):
        return ()
    if not isinstance(raw, list):
        raise BadRequest("Invalid property filters.", {where: "must be a list of filters"})
    if len(raw) > MAX_FILTERS:
        raise BadRequest("Invalid property filters.", {where: f"at most {MAX_FILTERS} filters"})
    return tuple(parse_filter(item, f"{where}[{i}]") for i, item in enumerate(raw))


# ------------------------------------------------------------------ SQL
# Hot event properties with a materialized String column on `events` (migration 0001):
# reading it is ~4-15x faster than getSubcolumn(properties, <bound path>) on 10M rows
# (bench/bench_trends.py). Same text semantics: the value as text, "" when missing/null.
MATERIALIZED_EVENT_COLUMNS = {
    "$current_url": "mat_current_url",
    "$pathname": "mat_pathname",
    "$browser": "mat_browser",
    "$os": "mat_os",
    "$device_type": "mat_device_type",
}


def event_text_sql(b: SQLBuilder, key: str, props_sql: str = "properties") -> tuple[str, str]:
    """(text expression, is-set expression) of an event property (native JSON column)."""
    path = b.bind(key, "String")
    raw = f"getSubcolumn({props_sql}, {path})"
    if props_sql == "properties" and key in MATERIALIZED_EVENT_COLUMNS:
        return MATERIALIZED_EVENT_COLUMNS[key], f"({raw} IS NOT NULL)"
    return f"toString({raw})", f"({raw} IS NOT NULL)"


def person_text_sql(b: SQLBuilder, key: str, props_sql: str = "person_properties") -> tuple[str, str]:
    """(text expression, is-set expression) of a person property (JSON string column)."""
    k = b.bind(key, "String")
    text = (
        f"multiIf(JSONType({props_sql}, {k}) = 'String', JSONExtractString({props_sql}, {k}), "
        f"JSONType({props_sql}, {k}) IN ('Null', 'Object', 'Array'), '', JSONExtractRaw({props_sql}, {k}))"
    )
    is_set = f"(JSONHas({props_sql}, {k}) AND JSONType({props_sql}, {k}) != 'Null')"
    return text, is_set


# The SQL twin of governance.masking.mask_string for filters of viewers without view-PII: fragments of
# URLs / paths, query values and e-mail addresses become a mask character.
_MASK_FRAGMENT = (r"((?:[A-Za-z][A-Za-z0-9+.-]*://|/)[^\s#]*)#\S*", "\\1#•")
_MASK_QUERY_VALUE = (r"([?&][^=&#\s]*=)[^&#\s]*", "\\1•")
_MASK_EMAIL = (r"[^\s@<>\"'(),;:/?&=#]+@[^\s@<>\"'(),;:/?&=#]+", "•")


def masked_text_sql(b: SQLBuilder, text: str) -> str:
    """`text` as a viewer without view-PII sees it (patterns bound as parameters)."""
    for pattern, replacement in (_MASK_FRAGMENT, _MASK_QUERY_VALUE, _MASK_EMAIL):
        text = f"replaceRegexpAll({text}, {b.bind(pattern, 'String')}, {b.bind(replacement, 'String')})"
    return text


def filter_sql(b: SQLBuilder, f: PropertyFilter, *, person_id_sql: str = "person_id") -> str:
    if f.type == "cohort":
        negate = f.operator in ("not_in", "is_not")
        return cohort_condition(b, f.value, person_id_sql, negate)
    text, is_set = event_text_sql(b, f.key) if f.type == "event" else person_text_sql(b, f.key)
    if f.masked:
        text = masked_text_sql(b, text)
    op = f.operator
    if op == "is_set":
        return is_set
    if op == "is_not_set":
        return f"NOT {is_set}"
    if op in ("exact", "is_not"):
        numbers = [as_number(v) for v in f.values if _is_number(v)]
        texts = [
            ("true" if v else "false") if isinstance(v, bool) else str(v)
            for v in f.values
            if not _is_number(v)
        ]
        parts = []
        if numbers:
            parts.append(f"has({b.bind(numbers, 'Array(Float64)')}, toFloat64OrNull({text}))")
        if texts:
            parts.append(f"has({b.bind(texts, 'Array(String)')}, {text})")
        match = "(" + " OR ".join(parts) + ")"
        # ifNull: a missing number compares as NULL; NOT NULL must still mean "not equal".
        return f"ifNull({match}, 0)" if op == "exact" else f"NOT ifNull({match}, 0)"
    if op in ("icontains", "not_icontains"):
        cmp = "> 0" if op == "icontains" else "= 0"
        return f"positionCaseInsensitiveUTF8({text}, {b.bind(str(f.value), 'String')}) {cmp}"
    if op in ("regex", "not_regex"):
        match = f"match({text}, {b.bind(str(f.value), 'String')})"
        return match if op == "regex" else f"NOT {match}"
    sym = {"gt": ">", "gte": ">=", "lt": "<", "lte": "<="}[op]
    return f"ifNull(toFloat64OrNull({text}) {sym} {b.bind(as_number(f.value), 'Float64')}, 0)"


def filters_sql(b: SQLBuilder, filters, *, person_id_sql: str = "person_id") -> str:
    """AND of the filters ("1" when there are none)."""
    parts = [filter_sql(b, f, person_id_sql=person_id_sql) for f in filters]
    return " AND ".join(f"({p})" for p in parts) if parts else "1"


def needs_person_properties(filters) -> bool:
    return any(f.type == "person" for f in filters)
