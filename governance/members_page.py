"""What the members page shows: members, pending invites, the add/invite/create forms and
the roles. Shared by the views that post to it (members, invites, new accounts), so a
form error is shown on the same page."""

from __future__ import annotations

from analytics_app.models import Membership

from .forms import AddMemberForm, InviteForm, NewUserForm
from .models import CustomRole, Invite
from .roles import ROLE_DESCRIPTIONS, Permission, Role


def members_context(request, *, add_form=None, invite_form=None, create_form=None, **extra) -> dict:
    project = request.project
    members = list(
        Membership.objects.filter(project=project)
        .select_related("user", "custom_role")
        .order_by("user__email", "user__username")
    )
    admins = [m for m in members if Permission.MANAGE_MEMBERS in m.permission_set]
    can_manage = Permission.MANAGE_MEMBERS in request.perms
    invites = []
    if can_manage:
        invites = [
            i
            for i in Invite.objects.filter(project=project, accepted_at__isnull=True, revoked_at__isnull=True)
            .select_related("custom_role", "created_by")
            .order_by("email")
        ]
    custom_roles = list(CustomRole.objects.filter(project=project))
    roles = [(r.value, r.label, ROLE_DESCRIPTIONS[r]) for r in Role]
    roles += [
        (
            f"custom:{c.pk}",
            f"{c.name} (custom)",
            "Custom: " + ", ".join(Permission(p).label for p in c.permissions),
        )
        for c in custom_roles
    ]
    return {
        "project": project,
        "members": members,
        "last_admin_ids": {m.pk for m in admins} if len(admins) == 1 else set(),
        "add_form": add_form or AddMemberForm(project=project),
        "invite_form": invite_form or InviteForm(project=project),
        "create_form": create_form or NewUserForm(project=project),
        "invites": invites,
        "can_manage": can_manage,
        "roles": roles,
        **extra,
    }
