"""Trends: counts, unique persons, active users and property aggregates over time.

spec.py (TrendsSpec) -> queries.py (TrendsQueryRunner, TrendsPersonsQueryRunner)
-> charts.py (plotly figure) ; forms.py turns the builder page's GET into the spec.
`register()` (called from InsightsConfig.ready) puts trends in the navigation, the
JSON query API and the insight registry (dashboards, saved insights).
"""

from __future__ import annotations

from analytics_app.models import Permission
from insights.blocks import INTERVALS, OPERATORS

from .spec import DISPLAYS, MATHS, MAX_SERIES

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
                    "properties": {"type": "array", "items": FILTER_SCHEMA},
                    "name": {"type": "string", "maxLength": 200},
                },
                "required": ["event"],
            },
        },
        "properties": {
            "type": "array",
            "items": FILTER_SCHEMA,
            "description": "filters applied to every series",
        },
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
        "interval": {"type": "string"},
        "time_zone": {"type": "string"},
    },
}


def register() -> None:
    from analytics_app import navigation, query_api  # noqa: PLC0415
    from insights import registry  # noqa: PLC0415

    from .queries import TrendsQueryRunner  # noqa: PLC0415
    from .spec import TrendsSpec  # noqa: PLC0415

    navigation.register(navigation.Section("Trends", "insights:trends", Permission.VIEW_INSIGHTS, 20))
    query_api.register(
        query_api.QueryKind(
            kind="TrendsQuery",
            parse=TrendsSpec.from_json,
            run=lambda project, spec, presenter: TrendsQueryRunner(project, spec).run().to_json(presenter),
            schema=SCHEMA,
            response_schema=RESPONSE_SCHEMA,
            permission=Permission.VIEW_INSIGHTS,
            summary="Trends: counts, unique persons, active users or property aggregates per interval.",
        )
    )

    def render_tile(request, project, spec, result):
        from insights.views import render_tile as render  # noqa: PLC0415

        return render(request, project, spec, result)

    registry.register(
        registry.InsightKind(
            kind="TrendsQuery",
            label="Trends",
            builder_url_name="insights:trends",
            parse=lambda body, project=None: TrendsSpec.from_json(body, project),
            run=lambda project, spec: TrendsQueryRunner(project, spec).run(),
            to_json=lambda spec: spec.to_json(),
            render_tile=render_tile,
            with_date_range=lambda spec, date_from, date_to=None: spec.with_date_range(date_from, date_to),
            scripts=("js/trends.js",),
        )
    )
