"""A user's own account: the Account page, password change and reset (Django's views in
the app's layout), "sign out everywhere" and the login lockout page. Per-user pages:
`login_required`, no project. Two-factor lives in `governance.twofactor`.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET

from . import audit


@require_GET
@login_required
def account(request):
    return render(request, "governance/account.html")


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
    """The link's page: a new password twice."""

    template_name = "registration/password_reset_confirm.html"
    success_url = reverse_lazy("password_reset_complete")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit.record(self.request, "account.password_reset", target=form.user.get_username(), actor=form.user)
        return response
