"""Invites by e-mail and accounts created by an admin (the members page's other forms),
and the page an invitee opens from the link.

The link `/invite/<token>/` carries a random token; only its SHA-256 is stored, and it
is shown to the admin once (for installs that send no e-mail). Accepting, revoking or a
resend (a new token and expiry) ends the old link; an unknown link is a 404, a used,
revoked or expired one a 410, each a page that says so.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.core.mail import send_mail
from django.db import transaction
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from analytics_app.access import project_page
from analytics_app.models import Membership

from . import audit
from .forms import AcceptInviteForm, AssignedRole, InviteForm, NewUserForm, create_account
from .members_page import members_context
from .membership import add_member
from .models import Invite
from .roles import Permission

log = logging.getLogger(__name__)
MEMBERS_TEMPLATE = "governance/members.html"
ACCEPT_TEMPLATE = "governance/invite_accept.html"
INVALID_TEMPLATE = "governance/invite_invalid.html"


def invite_link(request, raw_token: str) -> str:
    path = reverse("invite_accept", kwargs={"token": raw_token})
    base = getattr(settings, "SEXTANT_PUBLIC_URL", "").rstrip("/")
    return base + path if base else request.build_absolute_uri(path)


def send_invite(request, invite: Invite, link: str) -> str | None:
    """E-mail the link; the reason it could not be sent, or None."""
    inviter = request.user.get_full_name() or request.user.email or request.user.get_username()
    days = max(1, round((invite.expires_at - timezone.now()).total_seconds() / 86400))
    body = (
        f"{inviter} invites you to the project {invite.project.name} on Sextant, as {invite.role_label}.\n\n"
        f"Open this link to join (it works once, for {days} day{'s' if days != 1 else ''}):\n{link}\n\n"
        "If you did not expect this, ignore this e-mail."
    )
    try:
        send_mail(f"Join {invite.project.name} on Sextant", body, None, [invite.email])
    except Exception as exc:  # noqa: BLE001 - any transport error: the admin still has the link
        log.warning("invite e-mail to %s not sent: %s", invite.email, exc)
        return f"The e-mail could not be sent ({exc.__class__.__name__}); give the link to {invite.email} yourself."
    return None


def _shown_once(request, invite: Invite, raw: str) -> dict:
    link = invite_link(request, raw)
    return {
        "email": invite.email,
        "link": link,
        "error": send_invite(request, invite, link),
        "invite": invite,
    }


@require_POST
@project_page(Permission.MANAGE_MEMBERS)
def invite_create(request):
    form = InviteForm(request.POST, project=request.project)
    if not form.is_valid():
        return render(request, MEMBERS_TEMPLATE, members_context(request, invite_form=form), status=400)
    role: AssignedRole = form.cleaned_data["role"]
    with transaction.atomic():
        invite, raw = Invite.issue(
            request.project, form.cleaned_data["email"], role.role, role.custom_role, request.user
        )
        audit.record(
            request,
            "invite.create",
            project=request.project,
            target=invite.email,
            after={"role": role.audited, "expires_at": invite.expires_at.isoformat()},
        )
    new_invite = _shown_once(request, invite, raw)
    return render(request, MEMBERS_TEMPLATE, members_context(request, new_invite=new_invite))


@require_POST
@project_page(Permission.MANAGE_MEMBERS)
def invite_update(request, invite_id):
    """`action=revoke` or `action=resend` (a new link and expiry; the old link stops working)."""
    invite = get_object_or_404(
        Invite.objects.select_related("custom_role"),
        pk=invite_id,
        project=request.project,
        accepted_at__isnull=True,
        revoked_at__isnull=True,
    )
    action = request.POST.get("action")
    if action == "revoke":
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
        audit.record(request, "invite.revoke", project=request.project, target=invite.email)
        messages.success(request, f"The invite of {invite.email} is revoked; its link no longer works.")
        return redirect("project_members", project_id=request.project.pk)
    if action == "resend":
        if invite.role_gone:
            messages.error(
                request, f"The role of the invite of {invite.email} was deleted; revoke it and invite again."
            )
            return redirect("project_members", project_id=request.project.pk)
        with transaction.atomic():
            raw = invite.renew()
            audit.record(
                request,
                "invite.resend",
                project=request.project,
                target=invite.email,
                after={"expires_at": invite.expires_at.isoformat()},
            )
        new_invite = _shown_once(request, invite, raw)
        return render(request, MEMBERS_TEMPLATE, members_context(request, new_invite=new_invite))
    return render(request, MEMBERS_TEMPLATE, members_context(request), status=400)


@require_POST
@project_page(Permission.MANAGE_MEMBERS)
def member_create_user(request):
    """Create an account with a password and make it a member."""
    form = NewUserForm(request.POST, project=request.project)
    if not form.is_valid():
        return render(request, MEMBERS_TEMPLATE, members_context(request, create_form=form), status=400)
    role: AssignedRole = form.cleaned_data["role"]
    with transaction.atomic():
        user = form.save()
        audit.record(request, "member.create_user", project=request.project, target=user.email)
        add_member(request, request.project, user, role)
    messages.success(
        request, f"Account {user.email} created and added as {role.label}. Tell them their password."
    )
    return redirect("project_members", project_id=request.project.pk)


def _invalid(request, invite: Invite | None):
    if invite is None:
        reason, status = "This invitation link is not valid. Check that you copied all of it.", 404
    else:
        reason = {
            Invite.State.ACCEPTED: "This invitation was already used: it works once.",
            Invite.State.REVOKED: "This invitation was withdrawn. Ask the person who invited you for a new one.",
            Invite.State.EXPIRED: "This invitation has expired. Ask the person who invited you to send it again.",
        }.get(invite.state, "The role of this invitation no longer exists. Ask for a new invitation.")
        status = 410
    return render(request, INVALID_TEMPLATE, {"reason": reason}, status=status)


def _used_meanwhile(request, invite: Invite):
    """The page for an invite that another request used, revoked or renewed since it was read."""
    current = Invite.objects.get(pk=invite.pk)
    return _invalid(request, current if current.token_hash == invite.token_hash else None)


def _account_for(email: str):
    User = get_user_model()
    return (
        User.objects.filter(email__iexact=email).first()
        or User.objects.filter(username__iexact=email).first()
    )


@never_cache
@require_http_methods(["GET", "POST"])
def invite_accept(request, token):
    """The invitee's page: set a name and password (no account with the address yet), or
    join as the account with the address once signed in as it."""
    invite = Invite.for_token(token)
    if invite is None or invite.state != Invite.State.PENDING or invite.role_gone:
        response = _invalid(request, invite)
    else:
        account = _account_for(invite.email)
        if account is None:
            response = _accept_as_new_account(request, invite)
        else:
            response = _accept_as_account(request, invite, account)
    # The token is in the URL: keep it from other sites ("no-referrer" would also make the
    # browser send "Origin: null" with the form, which the CSRF check refuses).
    response["Referrer-Policy"] = "same-origin"
    return response


def _consume(invite: Invite) -> bool:
    """Mark the invite used; False if it was used, revoked or renewed meanwhile."""
    return bool(
        Invite.objects.filter(
            pk=invite.pk,
            token_hash=invite.token_hash,
            accepted_at__isnull=True,
            revoked_at__isnull=True,
            expires_at__gt=timezone.now(),
        ).update(accepted_at=timezone.now())
    )


def _accept_as_new_account(request, invite: Invite):
    form = AcceptInviteForm(request.POST or None, email=invite.email)
    if request.method == "POST" and form.is_valid():
        with transaction.atomic():
            if not _consume(invite):
                transaction.set_rollback(True)
                return _used_meanwhile(request, invite)
            user = create_account(invite.email, form.cleaned_data["name"], form.cleaned_data["password1"])
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            add_member(request, invite.project, user, AssignedRole.of(invite), action="invite.accept")
        messages.success(request, f"Welcome to {invite.project.name}.")
        return redirect("project_overview", project_id=invite.project_id)
    context = {"invite": invite, "form": form, "mode": "new"}
    return render(request, ACCEPT_TEMPLATE, context, status=400 if form.errors else 200)


def _accept_as_account(request, invite: Invite, account):
    context = {"invite": invite, "account": account}
    if not request.user.is_authenticated:
        login_url = f"{reverse('login')}?next={request.path}"
        return render(request, ACCEPT_TEMPLATE, {**context, "mode": "sign_in", "login_url": login_url})
    if request.user.pk != account.pk:
        status = 403 if request.method == "POST" else 200
        return render(request, ACCEPT_TEMPLATE, {**context, "mode": "other_account"}, status=status)
    if request.method == "POST":
        with transaction.atomic():
            if not _consume(invite):
                transaction.set_rollback(True)
                return _used_meanwhile(request, invite)
            if Membership.objects.filter(user=account, project=invite.project).exists():
                audit.record(request, "invite.accept", project=invite.project, target=invite.email)
                messages.info(request, f"You already are a member of {invite.project.name}.")
            else:
                add_member(request, invite.project, account, AssignedRole.of(invite), action="invite.accept")
                messages.success(request, f"You joined {invite.project.name} as {invite.role_label}.")
        return redirect("project_overview", project_id=invite.project_id)
    return render(request, ACCEPT_TEMPLATE, {**context, "mode": "join"})
