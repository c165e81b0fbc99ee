"""A user's own account: the Account page, password change and reset (Django's views in
the app's layout), "sign out everywhere" and the login lockout page. Per-user pages:
`login_required`, no project. Two-factor lives in `governance.twofactor`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import authenticate, update_session_auth_hash
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET, require_http_methods

from . import audit
from .models import AuditEntry
from .twofactor import confirmed_device

ACCOUNT_TEMPLATE = "governance/account.html"


@require_GET
@login_required
def account(request):
    return render(request, ACCOUNT_TEMPLATE, _account_context(request, ConfirmPasswordForm()))


# How many of the user's own recent account and key changes the Account page lists.
OWN_ACTIVITY = 20


def _account_context(request, signout_form) -> dict:
    return {
        "signout_form": signout_form,
        "device": confirmed_device(request.user),
        "activity": own_activity(request.user),
    }


def own_activity(user) -> list:
    """The user's latest changes that belong to no project (keys, password, two-factor,
    sign-out everywhere): no project's audit page shows them, so their owner sees them here."""
    entries = AuditEntry.objects.filter(actor=user, project__isnull=True).order_by("-created_at", "-id")
    return [
        {"at": e.created_at, "action": audit.ACTIONS.get(e.action, e.action), "target": e.target, "ip": e.ip}
        for e in entries[:OWN_ACTIVITY]
    ]


class ConfirmPasswordForm(forms.Form):
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def check(self, request) -> bool:
        """Whether the password is right, asked through authenticate() so that wrong
        guesses count towards the login lockout like any other."""
        if not self.is_valid():
            return False
        user = authenticate(
            request, username=request.user.get_username(), password=self.cleaned_data["password"]
        )
        if user is None or user.pk != request.user.pk:
            self.add_error("password", "This is not your password.")
            return False
        return True


@require_http_methods(["POST"])
@login_required
def signout_everywhere(request):
    """End every other session of the user; this one stays signed in.

    The password is re-hashed with a new salt: Django keeps a hash of it in each session
    and signs out any session whose hash no longer matches, whatever the session store.
    """
    form = ConfirmPasswordForm(request.POST)
    if not form.check(request):  # a lockout this triggers is answered by axes' middleware
        return render(request, ACCOUNT_TEMPLATE, _account_context(request, form), status=400)
    user = request.user
    user.set_password(form.cleaned_data["password"])
    user.save(update_fields=["password"])
    update_session_auth_hash(request, user)
    audit.record(request, "account.signout_everywhere", target=user.get_username())
    messages.success(request, "Every other session of your account is signed out; this one stays signed in.")
    return redirect("account")


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django's view (old password, new twice, validators); the session that changed the
    password stays signed in, every other session of the user is signed out (Django
    invalidates sessions whose stored password hash no longer matches)."""

    template_name = "registration/password_change_form.html"
    success_url = reverse_lazy("account")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(self.request, "account.password_change", target=self.request.user.get_username())
        messages.success(self.request, "Password changed. Your other sessions were signed out.")
        return response


class PasswordResetView(auth_views.PasswordResetView):
    """Asks for an address and always answers the same way (no hint whether it has an account).
    The link points at SEXTANT_PUBLIC_URL when it is set, else at the request's host."""

    template_name = "registration/password_reset_form.html"
    email_template_name = "registration/password_reset_email.txt"
    subject_template_name = "registration/password_reset_subject.txt"
    success_url = reverse_lazy("password_reset_done")

    def form_valid(self, form):
        public = urlsplit(getattr(settings, "SEXTANT_PUBLIC_URL", "") or "")
        if public.netloc:
            self.extra_email_context = {"protocol": public.scheme or "https", "domain": public.netloc}
        return super().form_valid(form)


class PasswordResetConfirmView(auth_views.PasswordResetConfirmView):
    """The link's page: a new password twice. Also lifts a login lockout of that user."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        from axes.utils import reset as axes_reset  # noqa: PLC0415

        response = super().form_valid(form)
        axes_reset(username=lockout_username(None, {"username": form.user.get_username()}))
        audit.record(self.request, "account.password_reset", target=form.user.get_username(), actor=form.user)
        return response


def lockout_username(request, credentials) -> str:
    """The username a login attempt is counted under (AXES_USERNAME_CALLABLE): as typed,
    trimmed and lower-cased, so `Alice@x.io` and `alice@x.io ` share one counter."""
    value = (credentials or {}).get("username")
    if value is None and request is not None:
        value = request.POST.get("username")
    return str(value or "").strip().lower()


def locked_out(request, response=None, credentials=None):
    """The lockout page (AXES_LOCKOUT_CALLABLE): 429, in the app's layout, saying for how long."""
    from axes.helpers import get_cool_off  # noqa: PLC0415

    cool_off = get_cool_off(request)
    context = {
        "username": lockout_username(request, credentials),
        "failure_limit": settings.AXES_FAILURE_LIMIT,
        "minutes": round(cool_off.total_seconds() / 60) if cool_off else None,
    }
    page = render(request, "registration/locked_out.html", context, status=429)
    if cool_off:
        page["Retry-After"] = str(int(cool_off.total_seconds()))
    return page
