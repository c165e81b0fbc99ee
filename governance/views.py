"""The screens that change who may do what: a project's members and their roles (personal
API keys are in keys.py). Gated by the core's gate like every page."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from analytics_app.access import project_page
from analytics_app.models import Membership

from . import audit
from .forms import AddMemberForm, ChangeRoleForm
from .roles import ROLE_DESCRIPTIONS, ROLE_PERMISSIONS, Permission, Role

MEMBERS_TEMPLATE = "governance/members.html"


@require_http_methods(["GET", "POST"])
@project_page(Permission.VIEW_PROJECT, write=Permission.MANAGE_MEMBERS)
def project_members(request):
    project = request.project
    add_form = AddMemberForm(request.POST or None, project=project)
    status = 200
    if request.method == "POST":
        if add_form.is_valid():
            member = Membership.objects.create(
                user=add_form.user, project=project, role=add_form.cleaned_data["role"]
            )
            audit.record(
                request, "member.add", project=project, target=member.user, after={"role": member.role}
            )
            messages.success(
                request,
                f"{add_form.user.email or add_form.user.username} added as {add_form.cleaned_data['role']}.",
            )
            return redirect("project_members", project_id=project.pk)
        status = 400
    return render(request, MEMBERS_TEMPLATE, _members_context(request, add_form), status=status)


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
        audit.record(
            request,
            "member.remove",
            project=request.project,
            target=membership.user,
            before={"role": membership.role},
        )
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
        return render(request, MEMBERS_TEMPLATE, _members_context(request, confirm=confirm))
    before = membership.role
    membership.role = role
    membership.save()
    audit.record(
        request,
        "member.role",
        project=request.project,
        target=membership.user,
        before={"role": before},
        after={"role": role},
    )
    messages.success(request, f"{membership.user} is now {membership.get_role_display()}.")
    return redirect("project_members", project_id=request.project.pk)


def _another_admin_remains(membership: Membership) -> bool:
    return (
        Membership.objects.filter(project=membership.project, role=Role.ADMIN)
        .exclude(pk=membership.pk)
        .exists()
    )
