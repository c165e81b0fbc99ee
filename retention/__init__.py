"""Retention and cohorts.

spec.py (RetentionSpec) -> queries.py (RetentionQueryRunner, RetentionActorsRunner)
-> charts.py (heatmap cells, mean curve, summary; pure); forms.py turns the page's
GET into the spec. cohorts.py holds cohort definitions and their membership SQL;
tasks.py the Celery refresh. `register()` (RetentionConfig.ready) wires retention into
the navigation, the JSON query API, the insight registry and cohort filters.
Semantics: docs/retention.md.
"""

from __future__ import annotations

FILTER_SCHEMA = {
    "type": "object",
    "properties": {
        "key": {"type": "string", "maxLength": 400},
        "operator": {"type": "string", "default": "exact"},
        "value": {},
        "type": {"enum": ["event", "person", "cohort"], "default": "event"},
    },
    "required": ["key"],
}
ENTITY_SCHEMA = {
    "type": "object",
    "properties": {"event": {"type": "string"}, "properties": {"type": "array", "items": FILTER_SCHEMA}},
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
        "properties": {
            "type": "array",
            "items": FILTER_SCHEMA,
            "description": "filters applied to both events",
        },
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

_PROJECT = {"name": "project_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_COHORT = {"name": "cohort_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_JSON = {"application/json": {"schema": {"type": "object"}}}
COHORT_PATHS = {
    "/api/projects/{project_id}/cohorts/": {
        "get": {
            "summary": "List cohorts",
            "parameters": [_PROJECT],
            "responses": {"200": {"description": "Cohorts with size and status", "content": _JSON}},
        },
        "post": {
            "summary": "Create a cohort (membership is computed in the background)",
            "description": "Body: {name, description, kind: behavioral|static, definition}. Behavioral definition: "
            "{match: all|any, groups: [{match, criteria: [...]}]}; static: {distinct_ids: [...], emails: [...]}. See docs/retention.md.",
            "parameters": [_PROJECT],
            "requestBody": {"required": True, "content": _JSON},
            "responses": {
                "201": {"description": "The cohort (status pending until calculated)", "content": _JSON},
                "400": {"description": "Invalid definition; the body says why"},
            },
        },
    },
    "/api/projects/{project_id}/cohorts/{cohort_id}/": {
        "get": {
            "summary": "A cohort with its size and status",
            "parameters": [_PROJECT, _COHORT],
            "responses": {
                "200": {"description": "The cohort", "content": _JSON},
                "404": {"description": "No such cohort"},
            },
        },
    },
    "/api/projects/{project_id}/cohorts/{cohort_id}/persons/": {
        "get": {
            "summary": "Members of a cohort (its committed version), PII masked per role",
            "parameters": [
                _PROJECT,
                _COHORT,
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 1000, "default": 100},
                },
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
            ],
            "responses": {
                "200": {
                    "description": "{count, version, results: [{person_id, distinct_id, properties}]}",
                    "content": _JSON,
                }
            },
        },
    },
}


def register() -> None:
    from analytics_app import navigation, openapi, query_api  # noqa: PLC0415
    from analytics_app.models import Permission  # noqa: PLC0415
    from insights import registry  # noqa: PLC0415

    from . import cohorts  # noqa: PLC0415
    from .queries import RetentionQueryRunner  # noqa: PLC0415
    from .spec import RetentionSpec  # noqa: PLC0415

    navigation.register(navigation.Section("Retention", "retention:retention", Permission.VIEW_INSIGHTS, 22))
    navigation.register(navigation.Section("Cohorts", "retention:cohorts", Permission.VIEW_INSIGHTS, 35))
    query_api.register(
        query_api.QueryKind(
            kind="RetentionQuery",
            parse=RetentionSpec.from_json,
            run=lambda project, spec, presenter: RetentionQueryRunner(project, spec).run().to_json(presenter),
            schema=SCHEMA,
            response_schema=RESPONSE_SCHEMA,
            permission=Permission.VIEW_INSIGHTS,
            summary="Retention: of the persons who did the target event in a period, how many did the returning event k periods later.",
        )
    )

    def render_tile(request, project, spec, result):
        from .views import render_tile as render  # noqa: PLC0415

        return render(request, project, spec, result)

    registry.register(
        registry.InsightKind(
            kind="RetentionQuery",
            label="Retention",
            builder_url_name="retention:retention",
            parse=lambda body, project=None: RetentionSpec.from_json(body, project),
            run=lambda project, spec: RetentionQueryRunner(project, spec).run(),
            to_json=lambda spec: spec.to_json(),
            render_tile=render_tile,
            with_date_range=lambda spec, date_from, date_to=None: spec.with_date_range(date_from, date_to),
            scripts=("retention/retention.js",),
            styles=("retention/retention.css",),
        )
    )
    cohorts.install()
    openapi.EXTRA_PATHS.update(COHORT_PATHS)
