"""The plan's "Discovered" page: what the traffic carries, flagged against the plan, and
"Add to plan" for a discovered event (docs/tracking-plan.md, "Discovery")."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from . import audit
from .discovery import Drift, drift, observe, suggested_type, type_problem
from .models import EventDefinition, PlanSettings, PropertyDefinition
from .plan import EventSpec, PropertySpec, check_name, save_event
from .plan_views import plan_gate
from .roles import Permission


class AddToPlanForm(forms.Form):
    event = forms.CharField(max_length=200)


def _rows(found: Drift, planned: dict, planned_props: dict, settings) -> list[dict]:
    changed = found.type_change_keys()
    unplanned = {e.name for e in found.unplanned_events}
    unplanned_props = {(p.event, p.key) for p in found.unplanned_properties}
    rows = []
    for event in found.observation.events:
        definition = planned.get(event.name)
        props = []
        for p in found.observation.properties_of(event.name):
            planned_type = planned_props.get((event.name, p.key))
            props.append(
                {
                    "prop": p,
                    "types": sorted(p.types),
                    "planned_type": planned_type,
                    "unplanned": (event.name, p.key) in unplanned_props,
                    "type_drift": (event.name, p.key) in changed or type_problem(planned_type, p.types_30d),
                }
            )
        rows.append(
            {
                "event": event,
                "definition": definition,
                "unplanned": event.name in unplanned,
                "automatic": definition is None and event.name.startswith("$"),
                "type_drift": any(r["type_drift"] for r in props),
                "unplanned_properties": sum(1 for r in props if r["unplanned"]),
                "naming": check_name(settings, event.name),
                "properties": props,
            }
        )
    return rows


def discovered_context(request) -> dict:
    project = request.project
    settings = PlanSettings.of(project)
    found = drift(project, observe(project))
    planned = {e.name: e for e in EventDefinition.objects.filter(project=project)}
    planned_props = {
        (event_name, name): type_
        for event_name, name, type_ in PropertyDefinition.objects.filter(project=project).values_list(
            "event__name", "name", "type"
        )
    }
    changed = found.type_change_keys()
    person_rows = [
        {
            "prop": p,
            "types": sorted(p.types),
            "planned_type": planned_props.get((None, p.key)),
            "type_drift": (None, p.key) in changed,
        }
        for p in found.observation.person_properties
    ]
    return {
        "project": project,
        "can_manage": Permission.MANAGE_PLAN in request.perms,
        "drift": found,
        "rows": _rows(found, planned, planned_props, settings),
        "person_rows": person_rows,
        "never_seen": [planned[name] for name in found.never_seen],
    }


def _add_to_plan(request, name: str):
    """A live definition of the discovered event `name` with its observed properties
    (the SDKs' "$" properties left out); audited as plan.event_create."""
    project = request.project
    observed = observe(project, name)
    if not observed.events:
        return f"“{name}” has not been seen in this project."
    props = tuple(
        PropertySpec(name=p.key, type=suggested_type(p))
        for p in observed.properties
        if not p.key.startswith("$")
    )
    spec = EventSpec(name=name, status=EventDefinition.Status.LIVE, properties=props)
    try:
        with transaction.atomic():
            if EventDefinition.objects.filter(project=project, name=name).exists():
                raise IntegrityError
            event = save_event(project, None, spec, None)
            audit.record(
                request,
                "plan.event_create",
                project=project,
                target=event.name,
                after={
                    **spec.fields_dict(),
                    "name": spec.name,
                    "properties": [p.as_dict() for p in props],
                    "from": "discovered",
                },
            )
    except IntegrityError:
        return f"The plan already defines “{name}”."
    return None


@require_http_methods(["GET", "POST"])
@plan_gate
def plan_discovered(request):
    """Discovered events and properties with their flags; a POST (`event`) adds one to the plan."""
    if request.method == "POST":
        form = AddToPlanForm(request.POST)
        problem = None if form.is_valid() else "Choose a discovered event to add."
        if problem is None:
            problem = _add_to_plan(request, form.cleaned_data["event"])
        if problem is not None:
            context = discovered_context(request)
            context["error"] = problem
            return render(request, "governance/plan_discovered.html", context, status=400)
        name = form.cleaned_data["event"]
        messages.success(request, f"Event {name} added to the plan with its observed properties.")
        return redirect("plan_discovered", project_id=request.project.pk)
    if request.htmx and request.htmx.target == "drift":  # the project overview's counts
        context = {"project": request.project, "drift": drift(request.project)}
        return render(request, "governance/plan_discovered.html#drift", context)
    return render(request, "governance/plan_discovered.html", discovered_context(request))
