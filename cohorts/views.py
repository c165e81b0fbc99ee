"""Cohort pages (list and create, one cohort with its members, CSV export) and the
cohorts JSON API: gate -> form -> definition -> Celery refresh / members query -> render."""

from __future__ import annotations

import csv
import json

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics_app import clickhouse as ch
from analytics_app.access import parse_json_body, project_api, project_page
from analytics_app.errors import BadRequest
from governance import audit
from governance.roles import Permission
from insights import people, views_common
from insights.blocks import OPERATORS
from insights.people import display_name

from . import forms
from .definitions import clean_definition, cohort_json
from .models import Cohort
from .queries import cohort_members, compute_cohort
from .tasks import refresh_cohort

COHORTS_TEMPLATE = "cohorts/cohorts.html"
COHORT_TEMPLATE = "cohorts/cohort.html"


def _int(query, name: str, errors: dict, default=None):
    raw = query.get(name, "")
    if raw in ("", None) and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        errors[name] = "must be a whole number"
        return default


def _save_cohort(project, form_or_data, *, cohort: Cohort | None = None) -> Cohort:
    """Create or update a cohort from cleaned data and queue its refresh after commit."""
    data = form_or_data
    if cohort is None:
        cohort = Cohort(project=project)
    cohort.name = data["name"]
    cohort.description = data.get("description", "")
    cohort.kind = data["kind"]
    cohort.definition = data["definition"]
    cohort.status = Cohort.Status.PENDING
    cohort.save()
    transaction.on_commit(lambda: refresh_cohort.delay(cohort.pk))
    return cohort


@require_http_methods(["GET", "POST"])
@project_page(Permission.VIEW_INSIGHTS, write=Permission.EDIT_INSIGHTS)
def cohorts(request):
    project = request.project
    form = forms.CohortForm(project=project)
    status = 200
    if request.method == "POST":
        form = forms.CohortForm(request.POST, request.FILES, project=project)
        if form.is_valid():
            cohort = _save_cohort(project, form.cleaned_data)
            return redirect("cohorts:cohort", project_id=project.pk, cohort_id=cohort.pk)
        status = 400
    context = {
        "project": project,
        "cohorts": Cohort.objects.filter(project=project),
        "form": form,
        "can_edit": Permission.EDIT_INSIGHTS in request.perms,
        "example": json.dumps(forms.CohortForm.EXAMPLE, indent=2),
        "kind": (request.POST.get("kind") if request.method == "POST" else "") or Cohort.Kind.BEHAVIORAL,
        "json_open": bool(request.method == "POST" and (request.POST.get("definition") or "").strip()),
        "builder": _builder_state(request.POST if request.method == "POST" else {}),
        "match": (request.POST.get("match") if request.method == "POST" else "") or "all",
        "criterion_options": [
            (key, text, " ".join(forms.CRITERION_FIELDS[key])) for key, text in forms.CRITERION_LABELS.items()
        ],
        "event_names": views_common.event_names(project, False),
        "operators": OPERATORS,
        "project_cohorts": Cohort.objects.filter(project=project).only("pk", "name"),
    }
    return render(request, COHORTS_TEMPLATE, context, status=status)


BUILDER_FIELDS = [
    "type",
    "event",
    "operator",
    "count",
    "days",
    "date_from",
    "date_to",
    "key",
    "prop_operator",
    "value",
    "cohort",
    "negate",
]


def _builder_state(post) -> list[dict]:
    """The builder's rows with what was submitted (to show it again with the errors); each
    row's `shows` names the field sets its criterion type uses (the others are hidden)."""
    groups = []
    for g in range(forms.BUILDER_GROUPS):
        rows = []
        for r in range(forms.BUILDER_ROWS):
            row = {name: post.get(f"g{g}_c{r}_{name}", "") for name in BUILDER_FIELDS}
            rows.append({"prefix": f"g{g}_c{r}", **row, "shows": forms.CRITERION_FIELDS.get(row["type"], ())})
        groups.append({"index": g, "match": post.get(f"g{g}_match") or "all", "rows": rows})
    return groups


