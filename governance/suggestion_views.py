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
