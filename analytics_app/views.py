"""Core pages (home, projects, settings, members, API keys) and the query API."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.db import transaction
from django.http import HttpResponseBadRequest, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from governance.roles import ROLE_DESCRIPTIONS, ROLE_PERMISSIONS, Permission, Role

from . import clickhouse as ch
from .access import parse_json_body, project_api, project_page, projects_for
from .errors import BadRequest
from .forms import AddMemberForm, APIKeyForm, ChangeRoleForm, NewProjectForm, ProjectForm
from .models import Membership, PersonalAPIKey
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
    if target is None:
        return redirect("project_new")
    return redirect("project_overview", project_id=target.pk)


@login_required
@require_http_methods(["GET", "POST"])
def project_new(request):
    form = NewProjectForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            project = form.save()
            Membership.objects.create(user=request.user, project=project, role=Role.ADMIN)
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
@project_page(Permission.VIEW_PROJECT)
def project_settings(request):
    project = request.project
    can_manage = Permission.MANAGE_PROJECT in request.perms
    form = ProjectForm(request.POST or None, instance=project)
    status = 200
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Your role cannot change project settings.")
        if request.POST.get("action") == "rotate_token":
            project.rotate_token()
            messages.success(
                request,
                "A new project token was issued. Update your SDK snippets; the old token no longer works.",
            )
            return redirect("project_settings", project_id=project.pk)
        if form.is_valid():
            form.save()
            messages.success(request, "Settings saved.")
            return redirect("project_settings", project_id=project.pk)
        status = 400
    context = {
        "project": project,
        "form": form,
        "can_manage": can_manage,
        "snippets": capture_snippets(request, project),
    }
    return render(request, "analytics_app/settings.html", context, status=status)


@require_http_methods(["GET", "POST"])
@project_page(Permission.VIEW_PROJECT)
def project_members(request):
    project = request.project
    add_form = AddMemberForm(request.POST or None, project=project)
    status = 200
    if request.method == "POST":
        if Permission.MANAGE_MEMBERS not in request.perms:
            raise PermissionDenied("Your role cannot manage members.")
        if add_form.is_valid():
            Membership.objects.create(user=add_form.user, project=project, role=add_form.cleaned_data["role"])
            messages.success(
                request,
                f"{add_form.user.email or add_form.user.username} added as {add_form.cleaned_data['role']}.",
            )
            return redirect("project_members", project_id=project.pk)
        status = 400
    return render(request, "analytics_app/members.html", _members_context(request, add_form), status=status)


def _members_context(request, add_form=None, **extra) -> dict:
    project = request.project
    members = list(
        Membership.objects.filter(project=project)
        .select_related("user")
        .order_by("user__email", "user__username")
    )
    admins = sum(1 for m in members if m.role == Role.ADMIN)
    return {
        "project": project,
        "members": members,
        "last_admin_ids": {m.pk for m in members if m.role == Role.ADMIN and admins == 1},
        "add_form": add_form or AddMemberForm(project=project),
        "can_manage": Permission.MANAGE_MEMBERS in request.perms,
        "roles": [(r.value, r.label, ROLE_DESCRIPTIONS[r]) for r in Role],
        **extra,
    }


# Permissions a role change must confirm before it grants them.
CONFIRM_GRANTS = (Permission.VIEW_PII, Permission.VIEW_RECORDINGS)


def granted_needing_confirmation(old_role: str, new_role: str) -> list[str]:
    """The labels of the sensitive permissions `new_role` has and `old_role` has not."""
    gained = ROLE_PERMISSIONS[new_role] - ROLE_PERMISSIONS[old_role]
    return [p.label for p in CONFIRM_GRANTS if p in gained]


@require_POST
@project_page(Permission.MANAGE_MEMBERS)
def member_update(request, membership_id):
    """Change a member's role (an explicit save; a change that grants PII or recordings
    access is shown for confirmation first and applied with `confirm=1`) or remove them
    (`action=remove`). A project always keeps one admin."""
    membership = get_object_or_404(Membership, pk=membership_id, project=request.project)
    if request.POST.get("action") == "remove":
        if not _another_admin_remains(membership):
            messages.error(request, "A project needs at least one admin: make someone else admin first.")
            return redirect("project_members", project_id=request.project.pk)
        membership.delete()
        messages.success(request, f"{membership.user} removed.")
        return redirect("project_members", project_id=request.project.pk)
    form = ChangeRoleForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("Unknown role.")
    role = form.cleaned_data["role"]
    if role == membership.role:
        messages.info(request, f"{membership.user} already is {membership.get_role_display()}.")
        return redirect("project_members", project_id=request.project.pk)
    if membership.role == Role.ADMIN and not _another_admin_remains(membership):
        messages.error(request, "A project needs at least one admin: make someone else admin first.")
        return redirect("project_members", project_id=request.project.pk)
    grants = granted_needing_confirmation(membership.role, role)
    if grants and request.POST.get("confirm") != "1":
        confirm = {"membership": membership, "role": role, "role_label": Role(role).label, "grants": grants}
        return render(request, "analytics_app/members.html", _members_context(request, confirm=confirm))
    membership.role = role
    membership.save()
    messages.success(request, f"{membership.user} is now {membership.get_role_display()}.")
    return redirect("project_members", project_id=request.project.pk)


def _another_admin_remains(membership: Membership) -> bool:
    return (
        Membership.objects.filter(project=membership.project, role=Role.ADMIN)
        .exclude(pk=membership.pk)
        .exists()
    )


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request):
    form = APIKeyForm(request.POST or None)
    new_key = None
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            key = get_object_or_404(PersonalAPIKey, pk=request.POST.get("key_id", 0) or 0, user=request.user)
            key.revoke()
            messages.success(request, f"Key {key.label} revoked.")
            return redirect("api_keys")
        if form.is_valid():
            _, new_key = form.save(request.user)
            form = APIKeyForm()
        else:
            status = 400
    keys = PersonalAPIKey.objects.filter(user=request.user)
    return render(
        request,
        "analytics_app/api_keys.html",
        {"form": form, "keys": keys, "new_key": new_key},
        status=status,
    )


# ------------------------------------------------------------------ JSON API
@require_POST
@project_api(Permission.VIEW_PROJECT)
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
    """Liveness + ClickHouse reachability, for load balancers and the compose healthcheck."""
    try:
        ch.query("SELECT 1", global_=True)
    except ch.ClickHouseError as exc:
        return JsonResponse({"status": "error", "clickhouse": exc.message}, status=503)
    return JsonResponse({"status": "ok", "clickhouse": ch.backend().name})


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
