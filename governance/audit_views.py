"""The audit log page of a project and its CSV export (admins: `view_audit_log`)."""

from __future__ import annotations

import datetime as dt

from django.core.paginator import Paginator
from django.http import StreamingHttpResponse
from django.shortcuts import render
from django.utils.http import urlencode
from django.views.decorators.http import require_GET

from analytics_app.access import project_page

from . import audit
from .audit_log import PAGE_SIZE, AuditFilterForm, action_label, changes, csv_rows
from .roles import Permission

TEMPLATE = "governance/audit.html"


@require_GET
@project_page(Permission.VIEW_AUDIT_LOG)
def project_audit(request):
    form = AuditFilterForm(request.GET, project=request.project)
    context = {"project": request.project, "form": form}
    if not form.is_valid():
        return render(request, TEMPLATE, context, status=400)
    spec = form.spec()
    page = Paginator(spec.entries(request.project), PAGE_SIZE).get_page(form.cleaned_data["page"] or 1)
    params = spec.as_params()
    context |= {
        "page": page,
        "rows": [{"entry": e, "label": action_label(e.action), "changes": changes(e)} for e in page],
        "filtered": bool(params),
        "export_query": urlencode(params),
        "prev_query": urlencode({**params, "page": page.previous_page_number()})
        if page.has_previous()
        else "",
        "next_query": urlencode({**params, "page": page.next_page_number()}) if page.has_next() else "",
    }
    return render(request, TEMPLATE, context)


@require_GET
@project_page(Permission.VIEW_AUDIT_LOG)
def project_audit_export(request):
    project = request.project
    form = AuditFilterForm(request.GET, project=project)
    if not form.is_valid():
        return render(request, TEMPLATE, {"project": project, "form": form}, status=400)
    spec = form.spec()
    entries = spec.entries(project)
    exported = audit.record(
        request,
        "audit.export",
        project=project,
        target="audit log",
        after={**spec.as_params(), "rows": entries.count()},
    )
    entries = entries.filter(pk__lt=exported.pk)  # the set as it was asked for, without this export's entry
    response = StreamingHttpResponse(csv_rows(entries, project.tz), content_type="text/csv; charset=utf-8")
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="audit-{project.pk}-{stamp}.csv"'
    return response
