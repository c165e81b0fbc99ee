"""The tracking plan pages (docs/tracking-plan.md): the plan with its settings, an event
definition with its properties, the person properties, YAML export and import with a
diff preview. Every member who reads insights reads the plan; changes, and the pages that only make
changes (a new event, the import), need manage_plan.
Every change is audited."""

from __future__ import annotations

import json

from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models import Count
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.text import slugify
from django.views.decorators.http import require_GET, require_http_methods

from analytics_app.access import project_page

from . import audit, quarantine
from .discovery import drift
from .models import EventDefinition, PlanSettings, PropertyDefinition, QuarantineAction
from .plan import (
    PlanError,
    PlanInvalid,
    apply,
    check_name,
    diff,
    event_spec,
    export_yaml,
    naming_warnings,
    parse_yaml,
    plan_problems,
    property_spec,
    save_event,
    save_properties,
)
from .plan_forms import EventForm, PlanImportForm, PlanSettingsForm, property_formset
from .presenter import Presenter
from .roles import Permission
from .tasks import quarantine_action

plan_gate = project_page(Permission.VIEW_INSIGHTS, write=Permission.MANAGE_PLAN)


def _filters(request) -> dict:
    status = request.GET.get("status", "")
    return {
        "status": status if status in EventDefinition.Status.values else "",
        "tag": request.GET.get("tag", "")[:100],
        "q": request.GET.get("q", "").strip()[:200],
    }


def plan_context(request, *, settings_form=None) -> dict:
    project = request.project
    settings = PlanSettings.of(project)
    filters = _filters(request)
    events = list(
        EventDefinition.objects.filter(project=project)
        .select_related("owner")
        .annotate(property_count=Count("properties"))
        .order_by("name")
    )
    tags = sorted({t for e in events for t in e.tags})
    shown = [
        e
        for e in events
        if (not filters["status"] or e.status == filters["status"])
        and (not filters["tag"] or filters["tag"] in e.tags)
        and (
            not filters["q"]
            or filters["q"].lower() in e.name.lower()
            or filters["q"].lower() in e.description.lower()
        )
    ]
    found = drift(project)
    never_seen = set(found.never_seen)
    return {
        "project": project,
        "settings": settings,
        "settings_form": settings_form or PlanSettingsForm(instance=settings),
        "can_manage": Permission.MANAGE_PLAN in request.perms,
        "rows": [
            {"event": e, "naming": check_name(settings, e.name), "never_seen": e.name in never_seen}
            for e in shown
        ],
        "total": len(events),
        "person_properties": PropertyDefinition.objects.filter(project=project, event__isnull=True),
        "filters": filters,
        "filtered": any(filters.values()),
        "statuses": EventDefinition.Status.choices,
        "tags": tags,
        "drift": found,
        "quarantined": quarantine.pending_count(project),
    }


@require_http_methods(["GET", "POST"])
@plan_gate
def plan(request):
    """The plan; a POST saves the naming convention and enforcement setting."""
    if request.method == "POST":
        settings = PlanSettings.of(request.project)
        before = {k: getattr(settings, k) for k in ("naming", "naming_regex", "enforcement")}
        form = PlanSettingsForm(request.POST, instance=settings)
        if not form.is_valid():
            return render(
                request, "governance/plan.html", plan_context(request, settings_form=form), status=400
            )
        with transaction.atomic():
            settings = form.save()
            after = {k: getattr(settings, k) for k in before}
            changed = [k for k in before if before[k] != after[k]]
            if changed:
                audit.record(
                    request,
                    "plan.settings",
                    project=request.project,
                    target="tracking plan",
                    before={k: before[k] for k in changed},
                    after={k: after[k] for k in changed},
                )
        messages.success(request, "Plan settings saved.")
        return redirect("plan", project_id=request.project.pk)
    return render(request, "governance/plan.html", plan_context(request))


def _event_page(request, event, form, formset, status=200):
    context = {
        "project": request.project,
        "event": event,
        "form": form,
        "formset": formset,
        "can_manage": Permission.MANAGE_PLAN in request.perms,
        "naming": check_name(PlanSettings.of(request.project), event.name) if event else None,
    }
    return render(request, "governance/plan_event.html", context, status=status)


def _changed(before: dict, after: dict) -> tuple[dict, dict]:
    keys = [k for k in after if before.get(k) != after.get(k)]
    return {k: before.get(k) for k in keys}, {k: after.get(k) for k in keys}


def _audit_form(spec) -> dict:
    return {**spec.fields_dict(), "name": spec.name, "properties": [p.as_dict() for p in spec.properties]}


