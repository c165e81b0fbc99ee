"""Registration of funnels with the navigation, the JSON query API and the insight
registry (saved insights, dashboards). Called from FunnelsConfig.ready()."""

from __future__ import annotations

from analytics_app.models import Permission
from insights.blocks import OPERATORS

from .spec import ATTRIBUTIONS, MAX_ACTORS_LIMIT, MAX_STEPS, ORDERS, WINDOW_UNITS

FILTER_SCHEMA = {
    "type": "object",
    "properties": {
        "key": {"type": "string", "maxLength": 400},
        "operator": {"enum": OPERATORS, "default": "exact"},
        "value": {},
        "type": {"enum": ["event", "person", "cohort"], "default": "event"},
    },
    "required": ["key"],
}
EVENT_SCHEMA = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "properties": {"type": "array", "items": FILTER_SCHEMA}},
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
    "properties": {
        "type": "array",
        "items": FILTER_SCHEMA,
        "description": "filters applied to every event the funnel reads",
    },
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


def register() -> None:
    from analytics_app import navigation, query_api  # noqa: PLC0415
    from insights import registry  # noqa: PLC0415

    from .queries import FunnelActorsQueryRunner, FunnelQueryRunner  # noqa: PLC0415
    from .spec import FunnelActorsSpec, FunnelSpec  # noqa: PLC0415

    navigation.register(navigation.Section("Funnels", "funnels:funnel", Permission.VIEW_INSIGHTS, 21))
    query_api.register(
        query_api.QueryKind(
            kind="FunnelsQuery",
            parse=FunnelSpec.from_json,
            run=lambda project, spec, presenter: FunnelQueryRunner(project, spec).run().to_json(presenter),
            schema=SCHEMA,
            response_schema=RESPONSE_SCHEMA,
            permission=Permission.VIEW_INSIGHTS,
            summary="Funnels: persons (or sessions) through a sequence of steps within a conversion window.",
        )
    )
    query_api.register(
        query_api.QueryKind(
            kind="FunnelsActorsQuery",
            parse=FunnelActorsSpec.from_json,
            run=lambda project, spec, presenter: (
                FunnelActorsQueryRunner(project, spec).run().to_json(presenter)
            ),
            schema=ACTORS_SCHEMA,
            response_schema=ACTORS_RESPONSE_SCHEMA,
            permission=Permission.VIEW_INSIGHTS,
            summary="The persons who converted at, or dropped before, one funnel step.",
        )
    )

    def render_tile(request, project, spec, result):
        from funnels.views import render_tile as render  # noqa: PLC0415

        return render(request, project, spec, result)

    registry.register(
        registry.InsightKind(
            kind="FunnelsQuery",
            label="Funnel",
            builder_url_name="funnels:funnel",
            parse=lambda body, project=None: FunnelSpec.from_json(body, project),
            run=lambda project, spec: FunnelQueryRunner(project, spec).run(),
            to_json=lambda spec: spec.to_json(),
            render_tile=render_tile,
            with_date_range=lambda spec, date_from, date_to=None: spec.with_date_range(date_from, date_to),
            scripts=("funnels/funnels.js",),
        )
    )
