"""Retention and cohorts.

spec.py (RetentionSpec) -> queries.py (RetentionQueryRunner, RetentionActorsRunner)
-> charts.py (heatmap cells, mean curve, summary; pure); forms.py turns the page's
GET into the spec. cohorts.py holds cohort definitions and their membership SQL;
tasks.py the Celery refresh. insight.py declares the kind "RetentionQuery" (the
navigation, the JSON query API and the insight registry derive from it); `register()`
(RetentionConfig.ready) declares it and adds the cohorts page, API and filters.
Semantics: docs/retention.md.
"""

from __future__ import annotations

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
    from analytics_app import navigation, openapi  # noqa: PLC0415
    from governance.roles import Permission  # noqa: PLC0415
    from insights.registry import declare  # noqa: PLC0415

    from . import cohorts  # noqa: PLC0415
    from .insight import KIND  # noqa: PLC0415

    declare(KIND)
    navigation.register(navigation.Section("Cohorts", "retention:cohorts", Permission.VIEW_INSIGHTS, 35))
    cohorts.install()
    openapi.EXTRA_PATHS.update(COHORT_PATHS)
