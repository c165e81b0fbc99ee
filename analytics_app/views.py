"""Core pages (home, projects, overview, settings) and the query API."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import transaction
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from governance import audit
from governance.roles import Permission, Role

from . import clickhouse as ch
from .access import forbidden, may_create_project, parse_json_body, project_api, project_page, projects_for
from .errors import BadRequest
from .forms import NewProjectForm, ProjectForm
from .models import Membership
from .openapi import build_schema
from .queries import EventNamesQueryRunner, EventNamesSpec, VolumeQueryRunner
from .query_api import REGISTRY, known_kinds
from .snippets import capture_snippets


@login_required
def home(request):
    projects = projects_for(request.user)
    last = request.session.get("last_project_id")
    target = projects.filter(pk=last).first() if last else None
    target = target or projects.first()
    if target is not None:
        return redirect("project_overview", project_id=target.pk)
    if may_create_project(request.user):
        return redirect("project_new")
    return render(request, "analytics_app/no_projects.html")


@login_required
@require_http_methods(["GET", "POST"])
def project_new(request):
    if not may_create_project(request.user):
        return forbidden(request, "Only admins of a project may create projects here; ask one of them.")
    form = NewProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            project = form.save()
            Membership.objects.create(user=request.user, project=project, role=Role.ADMIN)
            audit.record(
                request,
                "project.create",
                project=project,
                target=project,
                after={
                    "name": project.name,
                    "time_zone": project.time_zone,
                    "admin": request.user.get_username(),
                },
            )
        messages.success(
            request, f"Project {project.name} created. Point an SDK at it to start receiving events."
        )
        return redirect("project_settings", project_id=project.pk)
    return render(
        request, "analytics_app/project_new.html", {"form": form}, status=400 if form.errors else 200
    )


@require_GET
@project_page(Permission.VIEW_PROJECT)
def project_overview(request):
    project = request.project
    context = {"project": project, "can_insights": Permission.VIEW_INSIGHTS in request.perms}
    if context["can_insights"]:
        context["volume"] = VolumeQueryRunner(project).run()
        context["top_events"] = EventNamesQueryRunner(project, EventNamesSpec(days=7, limit=15)).run()
    context["snippets"] = capture_snippets(request, project)
    template = "analytics_app/overview.html#volume" if request.htmx else "analytics_app/overview.html"
    return render(request, template, context)


@require_http_methods(["GET", "POST"])
@project_page(Permission.VIEW_PROJECT, write=Permission.MANAGE_PROJECT)
def project_settings(request):
    project = request.project
    form = ProjectForm(request.POST or None, instance=project)
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "rotate_token":
            old = project.api_token
            project.rotate_token()
            audit.record(
                request,
                "project.token",
                project=project,
                target=project,
                before={"api_token": old[:8] + "…"},
                after={"api_token": project.api_token[:8] + "…"},
            )
            messages.success(
                request,
                "A new project token was issued. Update your SDK snippets; the old token no longer works.",
            )
            return redirect("project_settings", project_id=project.pk)
        if form.is_valid():
            changed = [name for name in form.changed_data if name in form.fields]
            before = {name: form.initial.get(name) for name in changed}
            form.save()
            if changed:
                after = {name: form.cleaned_data[name] for name in changed}
                audit.record(
                    request, "project.settings", project=project, target=project, before=before, after=after
                )
            messages.success(request, "Settings saved.")
            return redirect("project_settings", project_id=project.pk)
        status = 400
    context = {
        "project": project,
        "form": form,
        "can_manage": Permission.MANAGE_PROJECT in request.perms,
        "snippets": capture_snippets(request, project),
    }
    return render(request, "analytics_app/settings.html", context, status=status)


# ------------------------------------------------------------------ JSON API
@require_POST
@project_api(Permission.VIEW_PROJECT, reads=True)
def query(request):
    body = parse_json_body(request)
    kind = body.get("kind")
    spec_kind = REGISTRY.get(kind) if isinstance(kind, str) else None
    if spec_kind is None:
        raise BadRequest(
            f"Unknown query kind {kind!r}. Known kinds: {', '.join(known_kinds())}.",
            {"kind": f"must be one of {known_kinds()}"},
        )
    if spec_kind.permission not in request.perms:
        return JsonResponse({"error": f"Your role cannot run {kind}."}, status=403)
    spec = spec_kind.parse(body, request.project)
    return JsonResponse(spec_kind.run(request.project, spec, request.presenter))


@require_GET
def api_schema(request):
    return JsonResponse(build_schema(request.build_absolute_uri("/").rstrip("/")))


@require_GET
def health(request):
    """Liveness + ClickHouse reachability, for load balancers and the compose healthcheck:
    200 or 503. Which backend answered, and why it failed, only for signed-in users: an
    anonymous caller learns the status and nothing about the stack."""
    try:
        ch.query("SELECT 1", global_=True)
    except ch.ClickHouseError as exc:
        body, status = {"status": "error", "clickhouse": exc.message}, 503
    else:
        body, status = {"status": "ok", "clickhouse": ch.backend().name}, 200
    if not request.user.is_authenticated:
        body = {"status": body["status"]}
    return JsonResponse(body, status=status)


# Django raises these while reading a request it refuses to parse; their messages name
# the limit and carry nothing from the request, so the client is told which one.
_SAY_WHY = (TooManyFieldsSent, TooManyFilesSent, RequestDataTooBig)


def bad_request(request, exception=None):
    """handler400: a malformed request gets its reason (JSON), never a bare page or a 5xx."""
    if isinstance(exception, _SAY_WHY):
        status = 413 if isinstance(exception, RequestDataTooBig) else 400
        return JsonResponse({"error": f"The request is malformed: {exception}"}, status=status)
    return JsonResponse({"error": "The request is malformed."}, status=400)


def switch_project(request):
    """Project switcher: GET ?project=<id> -> that project's overview (access checked there)."""
    project_id = request.GET.get("project", "")
    if not project_id.isdigit():
        return redirect("home")
    return redirect(reverse("project_overview", kwargs={"project_id": int(project_id)}))