def _cohort_or_404(project, cohort_id) -> Cohort:
    cohort = Cohort.objects.filter(project=project, pk=cohort_id).first()
    if cohort is None:
        raise Http404("No such cohort")
    return cohort


@require_http_methods(["GET", "POST"])
@project_page(Permission.VIEW_INSIGHTS, write=Permission.EDIT_INSIGHTS)
def cohort(request, cohort_id):
    project = request.project
    obj = _cohort_or_404(project, cohort_id)
    if request.method == "POST":
        action = request.POST.get("action", "refresh")
        if action == "delete":
            facts = {"name": obj.name, "kind": obj.kind, "definition": obj.definition}
            obj.delete()
            audit.record(request, "cohort.delete", project=project, target=facts["name"], before=facts)
            return redirect("cohorts:cohorts", project_id=project.pk)
        Cohort.objects.filter(pk=obj.pk).update(status=Cohort.Status.PENDING)
        transaction.on_commit(lambda: refresh_cohort.delay(obj.pk))
        return redirect("cohorts:cohort", project_id=project.pk, cohort_id=obj.pk)
    errors: dict = {}
    page = max(_int(request.GET, "page", errors, default=1), 1)
    size, rows = cohort_members(project, obj, limit=100, offset=(page - 1) * 100)
    presenter = request.presenter
    members = [
        {
            **r,
            "distinct_id": presenter.distinct_id(r["distinct_id"]),
            "email": presenter.value("email", _email(r["properties"])),
            "name": display_name(_props(r["properties"]), r["distinct_id"], presenter),
        }
        for r in rows
    ]
    context = {
        "project": project,
        "cohort": obj,
        "members": members,
        "size": size,
        "page": page,
        "has_next": page * 100 < size,
        "can_edit": Permission.EDIT_INSIGHTS in request.perms,
        "can_export": Permission.EXPORT_DATA in request.perms,
        "definition_json": json.dumps(obj.definition, indent=2) if obj.kind == Cohort.Kind.BEHAVIORAL else "",
        "criteria": forms.describe(obj.definition, project) if obj.kind == Cohort.Kind.BEHAVIORAL else [],
        "definition_match": (obj.definition or {}).get("match", "all"),
    }
    # htmx: the live box (status, count, members): its polling while computing, and paging.
    template = f"{COHORT_TEMPLATE}#live" if views_common.is_partial(request) else COHORT_TEMPLATE
    return render(request, template, context)


