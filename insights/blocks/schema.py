"""The JSON schema of a property filter: the one object every query kind's schema uses
for its filters (`/api/schema/` lists it once, as components/schemas/PropertyFilter).
It describes what `filters.parse_filter` accepts; the parser is what validates."""

from __future__ import annotations

from .filters import COHORT_OPERATORS, FILTER_TYPES, MAX_FILTERS, MAX_KEY_LENGTH, OPERATORS

PROPERTY_FILTER_SCHEMA = {
    "type": "object",
    "properties": {
        "key": {
            "type": "string",
            "maxLength": MAX_KEY_LENGTH,
            "description": "the property's name (a cohort filter needs none)",
        },
        "operator": {
            "enum": OPERATORS + [op for op in COHORT_OPERATORS if op not in OPERATORS],
            "default": "exact",
            "description": f"a cohort filter takes one of {', '.join(COHORT_OPERATORS)}",
        },
        "value": {
            "description": "a string, number or boolean, or a list of them (any of) for exact / is_not; "
            "one number (or numeric string) for gt, gte, lt, lte; none for is_set / is_not_set; the cohort id for a cohort filter",
        },
        "type": {"enum": FILTER_TYPES, "default": "event"},
    },
    "if": {"properties": {"type": {"const": "cohort"}}, "required": ["type"]},
    "then": {
        "properties": {"operator": {"enum": COHORT_OPERATORS}, "value": {"type": "integer"}},
        "required": ["value"],
    },
    "else": {"properties": {"key": {"minLength": 1}}, "required": ["key"]},
}


def property_filters_schema(description: str = "") -> dict:
    """A list of property filters (the `properties` of a body, a series or a step)."""
    schema = {"type": "array", "items": PROPERTY_FILTER_SCHEMA, "maxItems": MAX_FILTERS}
    return {**schema, "description": description} if description else schema
