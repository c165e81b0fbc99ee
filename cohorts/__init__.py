"""Cohorts: saved groups of persons (static lists or behavioral definitions).

membership.py is the public part: who is in a cohort (`cohort_condition`, the SQL
behind every `{"type": "cohort"}` filter), `project_cohorts`, `cohort_names`. It and
models.py (Cohort) import only the core, so the shared filters in
insights.blocks.filters can use it. definitions.py validates definitions, queries.py
computes membership into ClickHouse `cohort_people`, tasks.py is the Celery refresh,
forms.py + views.py the pages and the JSON API. `register()` (CohortsConfig.ready) adds the page to the
navigation and the API to the OpenAPI schema. Semantics: docs/cohorts.md.
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
            "{match: all|any, groups: [{match, criteria: [...]}]}; static: {distinct_ids: [...], emails: [...]}. See docs/cohorts.md.",
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

    navigation.register(navigation.Section("Cohorts", "cohorts:cohorts", Permission.VIEW_INSIGHTS, 35))
    openapi.EXTRA_PATHS.update(COHORT_PATHS)
