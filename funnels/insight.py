"""The funnel insight kind, declared once: navigation, JSON query API (with the
FunnelsActorsQuery drill-down) and saved insights derive from KIND
(insights.registry.declare, called from FunnelsConfig.ready)."""

from __future__ import annotations

from analytics_app.query_api import QueryKind
from governance.roles import Permission
from insights.blocks.schema import property_filters_schema
from insights.registry import InsightKind

from .correlation import MAX_TOP, FunnelCorrelationSpec
from .queries import FunnelActorsQueryRunner, FunnelQueryRunner
from .spec import (
    ATTRIBUTIONS,
    MAX_ACTORS_LIMIT,
    MAX_STEPS,
    ORDERS,
    WINDOW_UNITS,
    FunnelActorsSpec,
    FunnelSpec,
)

EVENT_SCHEMA = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "properties": property_filters_schema()},
    "required": ["event"],
}

FUNNEL_PROPERTIES = {
    "date_from": {
        "type": "string",
        "default": "-30d",
        "description": "first step inside [date_from, date_to): -Nd, -Nw, mStart, all, YYYY-MM-DD or ISO datetime",
    },
    "date_to": {
        "type": ["string", "null"],
        "description": "YYYY-MM-DD (inclusive day) or ISO datetime; default now",
    },
    "steps": {"type": "array", "minItems": 2, "maxItems": MAX_STEPS, "items": EVENT_SCHEMA},
    "order": {"enum": list(ORDERS), "default": "ordered"},
    "window": {
        "type": "object",
        "properties": {
            "value": {"type": "integer", "minimum": 1, "default": 14},
            "unit": {"enum": list(WINDOW_UNITS), "default": "day"},
        },
        "description": "conversion window counted from the first step's time (inclusive); a month is 30 days",
    },
    "exclusions": {
        "type": "array",
        "items": {
            "type": "object",
            "properties": {
                **EVENT_SCHEMA["properties"],
                "from_step": {"type": "integer", "minimum": 0},
                "to_step": {"type": "integer", "minimum": 1},
            },
            "required": ["event"],
        },
        "description": "an attempt is void when the event happens strictly between its from_step and to_step events",
    },
    "breakdown": {
        "type": ["object", "null"],
        "properties": {
            "property": {"type": "string"},
            "type": {"enum": ["event", "person"], "default": "event"},
            "attribution": {
                "oneOf": [{"enum": list(ATTRIBUTIONS)}, {"type": "integer", "minimum": 0}],
                "default": 0,
            },
            "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 10},
        },
        "required": ["property"],
    },
    "aggregate_by": {
        "oneOf": [
            {"enum": ["person", "session"]},
            {"type": "object", "properties": {"property": {"type": "string"}}, "required": ["property"]},
        ],
        "default": "person",
    },
    "properties": property_filters_schema("filters applied to every event the funnel reads"),
    "conversion_times": {
        "type": "boolean",
        "default": True,
        "description": "false skips conversion times (faster engine)",
    },
}

