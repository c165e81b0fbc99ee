"""A user's personal API keys: create one with a scope, list them, revoke one.

The page has no project (a key may cover several), so it is `login_required` and renders
in UTC; every change is audited (`key.create`, `key.revoke`) without a project."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_http_methods

from analytics_app.models import PersonalAPIKey

from . import audit
from .forms import APIKeyForm


def key_facts(key: PersonalAPIKey) -> dict:
    """What the audit log keeps of a key (never its value)."""
    return {
        "label": key.label,
        "mask": key.mask,
        "scope": "all projects" if key.all_projects else sorted(p.name for p in key.projects.all()),
        "read_only": key.read_only,
        "expires_at": key.expires_at.isoformat() if key.expires_at else None,
    }


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request):
    form = APIKeyForm(request.POST or None, user=request.user)
    new_key = None
    status = 200
    if request.method == "POST":
        if request.POST.get("action") == "revoke":
            key = get_object_or_404(
                PersonalAPIKey, pk=request.POST.get("key_id", 0) or 0, user=request.user, revoked_at=None
            )
            key.revoke()
            audit.record(
                request, "key.revoke", target=str(key), before=key_facts(key), after={"revoked": True}
            )
            messages.success(request, f"Key {key.label} revoked.")
            return redirect("api_keys")
        if form.is_valid():
            key, new_key = form.save()
            audit.record(request, "key.create", target=str(key), after=key_facts(key))
            form = APIKeyForm(user=request.user)
        else:
            status = 400
    keys = PersonalAPIKey.objects.filter(user=request.user).prefetch_related("projects")
    return render(
        request,
        "governance/api_keys.html",
        {"form": form, "keys": keys, "new_key": new_key},
        status=status,
    )
