"""Optional TOTP two-factor (django-otp): enrolment and removal on the Account page, the
second sign-in step, and the middleware that holds a user at that step.

- A user with a confirmed device who has not entered a code in this session reaches no
  page but the code page (and log out); JSON requests get 401.
- An admin of a project that requires two-factor for admins (`Project.require_admin_2fa`)
  and has no confirmed device is sent to enrolment before any page of that project.
- Recovery codes (django-otp's static device): ten one-use codes made at enrolment and
  shown once; any of them stands in for a code at the second step (someone who lost the
  phone is not locked out). Stored as SHA-256 digests, never as the codes; a new set
  replaces the old one.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
from urllib.parse import urlencode

import django_otp
import qrcode
import qrcode.image.svg
from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Exists, OuterRef
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_http_methods
from django_otp.plugins.otp_static.models import StaticDevice, StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from analytics_app.models import Membership
from governance.roles import Role

from . import audit

DEVICE_NAME = "Authenticator app"
RECOVERY_DEVICE_NAME = "Recovery codes"
RECOVERY_CODES = 10
_RECOVERY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"  # no 0/o, 1/l/i to misread
_SESSION_NEW_CODES = "sextant_new_recovery_codes"


def confirmed_device(user) -> TOTPDevice | None:
    if not user.is_authenticated:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def _recovery_digest(code: str) -> str:
    """What is stored for a recovery code: its normalised form's SHA-256, cut to the column."""
    normal = re.sub(r"[\s-]+", "", code).lower()
    return hashlib.sha256(normal.encode()).hexdigest()[:16]


def new_recovery_codes(user) -> list[str]:
    """Replace the user's recovery codes with RECOVERY_CODES new ones (10 characters, ~49 bits
    each) and return them: the only time they exist outside the user's hands."""
    StaticDevice.objects.filter(user=user).delete()
    device = StaticDevice.objects.create(user=user, name=RECOVERY_DEVICE_NAME, confirmed=True)
    codes = []
    while len(codes) < RECOVERY_CODES:
        raw = "".join(secrets.choice(_RECOVERY_ALPHABET) for _ in range(10))
        code = f"{raw[:5]}-{raw[5:]}"
        if code not in codes:
            codes.append(code)
    StaticToken.objects.bulk_create(StaticToken(device=device, token=_recovery_digest(c)) for c in codes)
    return codes


def recovery_codes_left(user) -> int:
    return StaticToken.objects.filter(device__user=user, device__confirmed=True).count()


def use_recovery_code(user, code: str) -> StaticDevice | None:
    """The user's recovery device if `code` is one of their unused codes (then used up), else None.
    The code is removed with one DELETE, so two requests racing with it cannot both pass;
    wrong codes slow down further tries (django-otp's throttling)."""
    device = StaticDevice.objects.filter(user=user, confirmed=True).first()
    if device is None or not re.fullmatch(r"[A-Za-z0-9]{5}-?[A-Za-z0-9]{5}", code):
        return None
    allowed, _ = device.verify_is_allowed()
    if not allowed:
        return None
    deleted, _ = StaticToken.objects.filter(device=device, token=_recovery_digest(code)).delete()
    if not deleted:
        device.throttle_increment()
        return None
    device.throttle_reset()
    return device


class CodeForm(forms.Form):
    code = forms.CharField(
        label="Code from your authenticator app",
        max_length=24,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "size": 8}),
    )

    def verify(self, device) -> bool:
        """Whether the code is right for `device` (django-otp slows down repeated wrong codes)."""
        if not self.is_valid():
            return False
        code = re.sub(r"\s+", "", self.cleaned_data["code"])
        if device is None or not code.isdigit() or not device.verify_token(code):
            self.add_error("code", "This code is not right, or has expired. Enter the current one.")
            return False
        return True


def secret_of(device: TOTPDevice) -> str:
    """The key as the base32 text an authenticator app accepts typed in."""
    return base64.b32encode(device.bin_key).decode().rstrip("=")


def qr_svg(text: str) -> str:
    """`text` as a QR code: an <svg> element to place inline in the page (no image URL, no JS)."""
    svg = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage, box_size=8).to_string().decode()
    svg = re.sub(r"<\?xml[^>]*\?>\s*", "", svg)
    return svg.replace("<svg ", '<svg role="img" aria-label="QR code of the two-factor key" class="qr" ', 1)