def _props(properties: str | None) -> dict:
    try:
        value = json.loads(properties or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _email(properties: str | None) -> str:
    try:
        value = json.loads(properties or "{}").get("email", "")
    except (ValueError, AttributeError):
        return ""
    return value if isinstance(value, str) else ""


class _Echo:
    def write(self, value):
        return value


@require_GET
@project_page(Permission.EXPORT_DATA)
def cohort_export(request, cohort_id):
    project = request.project
    obj = _cohort_or_404(project, cohort_id)
    presenter = request.presenter
    writer = csv.writer(_Echo())

    def rows():
        yield writer.writerow(["person_id", "distinct_id", "email"])
        offset = 0
        while True:
            _, page = cohort_members(project, obj, limit=10_000, offset=offset)
            for r in page:
                yield writer.writerow(
                    [
                        r["person_id"],
                        presenter.distinct_id(r["distinct_id"]),
                        presenter.value("email", _email(r["properties"])),
                    ]
                )
            if len(page) < 10_000:
                return
            offset += 10_000

    audit.record(
        request, "export.csv", project=project, target=f"cohort {obj.name}", after={"cohort_id": obj.pk}
    )
    response = StreamingHttpResponse(rows(), content_type="text/csv")
    response["Content-Disposition"] = f'attachment; filename="cohort-{obj.pk}.csv"'
    return response


def _plain_error(exc: BadRequest, status: int) -> HttpResponse:
    lines = [exc.message, *(f"{k}: {v}" for k, v in exc.errors.items())]
    return HttpResponse("\n".join(lines), status=status, content_type="text/plain; charset=utf-8")


@require_POST
@project_page(Permission.EDIT_INSIGHTS)
def from_people(request, kind: str):
    """Save a drill-down's people (all of them) as a static cohort; answers with the cohort page."""
    if Permission.VIEW_INSIGHTS not in request.perms:
        raise PermissionDenied("Your role cannot view insights.")
    project = request.project
    try:
        found = people.people_list(request, kind, request.POST)
        name = (request.POST.get("name") or "").strip() or found.title
        if len(name) > 200:
            raise BadRequest("Invalid cohort.", {"name": "must be at most 200 characters"})
    except BadRequest as exc:
        return _plain_error(exc, 400)
    except (ch.QueryTimeout, ch.QueryTooLarge) as exc:
        return _plain_error(BadRequest(views_common.TOO_LARGE, {"query": exc.message}), 422)
    cohort = Cohort.objects.create(
        project=project,
        name=name,
        description=f"Saved from {found.title}"
        + (f" (first {people.MAX_PEOPLE})" if found.truncated else ""),
        kind=Cohort.Kind.STATIC,
        definition={"person_ids": sorted(found.person_ids)},
    )
    compute_cohort(cohort)
    audit.record(
        request,
        "cohort.from_insight",
        project=project,
        target=name,
        after={"cohort_id": cohort.pk, "source": found.title, "persons": len(found.rows)},
    )
    url = reverse("cohorts:cohort", kwargs={"project_id": project.pk, "cohort_id": cohort.pk})
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Redirect"] = url
        return response
    return redirect(url)


# ---------------------------------------------------------------- cohorts JSON API
@require_http_methods(["GET", "POST"])
@project_api(Permission.VIEW_INSIGHTS, write=Permission.EDIT_INSIGHTS)
def api_cohorts(request):
    project = request.project
    if request.method == "GET":
        return JsonResponse({"results": [cohort_json(c) for c in Cohort.objects.filter(project=project)]})
    body = parse_json_body(request)
    errors = {}
    name = body.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        errors["name"] = "must be a non-empty string of at most 200 characters"
    description = body.get("description", "")
    if not isinstance(description, str) or len(description) > 2000:
        errors["description"] = "must be a string of at most 2000 characters"
    kind = body.get("kind", "behavioral")
    if kind not in Cohort.Kind.values:
        errors["kind"] = f"must be one of {', '.join(Cohort.Kind.values)}"
    if errors:
        raise BadRequest("Invalid cohort.", errors)
    definition = clean_definition(body.get("definition"), kind, project)
    with transaction.atomic():
        obj = _save_cohort(
            project,
            {"name": name.strip(), "description": description, "kind": kind, "definition": definition},
        )
    obj.refresh_from_db()
    return JsonResponse(cohort_json(obj), status=201)


@require_GET
@project_api(Permission.VIEW_INSIGHTS)
def api_cohort(request, cohort_id):
    obj = Cohort.objects.filter(project=request.project, pk=cohort_id).first()
    if obj is None:
        return JsonResponse({"error": "Cohort not found."}, status=404)
    return JsonResponse(cohort_json(obj))


@require_GET
@project_api(Permission.VIEW_INSIGHTS)
def api_cohort_persons(request, cohort_id):
    project = request.project
    obj = Cohort.objects.filter(project=project, pk=cohort_id).first()
    if obj is None:
        return JsonResponse({"error": "Cohort not found."}, status=404)
    errors: dict = {}
    limit = _int(request.GET, "limit", errors, default=100)
    offset = _int(request.GET, "offset", errors, default=0)
    if not errors and not (1 <= limit <= 1000 and offset >= 0):
        errors["limit"] = "limit must be 1 to 1000 and offset at least 0"
    if errors:
        raise BadRequest("Invalid page.", errors)
    size, rows = cohort_members(project, obj, limit=limit, offset=offset)
    presenter = request.presenter
    results = []
    for r in rows:
        try:
            props = json.loads(r["properties"] or "{}")
        except ValueError:
            props = {}
        results.append(
            {
                "person_id": r["person_id"],
                "distinct_id": presenter.distinct_id(r["distinct_id"]),
                "properties": presenter.properties(props),
            }
        )
    return JsonResponse({"count": size, "version": obj.version, "results": results})
