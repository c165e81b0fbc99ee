"""Changing who is a member and with which role, each change written to the audit log.

The rules the members page, invites and custom roles share: a change that grants PII
or recordings access is confirmed first (`needs_confirmation`), and a project keeps at
least one admin, a member holding `manage_members` (a custom role with it counts).
"""

from __future__ import annotations

from django.db import transaction

from analytics_app.models import Membership, Project

from . import audit
from .forms import AssignedRole
from .roles import Permission

# Permissions a role change must confirm before it grants them.
CONFIRM_GRANTS = (Permission.VIEW_PII, Permission.VIEW_RECORDINGS)


def needs_confirmation(before: frozenset[str], after: frozenset[str]) -> list[str]:
    """The labels of the sensitive permissions `after` has and `before` has not."""
    gained = after - before
    return [p.label for p in CONFIRM_GRANTS if p in gained]


def admins(project: Project) -> list[Membership]:
    members = Membership.objects.filter(project=project).select_related("user", "custom_role")
    return [m for m in members if Permission.MANAGE_MEMBERS in m.permission_set]


def another_admin_remains(membership: Membership) -> bool:
    return any(m.pk != membership.pk for m in admins(membership.project))


def would_lose_last_admin(membership: Membership, new_permissions: frozenset[str]) -> bool:
    return (
        Permission.MANAGE_MEMBERS in membership.permission_set
        and Permission.MANAGE_MEMBERS not in new_permissions
        and not another_admin_remains(membership)
    )


def _user_label(user) -> str:
    return user.email or user.get_username()


def add_member(
    request, project: Project, user, role: AssignedRole, *, action: str = "member.add"
) -> Membership:
    with transaction.atomic():
        membership = Membership.objects.create(user=user, project=project, **role.fields())
        audit.record(request, action, project=project, target=_user_label(user), after={"role": role.audited})
    return membership


def set_role(request, membership: Membership, role: AssignedRole) -> None:
    before = AssignedRole.of(membership).audited
    with transaction.atomic():
        for field, value in role.fields().items():
            setattr(membership, field, value)
        membership.save()
        audit.record(
            request,
            "member.role",
            project=membership.project,
            target=_user_label(membership.user),
            before={"role": before},
            after={"role": role.audited},
        )


def remove_member(request, membership: Membership) -> None:
    with transaction.atomic():
        membership.delete()
        audit.record(
            request,
            "member.remove",
            project=membership.project,
            target=_user_label(membership.user),
            before={"role": AssignedRole.of(membership).audited},
        )
