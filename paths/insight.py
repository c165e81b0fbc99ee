"""The paths insight kind, declared once: navigation, JSON query API and saved insights
derive from KIND (insights.registry.declare, called from PathsConfig.ready)."""

from __future__ import annotations

from insights.blocks.schema import property_filters_schema
from insights.registry import InsightKind

from .queries import PathsQueryRunner
from .spec import DEFAULT_EDGE_LIMIT, DEFAULT_STEPS, MAX_EDGE_LIMIT, MAX_STEPS, MIN_STEPS, PathsSpec

SCHEMA = {
    "type": "object",
    "properties": {
        "kind": {"const": "PathsQuery"},
        "date_from": {"type": "string", "default": "-7d"},
        "date_to": {"type": ["string", "null"]},
        "include_event_types": {
            "type": "array",
            "items": {"type": "string"},
            "default": ["$pageview"],
            "description": '"$pageview" (URL path of $current_url), "$screen" ($screen_name), "custom_event" (every non-$ event) or event names',
        },
        "start_point": {"type": ["string", "null"], "description": "node (after cleaning) where paths start"},
        "end_point": {
            "type": ["string", "null"],
            "description": "node (after cleaning) paths lead to; not with start_point",
        },
        "step_limit": {
            "type": "integer",
            "minimum": MIN_STEPS,
            "maximum": MAX_STEPS,
            "default": DEFAULT_STEPS,
        },
        "path_cleaning": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {"regex": {"type": "string"}, "alias": {"type": "string"}},
                "required": ["regex"],
            },
            "description": "applied after the project's rules, in order, as replaceRegexpAll(node, regex, alias)",
        },
        "path_groupings": {
            "type": "array",
            "items": {"type": "string"},
            "description": "wildcard patterns (`*`), e.g. /blog/*",
        },
        "exclude": {
            "type": "array",
            "items": {"type": "string"},
            "description": "node names (after cleaning and grouping) to drop",
        },
        "min_edge_weight": {"type": "integer", "minimum": 1, "default": 1},
        "edge_limit": {
            "type": "integer",
            "minimum": 1,
            "maximum": MAX_EDGE_LIMIT,
            "default": DEFAULT_EDGE_LIMIT,
        },
        "properties": property_filters_schema(),
    },
    "required": ["kind"],
}

RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "source": {"type": "string"},
                    "target": {"type": "string"},
                    "value": {"type": "integer"},
                    "average_conversion_time_seconds": {"type": "number"},
                },
            },
        },
        "dropoff": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "node": {"type": "string"},
                    "sessions": {"type": "integer"},
                    "continued": {"type": "integer"},
                    "continued_shown": {"type": "integer"},
                    "continued_omitted": {"type": "integer"},
                    "ended": {"type": "integer"},
                    "dropoff": {"type": "integer"},
                },
            },
        },
        "sessions": {"type": "integer"},
        "omitted_edges": {"type": "integer", "description": "sessions that continued along edges left out"},
    },
}

KIND = InsightKind(
    kind="PathsQuery",
    label="Paths",
    spec=PathsSpec,
    runner=PathsQueryRunner,
    schema=SCHEMA,
    response_schema=RESPONSE_SCHEMA,
    summary="Paths: step-prefixed edges between pages, screens or events, with drop-off.",
    builder_url_name="paths:paths",
    render_tile="paths.views.render_tile",
    menu_order=23,
    scripts=("paths/paths.js",),
)
