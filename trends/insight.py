"""The trends insight kind, declared once: navigation, JSON query API and saved insights
derive from KIND (insights.registry.declare, called from TrendsConfig.ready)."""

from __future__ import annotations

from insights.blocks import INTERVALS
from insights.blocks.schema import property_filters_schema
from insights.registry import InsightKind

from .queries import TrendsQueryRunner
from .spec import DISPLAYS, MATHS, MAX_SERIES, TrendsSpec

SCHEMA = {
    "type": "object",
    "properties": {
        "kind": {"const": "TrendsQuery"},
        "date_from": {
            "type": "string",
            "default": "-7d",
            "description": "-24h, -Nd, -Nw, -Nm, mStart, yStart, all, YYYY-MM-DD or ISO datetime",
        },
        "date_to": {
            "type": ["string", "null"],
            "description": "YYYY-MM-DD (inclusive day) or ISO datetime; default now",
        },
        "interval": {"enum": INTERVALS, "default": "day"},
        "series": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_SERIES,
            "items": {
                "type": "object",
                "properties": {
                    "event": {"type": "string"},
                    "math": {"enum": list(MATHS), "default": "total"},
                    "math_property": {
                        "type": "string",
                        "description": "numeric event property for sum/avg/min/max/median/p90/p99",
                    },
                    "properties": property_filters_schema(),
                    "name": {"type": "string", "maxLength": 200},
                },
                "required": ["event"],
            },
        },
        "properties": property_filters_schema("filters applied to every series"),
        "breakdown": {
            "type": ["object", "null"],
            "properties": {
                "property": {"type": "string"},
                "type": {"enum": ["event", "person"], "default": "event"},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
            },
            "required": ["property"],
        },
        "compare": {"type": "boolean", "default": False},
        "display": {"enum": list(DISPLAYS), "default": "line"},
        "formula": {
            "type": ["string", "null"],
            "maxLength": 200,
            "description": "over the series letters A, B, ... with + - * / and parentheses, e.g. A/B",
        },
        "show_series": {"type": "boolean", "default": False, "description": "with a formula: the series too"},
        "window": {
            "type": "integer",
            "minimum": 1,
            "maximum": 120,
            "default": 7,
            "description": "moving average",
        },
        "number": {"enum": ["total", "last"], "default": "total", "description": "bold number"},
    },
    "required": ["kind", "series"],
}

RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "label": {"type": "string"},
                    "series_index": {"type": "integer"},
                    "breakdown_value": {"type": ["string", "null"]},
                    "dates": {"type": "array", "items": {"type": "string", "format": "date-time"}},
                    "data": {"type": "array", "items": {"type": "number"}},
                    "total": {"type": "number"},
                    "compare_label": {"enum": ["current", "previous"]},
                },
            },
        },
        "formula_results": {
            "type": "array",
            "description": "with a formula: its values per bucket (series_index -1), same items as results",
        },
        "incomplete_from": {"type": "string", "format": "date-time", "description": "the running bucket"},
        "interval": {"type": "string"},
        "time_zone": {"type": "string"},
    },
}

KIND = InsightKind(
    kind="TrendsQuery",
    label="Trends",
    spec=TrendsSpec,
    runner=TrendsQueryRunner,
    schema=SCHEMA,
    response_schema=RESPONSE_SCHEMA,
    summary="Trends: counts, unique persons, active users or property aggregates per interval.",
    builder_url_name="trends:trends",
    render_tile="trends.views.render_tile",
    menu_order=20,
    scripts=("js/figures.js", "trends/trends.js"),
)
