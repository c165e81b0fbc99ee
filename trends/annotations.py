"""Annotations: list (VIEW_INSIGHTS), create (EDIT_INSIGHTS), delete (its author or EDIT_INSIGHTS).

The trends result shows the annotations of its range with a small form (filled in by a
chart point click, static trends/trends.js); the forms post here and come back to `next`
(the chart they were sent from). Every time chart of the project draws them
(trends.views.annotations_for_chart). Creation and deletion are audited.
"""

from __future__ import annotations

import datetime as dt

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods, require_POST

from analytics_app.access import project_page
from governance import audit
from governance.roles import Permission
from trends.models import MAX_ANNOTATION_LENGTH, Annotation

TEMPLATE = "trends/annotations.html"


def parse_form(data, tz) -> tuple[dict, dict]:
    """({date_marker, content}, errors) from the posted `date` (YYYY-MM-DD or
    YYYY-MM-DDTHH:MM[:SS], in the project's time zone) and `content`."""
    errors = {}
    content = (data.get("content") or "").strip()
    if not content:
        errors["content"] = "say what happened"
    elif len(content) > MAX_ANNOTATION_LENGTH:
        errors["content"] = f"must be at most {MAX_ANNOTATION_LENGTH} characters"
    raw = (data.get("date") or "").strip()
    moment = None
    try:
        moment = dt.datetime.fromisoformat(raw) if "T" in raw or " " in raw else None
        if moment is None:
            moment = dt.datetime.combine(dt.date.fromisoformat(raw), dt.time())
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=tz)
        if not 1970 <= moment.year <= 2200:
            raise ValueError
    except ValueError:
        errors["date"] = "must be a date (YYYY-MM-DD) or a date and time (YYYY-MM-DDTHH:MM)"
    return {"date_marker": moment, "content": content}, errors


def may_delete(request, annotation: Annotation) -> bool:
    return Permission.EDIT_INSIGHTS in request.perms or (
        annotation.created_by_id is not None and annotation.created_by_id == request.user.pk
    )


def _back(request):
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return redirect(target)
    return redirect("trends:annotations", project_id=request.project.pk)


@require_http_methods(["GET", "POST"])
@project_page(Permission.VIEW_INSIGHTS, write=Permission.EDIT_INSIGHTS)
def annotations(request):
    project = request.project
    errors: dict = {}
    form = {"date": "", "content": ""}
    if request.method == "POST":
        values, errors = parse_form(request.POST, project.tz)
        form = {"date": request.POST.get("date", ""), "content": request.POST.get("content", "")}
        if not errors:
            a = Annotation.objects.create(
                project=project,
                created_by=request.user,
                created_by_label=request.user.get_username(),
                **values,
            )
            audit.record(
                request,
                "annotation.create",
                project=project,
                target=a.content[:80],
                after={"date": a.date_marker.isoformat(), "content": a.content},
            )
            messages.success(request, "Annotation added.")
            return _back(request)
    items = list(Annotation.objects.filter(project=project).order_by("-date_marker", "-pk")[:500])
    context = {
        "project": project,
        "annotations": [{"a": a, "deletable": may_delete(request, a)} for a in items],
        "can_annotate": Permission.EDIT_INSIGHTS in request.perms,
        "form": form,
        "errors": errors,
    }
    return render(request, TEMPLATE, context, status=400 if errors else 200)


@require_POST
@project_page(Permission.VIEW_INSIGHTS)
def annotation_delete(request, annotation_id):
    a = get_object_or_404(Annotation, pk=annotation_id, project=request.project)
    if not may_delete(request, a):
        raise PermissionDenied("Only its author or a role with edit insights may delete an annotation.")
    facts = {"date": a.date_marker.isoformat(), "content": a.content, "author": a.author_label}
    a.delete()
    audit.record(
        request, "annotation.delete", project=request.project, target=facts["content"][:80], before=facts
    )
    messages.success(request, "Annotation deleted.")
    return _back(request)