@require_http_methods(["GET", "POST"])
@login_required
def two_factor(request):
    """Enrol (QR code + key, confirmed with a code) or, when enrolled, disable (with a code)."""
    device = confirmed_device(request.user)
    form = CodeForm(request.POST or None)
    status = 200
    if device is not None:
        regenerate = request.POST.get("action") == "recovery_codes"
        if request.method == "POST":
            if form.verify(device):
                if regenerate:
                    request.session[_SESSION_NEW_CODES] = new_recovery_codes(request.user)
                    audit.record(request, "account.2fa_recovery_codes", target=request.user.get_username())
                    return redirect("two_factor")
                TOTPDevice.objects.filter(user=request.user).delete()
                StaticDevice.objects.filter(user=request.user).delete()
                audit.record(request, "account.2fa_disable", target=request.user.get_username())
                messages.success(request, "Two-factor sign-in is off.")
                return redirect("account")
            status = 400
        context = {
            "device": device,
            "form": form,
            "regenerate": regenerate,
            "blank_form": CodeForm(auto_id="id_other_%s"),
            "new_codes": request.session.pop(_SESSION_NEW_CODES, None),
            "codes_left": recovery_codes_left(request.user),
            "next": request.GET.get("next", ""),
        }
        return render(request, "governance/two_factor.html", context, status=status)

    pending = TOTPDevice.objects.filter(user=request.user, confirmed=False).first()
    if pending is None:
        pending = TOTPDevice.objects.create(user=request.user, name=DEVICE_NAME, confirmed=False)
    if request.method == "POST":
        if form.verify(pending):
            pending.confirmed = True
            pending.save(update_fields=["confirmed"])
            django_otp.login(request, pending)  # this session has just proved it holds the key
            request.session[_SESSION_NEW_CODES] = new_recovery_codes(request.user)
            audit.record(request, "account.2fa_enable", target=request.user.get_username())
            messages.success(request, "Two-factor sign-in is on: each sign-in now asks for a code.")
            # The recovery codes are shown once, on the next page; from there, on to `next`.
            target = _next_url(request, default="account")
            return redirect(f"{reverse('two_factor')}?{urlencode({'next': target})}")
        status = 400
    context = {
        "pending": pending,
        "form": form,
        "secret": secret_of(pending),
        "qr": mark_safe(qr_svg(pending.config_url)),  # noqa: S308 - generated here from our own key
        "next": request.GET.get("next", ""),
    }
    return render(request, "governance/two_factor.html", context, status=status)


def _next_url(request, default: str = "home") -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return reverse(default)


@require_http_methods(["GET", "POST"])
@login_required
def two_factor_verify(request):
    """The second sign-in step: a code from the user's device."""
    device = confirmed_device(request.user)
    if device is None or request.user.is_verified():
        return redirect(_next_url(request))
    form = CodeForm(request.POST or None)
    form.fields["code"].label = "Code from your authenticator app, or a recovery code"
    if request.method == "POST":
        code = re.sub(r"\s+", "", request.POST.get("code", ""))
        if code and not code.isdigit():  # not a TOTP code: one of the recovery codes?
            recovery = use_recovery_code(request.user, code) if form.is_valid() else None
            if recovery is not None:
                django_otp.login(request, recovery)
                audit.record(request, "account.2fa_recovery_used", target=request.user.get_username())
                left = recovery_codes_left(request.user)
                messages.warning(
                    request,
                    f"You signed in with a recovery code; {left} left. "
                    "Make new ones on the two-factor page if you are running short.",
                )
                return redirect(_next_url(request))
            form.add_error("code", "This is not one of your unused recovery codes.")
        elif form.verify(device):
            django_otp.login(request, device)
            return redirect(_next_url(request))
        status = 400
    else:
        status = 200
    context = {"form": form, "next": _next_url(request), "hide_nav": True}  # its links would lead back here
    return render(request, "registration/two_factor_verify.html", context, status=status)


# Pages a user who still owes a code may open.
_UNVERIFIED_ALLOWED = frozenset({"two_factor_verify", "logout", "login"})


class TwoFactorMiddleware:
    """After django-otp's OTPMiddleware (which gives `request.user.is_verified()`)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or user.is_verified():
            return None  # verified: has a device and entered its code in this session
        name = request.resolver_match.url_name if request.resolver_match else None
        if name in _UNVERIFIED_ALLOWED:
            return None
        project_id = view_kwargs.get("project_id")
        has_device, must_enrol = _state(user, project_id if name != "two_factor" else None)
        if has_device:
            return _refuse(request, "two_factor_verify", "Enter the code from your authenticator app first.")
        if must_enrol:
            return _refuse(request, "two_factor", "This project requires two-factor sign-in for its admins.")
        return None


def _state(user, project_id) -> tuple[bool, bool]:
    """(has a confirmed device, is an admin of `project_id` which requires one), in one query."""
    checks = {"has_device": Exists(TOTPDevice.objects.filter(user=OuterRef("pk"), confirmed=True))}
    if project_id is not None:
        checks["must_enrol"] = Exists(
            Membership.objects.filter(
                user=OuterRef("pk"), project_id=project_id, role=Role.ADMIN, project__require_admin_2fa=True
            )
        )
    row = (
        get_user_model()._default_manager.filter(pk=user.pk).annotate(**checks).values(*checks).first() or {}
    )
    return bool(row.get("has_device")), bool(row.get("must_enrol"))


def _refuse(request, url_name: str, message: str):
    if request.path.startswith("/api/"):
        return JsonResponse({"error": message}, status=401)
    if url_name == "two_factor":
        messages.warning(request, message + " Set it up to continue.")
    return redirect(f"{reverse(url_name)}?{urlencode({'next': request.get_full_path()})}")
