"""The pickers' JSON endpoints (docs/api.md, "Property suggestions"): property names with
their type and description, and a property's top values, for the signed-in user or an API
key, with what they may see (governance/suggestions.py)."""

from __future__ import annotations

from django.http import JsonResponse
from django.views.decorators.http import require_GET

from analytics_app.access import project_api
from governance.roles import Permission

from . import suggestions


@require_GET
@project_api(Permission.VIEW_INSIGHTS)
def property_names(request):
    """?q=<part of a name or description>&event=<only this event's properties>"""
    groups = suggestions.property_names(
        request.project, request.presenter, request.GET.get("q", ""), request.GET.get("event")
    )
    can_view_pii = request.presenter.can_view_pii
    return JsonResponse(
        {
            "groups": [
                {
                    "group": group,
                    "label": suggestions.GROUP_LABELS[group],
                    "properties": [p.to_json(can_view_pii) for p in names],
                }
                for group, names in groups.items()
            ]
            + [
                {
                    "group": "cohort",
                    "label": suggestions.GROUP_LABELS["cohort"],
                    "properties": suggestions.cohort_names(request.project, request.GET.get("q", "")),
                }
            ]
        }
    )


@require_GET
@project_api(Permission.VIEW_INSIGHTS)
def property_values(request):
    """?key=<property>&type=event|person&event=<only this event>&q=<part of a value>"""
    result = suggestions.top_values(
        request.project,
        request.presenter,
        request.GET.get("key", ""),
        request.GET.get("type", "event") or "event",
        request.GET.get("event"),
        request.GET.get("q", ""),
    )
    return JsonResponse(result.to_json())


_PROJECT = {"name": "project_id", "in": "path", "required": True, "schema": {"type": "integer"}}
_JSON = {"application/json": {"schema": {"type": "object"}}}


def _query(name: str, description: str, **schema) -> dict:
    return {"name": name, "in": "query", "description": description, "schema": {"type": "string", **schema}}


# Added to /api/schema/ by GovernanceConfig.ready; docs/api.md, "Property suggestions".
OPENAPI_PATHS = {
    "/api/projects/{project_id}/properties/": {
        "get": {
            "summary": "Property names for the pickers, grouped event / person / session, with type and description; then the project's cohorts (group cohort: name, cohort_id, person count)",
            "parameters": [
                _PROJECT,
                _query("q", "part of the name or of the plan's description", maxLength=200),
                _query("event", "only this event's properties (person properties always)", maxLength=200),
            ],
            "responses": {
                "200": {"description": "{groups: [{group, label, properties: [...]}]}", "content": _JSON}
            },
        }
    },
    "/api/projects/{project_id}/properties/values/": {
        "get": {
            "summary": "A property's top values with counts (last 30 days of events, or current persons)",
            "description": "Without view-PII: a PII key answers 403; values are shown as the caller sees them.",
            "parameters": [
                _PROJECT,
                {**_query("key", "the property", maxLength=400), "required": True},
                _query("type", "event (default) or person", enum=["event", "person"]),
                _query("event", "only events of this name", maxLength=200),
                _query("q", "part of a value", maxLength=200),
            ],
            "responses": {
                "200": {
                    "description": "{key, type, days, masked, values: [{value, count}]}",
                    "content": _JSON,
                },
                "400": {"description": "A bad parameter; `errors` names it"},
                "403": {"description": "A PII key (or an e-mail search) for a role without view-PII"},
            },
        }
    },
}