@require_http_methods(["GET", "POST"])
@project_page(Permission.MANAGE_PLAN)
def plan_event_new(request):
    project = request.project
    if request.method == "POST":
        form = EventForm(request.POST, project=project)
        formset = property_formset(request.POST)
        if not (form.is_valid() and formset.is_valid()):
            return _event_page(request, None, form, formset, status=400)
        spec = form.spec(formset.specs())
        try:
            with transaction.atomic():
                event = save_event(project, None, spec, form.chosen_owner())
                audit.record(
                    request, "plan.event_create", project=project, target=event.name, after=_audit_form(spec)
                )
        except IntegrityError:  # defined by someone else meanwhile
            form.add_error("name", f"The plan already defines “{spec.name}”.")
            return _event_page(request, None, form, formset, status=400)
        messages.success(request, f"Event {event.name} added to the plan.")
        return redirect("plan_event", project_id=project.pk, event_id=event.pk)
    return _event_page(request, None, EventForm(project=project), property_formset())


@require_http_methods(["GET", "POST"])
@plan_gate
def plan_event(request, event_id):
    """An event definition; a POST saves it and its properties, or deletes it (`action=delete`)."""
    project = request.project
    event = get_object_or_404(EventDefinition.objects.select_related("owner"), pk=event_id, project=project)
    props = list(event.properties.all())
    if request.method != "POST":
        return _event_page(
            request, event, EventForm(project=project, event=event), property_formset(props=props)
        )
    before = _audit_form(event_spec(event, props))
    if request.POST.get("action") == "delete":
        with transaction.atomic():
            audit.record(request, "plan.event_delete", project=project, target=event.name, before=before)
            event.delete()
        messages.success(request, f"Event {event.name} removed from the plan.")
        return redirect("plan", project_id=project.pk)
    form = EventForm(request.POST, project=project, event=event)
    formset = property_formset(request.POST)
    if not (form.is_valid() and formset.is_valid()):
        return _event_page(request, event, form, formset, status=400)
    spec = form.spec(formset.specs())
    try:
        with transaction.atomic():
            save_event(project, event, spec, form.chosen_owner())
            old, new = _changed(before, _audit_form(spec))
            if new:
                audit.record(
                    request, "plan.event_update", project=project, target=event.name, before=old, after=new
                )
    except IntegrityError:  # the new name was defined by someone else meanwhile
        event.refresh_from_db()
        form.add_error("name", f"The plan already defines “{spec.name}”.")
        return _event_page(request, event, form, formset, status=400)
    messages.success(request, f"Event {event.name} saved.")
    return redirect("plan_event", project_id=project.pk, event_id=event.pk)


@require_http_methods(["GET", "POST"])
@plan_gate
def plan_person_properties(request):
    project = request.project
    props = list(PropertyDefinition.objects.filter(project=project, event__isnull=True))
    context = {"project": project, "can_manage": Permission.MANAGE_PLAN in request.perms, "properties": props}
    if request.method != "POST":
        context["formset"] = property_formset(props=props)
        return render(request, "governance/plan_person_properties.html", context)
    formset = property_formset(request.POST)
    if not formset.is_valid():
        context["formset"] = formset
        return render(request, "governance/plan_person_properties.html", context, status=400)
    specs = formset.specs()
    before = {p.name: property_spec(p).as_dict() for p in props}
    after = {s.name: s.as_dict() for s in specs}
    with transaction.atomic():
        save_properties(project, None, specs)
        old, new = _changed(before, after)
        old.update({k: None for k in before.keys() - after.keys()})
        new.update({k: None for k in before.keys() - after.keys()})
        if new:
            audit.record(
                request,
                "plan.person_property_update",
                project=project,
                target="person properties",
                before=old,
                after=new,
            )
    messages.success(request, "Person properties saved.")
    return redirect("plan_person_properties", project_id=project.pk)


@require_GET
@plan_gate
def plan_export(request):
    response = HttpResponse(export_yaml(request.project), content_type="application/yaml; charset=utf-8")
    name = slugify(request.project.name) or f"project-{request.project.pk}"
    response["Content-Disposition"] = f'attachment; filename="{name}-tracking-plan.yaml"'
    return response