SCHEMA = {
    "type": "object",
    "properties": {"kind": {"const": "FunnelsQuery"}, **FUNNEL_PROPERTIES},
    "required": ["kind", "steps"],
}
STEP_SCHEMA = {
    "type": "object",
    "properties": {
        "order": {"type": "integer"},
        "event": {"type": "string"},
        "count": {"type": "integer"},
        "conversion_rate": {"type": "number"},
        "conversion_rate_from_previous": {"type": "number"},
        "dropped": {"type": "integer"},
        "average_conversion_time_seconds": {"type": ["number", "null"]},
        "median_conversion_time_seconds": {"type": ["number", "null"]},
    },
}
RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "breakdown_value": {"type": ["string", "null"]},
                    "breakdown_key": {
                        "type": ["string", "null"],
                        "description": "raw value for FunnelsActorsQuery.breakdown_value",
                    },
                    "steps": {"type": "array", "items": STEP_SCHEMA},
                },
            },
        }
    },
}
ACTORS_SCHEMA = {
    "type": "object",
    "properties": {
        "kind": {"const": "FunnelsActorsQuery"},
        **FUNNEL_PROPERTIES,
        "step": {"type": "integer", "minimum": 0, "description": "0-based step index"},
        "status": {
            "enum": ["converted", "dropped"],
            "default": "converted",
            "description": "converted at k: reached step >= k; dropped at k: reached step k-1 exactly",
        },
        "breakdown_value": {"type": ["string", "null"], "description": "a result's breakdown_key"},
        "limit": {"type": "integer", "minimum": 1, "maximum": MAX_ACTORS_LIMIT, "default": 100},
        "offset": {"type": "integer", "minimum": 0, "default": 0},
    },
    "required": ["kind", "steps", "step"],
}
ACTORS_RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {
        "results": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "person_id": {"type": "string"},
                    "distinct_ids": {"type": "array", "items": {"type": "string"}},
                    "properties": {"type": "object"},
                    "reached_step": {"type": "integer"},
                    "reached_at": {"type": "string", "format": "date-time"},
                    "session_ids": {"type": "array", "items": {"type": "string"}},
                    "session_id_at_last_step": {"type": ["string", "null"]},
                    "aggregation_value": {"type": "string"},
                },
            },
        },
        "total": {"type": "integer"},
    },
}
CORRELATION_SCHEMA = {
    "type": "object",
    "properties": {
        "kind": {"const": "FunnelCorrelationQuery"},
        **FUNNEL_PROPERTIES,
        "correlation_type": {
            "enum": ["events", "properties"],
            "default": "events",
            "description": "events: which events in a person's window go with conversion; "
            "properties: which values of `property`",
        },
        "target_step": {
            "type": "integer",
            "minimum": 1,
            "description": "0-based step a converted person reached (default: the last)",
        },
        "property": {"type": "string", "description": "with correlation_type=properties"},
        "property_type": {"enum": ["person", "event"], "default": "person"},
        "include_internal": {
            "type": "boolean",
            "default": False,
            "description": "events: also $-events such as $pageview ($snapshot, $identify... never)",
        },
        "top": {"type": "integer", "minimum": 1, "maximum": MAX_TOP, "default": 10},
    },
    "required": ["kind", "steps"],
}
CORRELATION_ROW_SCHEMA = {
    "type": "object",
    "properties": {
        "candidate": {"type": "string", "description": "event name or property value (masked by role)"},
        "candidate_key": {"type": "string", "description": "the value, or the token of a masked one"},
        "success_count": {"type": "integer", "description": "converted persons with it"},
        "failure_count": {"type": "integer", "description": "dropped persons with it"},
        "odds_ratio": {"type": "number", "description": "+1-smoothed odds ratio"},
        "p_value": {"type": "number", "description": "two-sided Fisher exact (chi-squared if huge)"},
        "significant": {"type": "boolean", "description": "p_value < 0.05"},
        "correlation": {"enum": ["positive", "negative"]},
    },
}
CORRELATION_RESPONSE_SCHEMA = {
    "type": "object",
    "properties": {
        "correlation_type": {"type": "string"},
        "property": {"type": ["string", "null"]},
        "property_type": {"type": ["string", "null"]},
        "target_step": {"type": "integer"},
        "success_total": {"type": "integer"},
        "failure_total": {"type": "integer"},
        "candidates": {"type": "integer"},
        "positive": {"type": "array", "items": CORRELATION_ROW_SCHEMA},
        "negative": {"type": "array", "items": CORRELATION_ROW_SCHEMA},
    },
}


def _run_correlation(project, spec, presenter):
    from .queries.correlation import FunnelCorrelationRunner  # noqa: PLC0415

    return FunnelCorrelationRunner(project, spec).run().to_json(presenter)


KIND = InsightKind(
    kind="FunnelsQuery",
    label="Funnel",
    spec=FunnelSpec,
    runner=FunnelQueryRunner,
    schema=SCHEMA,
    response_schema=RESPONSE_SCHEMA,
    summary="Funnels: persons (or sessions) through a sequence of steps within a conversion window.",
    builder_url_name="funnels:funnel",
    render_tile="funnels.views.render_tile",
    menu_order=21,
    menu_label="Funnels",
    scripts=("js/figures.js", "funnels/funnels.js"),
    queries=(
        QueryKind(
            kind="FunnelsActorsQuery",
            parse=FunnelActorsSpec.from_json,
            run=lambda project, spec, presenter: (
                FunnelActorsQueryRunner(project, spec).run().to_json(presenter)
            ),
            schema=ACTORS_SCHEMA,
            response_schema=ACTORS_RESPONSE_SCHEMA,
            permission=Permission.VIEW_INSIGHTS,
            summary="The persons who converted at, or dropped before, one funnel step.",
        ),
        QueryKind(
            kind="FunnelCorrelationQuery",
            parse=FunnelCorrelationSpec.from_json,
            run=_run_correlation,
            schema=CORRELATION_SCHEMA,
            response_schema=CORRELATION_RESPONSE_SCHEMA,
            permission=Permission.VIEW_INSIGHTS,
            summary="Correlation analysis: the events, or property values, that make a funnel's "
            "conversion more or less likely (odds ratio, Fisher exact p-value).",
        ),
    ),
)
