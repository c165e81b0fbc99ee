"""The screens that change who may do what: a project's members and their roles (personal
API keys are in keys.py). Gated by the core's gate like every page."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from analytics_app.access import project_page
from analytics_app.models import Membership

from .forms import AddMemberForm, ChangeRoleForm
from .members_page import members_context
from .membership import add_member, needs_confirmation, remove_member, set_role, would_lose_last_admin
from .roles import Permission

MEMBERS_TEMPLATE = "governance/members.html"
LAST_ADMIN = "A project needs at least one admin: make someone else admin first."


@require_http_methods(["GET", "POST"])
@project_page(Permission.VIEW_PROJECT, write=Permission.MANAGE_MEMBERS)
def project_members(request):
    """The members, pending invites and the forms to add, invite or create members. A POST
    adds an existing account; invites and new accounts post to governance.invites."""
    project = request.project
    add_form = AddMemberForm(request.POST or None, project=project)
    status = 200
    if request.method == "POST":
        if add_form.is_valid():
            role = add_form.cleaned_data["role"]
            add_member(request, project, add_form.user, role)
            messages.success(
                request, f"{add_form.user.email or add_form.user.username} added as {role.label}."
            )
            return redirect("project_members", project_id=project.pk)
        status = 400
    return render(request, MEMBERS_TEMPLATE, members_context(request, add_form=add_form), status=status)


@require_POST
@project_page(Permission.MANAGE_MEMBERS)
def member_update(request, membership_id):
    """Change a member's role (an explicit save; a change that grants PII or recordings
    access is shown for confirmation first and applied with `confirm=1`) or remove them
    (`action=remove`). A project always keeps one admin (a member with manage_members)."""
    membership = get_object_or_404(
        Membership.objects.select_related("user", "custom_role"), pk=membership_id, project=request.project
    )
    back = redirect("project_members", project_id=request.project.pk)
    if request.POST.get("action") == "remove":
        if would_lose_last_admin(membership, frozenset()):
            messages.error(request, LAST_ADMIN)
            return back
        remove_member(request, membership)
        messages.success(request, f"{membership.user} removed.")
        return back
    form = ChangeRoleForm(request.POST, project=request.project)
    if not form.is_valid():
        return HttpResponseBadRequest("Unknown role.")
    role = form.cleaned_data["role"]
    if role.key == membership.role_key:
        messages.info(request, f"{membership.user} already is {membership.role_label}.")
        return back
    if would_lose_last_admin(membership, role.permissions):
        messages.error(request, LAST_ADMIN)
        return back
    grants = needs_confirmation(membership.permission_set, role.permissions)
    if grants and request.POST.get("confirm") != "1":
        confirm = {"membership": membership, "role": role.key, "role_label": role.label, "grants": grants}
        return render(request, MEMBERS_TEMPLATE, members_context(request, confirm=confirm))
    set_role(request, membership, role)
    messages.success(request, f"{membership.user} is now {membership.role_label}.")
    return back