@require_http_methods(["GET", "POST"])
@project_page(Permission.MANAGE_PLAN)
def plan_import(request):
    """Paste or upload YAML -> the diff preview -> `confirm=1` (the YAML again, re-parsed) applies it."""
    project = request.project
    template = "governance/plan_import.html"
    if request.method != "POST":
        return render(request, template, {"project": project, "form": PlanImportForm()})
    form = PlanImportForm(request.POST, request.FILES)
    if not form.is_valid():
        return render(request, template, {"project": project, "form": form}, status=400)
    text = form.cleaned_data["yaml"]
    try:
        plan_ = parse_yaml(text)
        problems = plan_problems(project, plan_)
        if problems:
            raise PlanInvalid(problems)
    except PlanInvalid as exc:
        return render(request, template, {"project": project, "form": form, "errors": exc.errors}, status=400)
    if request.POST.get("confirm") == "1":
        try:
            changes = apply(project, plan_, request)
        except IntegrityError:  # the plan changed while this import ran
            errors = [PlanError("", None, "the plan changed while importing; preview the file again")]
            return render(request, template, {"project": project, "form": form, "errors": errors}, status=409)
        counts = changes.counts()
        messages.success(
            request,
            "Plan imported: {events_added} events added, {events_changed} changed, {events_removed} removed.".format(
                **counts
            ),
        )
        return redirect("plan", project_id=project.pk)
    context = {
        "project": project,
        "form": form,
        "yaml_text": text,
        "changes": diff(project, plan_),
        "warnings": naming_warnings(project, plan_),
    }
    return render(request, template, context)


QUARANTINE_TEMPLATE = "governance/plan_quarantine.html"


def _shown_payload(presenter: Presenter, text: str) -> str:
    """A held event for the page: its properties and person operations decoded and masked
    for this viewer, pretty-printed."""
    try:
        doc = json.loads(text)
        props = json.loads(doc.get("properties") or "{}")
    except (ValueError, TypeError, AttributeError):
        return presenter.json_text(text)
    shown = {
        "event": doc.get("event"),
        "distinct_id": presenter.distinct_id(doc.get("distinct_id")),
        "timestamp": doc.get("timestamp"),
        "uuid": doc.get("uuid"),
        "properties": presenter.properties(props),
        "person": presenter.properties(doc.get("person") or {}),
    }
    return json.dumps(shown, indent=2, ensure_ascii=False, default=str)


def _quarantine_context(request) -> dict:
    project = request.project
    presenter = Presenter.for_request(project, request.perms)
    found = quarantine.groups(project)
    for group in found:
        group.examples = [
            {
                **row,
                "distinct_id": presenter.distinct_id(row["distinct_id"]),
                "payload": _shown_payload(presenter, row["payload"]),
                "details": presenter.text(row["details"]),
            }
            for row in group.examples
        ]
    actions = list(QuarantineAction.objects.filter(project=project).select_related("requested_by")[:20])
    busy = {(a.reason, a.event) for a in actions if a.active}
    return {
        "project": project,
        "settings": PlanSettings.of(project),
        "groups": [{"group": g, "busy": (g.reason, g.event) in busy} for g in found],
        "actions": actions,
        "polling": bool(busy),
        "can_manage": Permission.MANAGE_PLAN in request.perms,
        "batch": quarantine.BATCH,
    }


@require_http_methods(["GET", "POST"])
@plan_gate
def plan_quarantine(request):
    """The quarantine: pending groups (reason, event) with counts and examples; a POST
    (manage_plan) releases or discards one group as a task."""
    project = request.project
    if request.method == "GET":
        template = (
            f"{QUARANTINE_TEMPLATE}#actions"
            if request.htmx and not request.htmx.history_restore_request
            else QUARANTINE_TEMPLATE
        )
        return render(request, template, _quarantine_context(request))
    kind = request.POST.get("action", "")
    reason = request.POST.get("reason", "")
    event = request.POST.get("event", "")
    if (
        kind not in QuarantineAction.Kind.values
        or not reason
        or not event
        or len(reason) > 500
        or len(event) > 200
    ):
        return HttpResponse("Say which group to release or discard (action, reason, event).", status=400)
    if QuarantineAction.objects.filter(
        project=project,
        reason=reason,
        event=event,
        status__in=(QuarantineAction.Status.PENDING, QuarantineAction.Status.RUNNING),
    ).exists():
        messages.error(request, "This group is already being released or discarded.")
        return redirect("plan_quarantine", project_id=project.pk)
    now = timezone.now()
    count = quarantine.group_pending(project.pk, reason, event, now)
    if not count:
        messages.error(request, "Nothing of this group is waiting in quarantine.")
        return redirect("plan_quarantine", project_id=project.pk)
    with transaction.atomic():
        action = QuarantineAction.objects.create(
            project=project,
            kind=kind,
            reason=reason,
            event=event,
            requested_by=request.user,
            requested_at=now,
            total=count,
        )
        audit.record(
            request,
            f"quarantine.{kind}",
            project=project,
            target=f"{event} ({reason})",
            after={"action": action.pk, "status": "requested", "events": count},
        )
    transaction.on_commit(lambda: quarantine_action.delay(action.pk))
    verb = "Release" if kind == QuarantineAction.Kind.RELEASE else "Discard"
    messages.success(request, f"{verb} of {count} {event} event{'s' if count != 1 else ''} started.")
    return redirect("plan_quarantine", project_id=project.pk)
