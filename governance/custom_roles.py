"""The roles page: the role x permission matrix (built-ins and the project's custom
roles, in words) and creating, changing and deleting custom roles.

Every member may read it (like the members page: what a role may do is no secret, and a
member can see what their own role allows); writes need manage_members. Changing a
custom role re-syncs the object permissions of every member holding it; a change that
grants PII or recordings access to members is confirmed first; a role in use (members
or pending invites) cannot be deleted; a change may not leave the project without a
member holding manage_members.
"""

from __future__ import annotations

from django.contrib import messages
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from analytics_app.access import project_page
from analytics_app.models import Membership

from . import audit
from .forms import CustomRoleForm
from .membership import admins, needs_confirmation
from .models import CustomRole, Invite, ordered_permissions
from .roles import ROLE_DESCRIPTIONS, ROLE_PERMISSIONS, Permission, Role

ROLES_TEMPLATE = "governance/roles.html"


def roles_context(request, *, create_form=None, edit_forms=None, **extra) -> dict:
    project = request.project
    custom = list(CustomRole.objects.filter(project=project))
    in_use = _usage(project)
    columns = [
        {"name": r.label, "description": ROLE_DESCRIPTIONS[r], "perms": ROLE_PERMISSIONS[r], "custom": None}
        for r in Role
    ]
    columns += [
        {
            "name": c.name,
            "description": _describe(c, in_use.get(c.pk, 0)),
            "perms": c.permission_set,
            "custom": c,
        }
        for c in custom
    ]
    matrix = [{"perm": p, "cells": [p.value in col["perms"] for col in columns]} for p in Permission]
    edit_forms = edit_forms or {}
    can_manage = Permission.MANAGE_MEMBERS in request.perms
    return {
        "project": project,
        "columns": columns,
        "matrix": matrix,
        "can_manage": can_manage,
        "create_form": create_form or CustomRoleForm(project=project),
        "custom_roles": [
            {
                "role": c,
                "form": edit_forms.get(c.pk) or CustomRoleForm(project=project, instance=c),
                "members": in_use.get(c.pk, 0),
            }
            for c in custom
        ],
        **extra,
    }


def _usage(project) -> dict[int, int]:
    counts: dict[int, int] = {}
    for role_id in Membership.objects.filter(project=project, custom_role__isnull=False).values_list(
        "custom_role_id", flat=True
    ):
        counts[role_id] = counts.get(role_id, 0) + 1
    return counts


def _describe(role: CustomRole, members: int) -> str:
    return f"Custom role, held by {members} member{'s' if members != 1 else ''}."


@require_http_methods(["GET", "POST"])
@project_page(Permission.VIEW_PROJECT, write=Permission.MANAGE_MEMBERS)
def project_roles(request):
    """The matrix; a POST creates a custom role."""
    if request.method == "POST":
        form = CustomRoleForm(request.POST, project=request.project)
        if not form.is_valid():
            return render(request, ROLES_TEMPLATE, roles_context(request, create_form=form), status=400)
        with transaction.atomic():
            role = CustomRole.objects.create(
                project=request.project,
                name=form.cleaned_data["name"],
                permissions=ordered_permissions(form.cleaned_data["permissions"]),
            )
            audit.record(
                request,
                "role.create",
                project=request.project,
                target=role.name,
                after={"permissions": role.permissions},
            )
        messages.success(request, f"Role {role.name} created. Give it to members on the members page.")
        return redirect("project_roles", project_id=request.project.pk)
    return render(request, ROLES_TEMPLATE, roles_context(request))


@require_POST
@project_page(Permission.MANAGE_MEMBERS)
def custom_role_update(request, role_id):
    """Save a custom role's name and permissions (`confirm=1` once a grant of PII or
    recordings to its members was shown), or delete it (`action=delete`)."""
    role = get_object_or_404(CustomRole, pk=role_id, project=request.project)
    back = redirect("project_roles", project_id=request.project.pk)
    if request.POST.get("action") == "delete":
        return _delete(request, role, back)
    form = CustomRoleForm(request.POST, project=request.project, instance=role)
    if not form.is_valid():
        return render(request, ROLES_TEMPLATE, roles_context(request, edit_forms={role.pk: form}), status=400)
    before = {"name": role.name, "permissions": list(role.permissions)}
    new_perms = frozenset(ordered_permissions(form.cleaned_data["permissions"]))
    holders = list(Membership.objects.filter(custom_role=role).select_related("user", "custom_role"))
    if Permission.MANAGE_MEMBERS not in new_perms and holders:
        others = [m for m in admins(request.project) if m.custom_role_id != role.pk]
        if not others:
            messages.error(
                request,
                f"Only members holding {role.name} manage members: the project would have no admin left.",
            )
            return back
    grants = needs_confirmation(role.permission_set, new_perms) if holders else []
    if grants and request.POST.get("confirm") != "1":
        confirm = {
            "role": role,
            "grants": grants,
            "members": holders,
            "name": form.cleaned_data["name"],
            "permissions": ordered_permissions(new_perms),
        }
        return render(request, ROLES_TEMPLATE, roles_context(request, confirm=confirm))
    with transaction.atomic():
        role.name = form.cleaned_data["name"]
        role.permissions = ordered_permissions(new_perms)
        role.save()
        for membership in holders:
            membership.custom_role = role
            membership.save()  # re-syncs the member's object permissions
        audit.record(
            request,
            "role.update",
            project=request.project,
            target=role.name,
            before=before,
            after={"name": role.name, "permissions": role.permissions},
        )
    messages.success(
        request, f"Role {role.name} saved; {len(holders)} member{'s' if len(holders) != 1 else ''} updated."
    )
    return back


def _delete(request, role: CustomRole, back):
    members = Membership.objects.filter(custom_role=role).count()
    pending = [
        i
        for i in Invite.objects.filter(custom_role=role, accepted_at__isnull=True, revoked_at__isnull=True)
        if i.state == Invite.State.PENDING
    ]
    if members or pending:
        held = []
        if members:
            held.append(f"{members} member{'s' if members != 1 else ''}")
        if pending:
            held.append(f"{len(pending)} pending invite{'s' if len(pending) != 1 else ''}")
        messages.error(
            request,
            f"Role {role.name} is in use ({' and '.join(held)}): give them another role "
            "or revoke the invites first.",
        )
        return back
    with transaction.atomic():
        audit.record(
            request,
            "role.delete",
            project=request.project,
            target=role.name,
            before={"permissions": role.permissions},
        )
        role.delete()
    messages.success(request, f"Role {role.name} deleted.")
    return back
