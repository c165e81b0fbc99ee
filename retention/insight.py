"""The retention insight kind, declared once: navigation, JSON query API and saved
insights derive from KIND (insights.registry.declare, called from retention.register)."""

from __future__ import annotations

from insights.blocks.schema import property_filters_schema
from insights.registry import InsightKind

from .queries import RetentionQueryRunner
from .spec import RetentionSpec

ENTITY_SCHEMA = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "properties": property_filters_schema()},
    "required": ["event"],
}
SCHEMA = {
    "type": "object",
    "properties": {
        "kind": {"const": "RetentionQuery"},
        "date_from": {
            "type": "string",
            "description": "start of the first cohort period: YYYY-MM-DD, -Nd, -Nw, -Nm, ...",
        },
        "date_to": {"type": ["string", "null"], "description": "a day in the last period (default now)"},
        "period": {"enum": ["day", "week", "month"], "default": "week"},
        "total_intervals": {"type": "integer", "minimum": 1, "maximum": 60, "default": 11},
        "retention_type": {"enum": ["first_time", "recurring"], "default": "recurring"},
        "target_event": ENTITY_SCHEMA,
        "returning_event": {**ENTITY_SCHEMA, "description": "default: the target event"},
        "properties": property_filters_schema("filters applied to both events"),
        "breakdown": {
            "oneOf": [
                {
                    "type": "object",
                    "properties": {
                        "property": {"type": "string"},
                        "type": {"const": "person"},
                        "limit": {"type": "integer"},
                    },
                    "required": ["property"],
                },
                {
                    "type": "object",
                    "properties": {
                        "type": {"const": "cohort"},
                        "cohorts": {"type": "array", "items": {"type": "integer"}},
                    },
                    "required": ["type", "cohorts"],
                },
            ]
        },
    },
    "required": ["kind", "target_event"],
}
RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "cohort_start": {"type": "string", "format": "date"},
                    "cohort_size": {"type": "integer"},
                    "values": {"type": "array", "items": {"type": "integer"}},
                    "breakdown_value": {
                        "type": ["string", "null"],
                        "description": "display label (PII masked per role)",
                    },
                    "breakdown_index": {
                        "type": ["integer", "null"],
                        "description": "position of the breakdown value (stable key)",
                    },
                },
            },
        },
        "period": {"type": "string"},
        "time_zone": {"type": "string"},
    },
}

KIND = InsightKind(
    kind="RetentionQuery",
    label="Retention",
    spec=RetentionSpec,
    runner=RetentionQueryRunner,
    schema=SCHEMA,
    response_schema=RESPONSE_SCHEMA,
    summary="Retention: of the persons who did the target event in a period, how many did the returning event k periods later.",
    builder_url_name="retention:retention",
    render_tile="retention.views.render_tile",
    menu_order=22,
    scripts=("js/figures.js", "retention/retention.js"),
    styles=("retention/retention.css",),
)
