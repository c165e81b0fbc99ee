"""Exporting a drill-down's people as CSV and an insight's result table as CSV / JSON
(saving the people as a cohort is cohorts.views.from_people). The people come from
insights.people, the tables from insights.export; every view is gated by the project's
permissions."""

from __future__ import annotations

import csv

from django.http import HttpResponse, JsonResponse, StreamingHttpResponse
from django.views.decorators.http import require_GET

from analytics_app import clickhouse as ch
from analytics_app.access import forbidden, project_page
from analytics_app.errors import BadRequest
from governance import audit
from governance.roles import Permission

from . import export, people, views_common


class _Echo:
    def write(self, value):
        return value


def _need_insights(request):
    if Permission.VIEW_INSIGHTS not in request.perms:
        return forbidden(request, "Your role cannot view insights.")
    return None


def _bad(exc: BadRequest, status: int = 400) -> HttpResponse:
    lines = [exc.message, *(f"{k}: {v}" for k, v in (exc.errors or {}).items())]
    return HttpResponse("\n".join(lines), status=status, content_type="text/plain; charset=utf-8")


def _list_or_error(request, kind, query):
    try:
        return people.people_list(request, kind, query), None
    except BadRequest as exc:
        return None, _bad(exc)
    except (ch.QueryTimeout, ch.QueryTooLarge) as exc:
        return None, _bad(BadRequest(views_common.TOO_LARGE, {"query": exc.message}), 422)


@require_GET
@project_page(Permission.EXPORT_DATA)
def people_export(request, kind: str):
    """The drill-down's whole people list as CSV, streamed chunk by chunk."""
    denied = _need_insights(request)
    if denied:
        return denied
    project, presenter = request.project, request.presenter
    found, error = _list_or_error(request, kind, request.GET)
    if error:
        return error
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(["name", "distinct_id", "person_id", *found.columns])
        for row in people.display_rows(project, found, presenter):
            yield writer.writerow(row)

    audit.record(
        request,
        "export.csv",
        project=project,
        target=f"people: {found.title}",
        after={"persons": len(found.rows)},
    )
    response = StreamingHttpResponse(rows(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{kind}-people.csv"'
    return response


@require_GET
@project_page(Permission.EXPORT_DATA)
def result_export(request, kind: str, fmt: str):
    """An insight's result table (`?q=<spec JSON>`) as CSV or JSON, masked as shown."""
    denied = _need_insights(request)
    if denied:
        return denied
    if fmt not in ("csv", "json"):
        return _bad(BadRequest("Invalid export.", {"format": "must be csv or json"}))
    try:
        table = export.result_table(request, export.slug(kind), request.GET.get("q", ""))
    except BadRequest as exc:
        return _bad(exc)
    except (ch.QueryTimeout, ch.QueryTooLarge) as exc:
        return _bad(BadRequest(views_common.TOO_LARGE, {"query": exc.message}), 422)
    audit.record(
        request,
        "export.csv" if fmt == "csv" else "export.json",
        project=request.project,
        target=f"{kind} result",
    )
    filename = f"{export.slug(kind)}-result.{fmt}"
    if fmt == "json":
        response = JsonResponse({"columns": table.columns, "rows": table.rows})
    else:
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse(
            (writer.writerow(r) for r in [table.columns, *table.rows]), content_type="text/csv; charset=utf-8"
        )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response
