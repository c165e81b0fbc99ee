"""The person deletion page (GDPR / CCPA erasure requests) of a project.

Admins only: `manage_project`, the permission for changes to the project's data as a whole
(settings, retention), rather than `manage_members`, which is about who may sign in. One
page: find the person (POST `find`), confirm with the counts of what will go (POST
`confirm`), then the list of requests with their progress, which htmx polls while one runs.
"""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from analytics_app.access import project_page

from . import audit
from .deletion import find_persons, masked_identifier
from .models import DeletionRequest, hash_identifier
from .roles import Permission
from .tasks import erase_person

TEMPLATE = "governance/deletions.html"


class FindPersonForm(forms.Form):
    kind = forms.ChoiceField(choices=DeletionRequest.Kind.choices, initial=DeletionRequest.Kind.DISTINCT_ID)
    identifier = forms.CharField(max_length=400, strip=True)

    def clean_identifier(self):
        value = self.cleaned_data["identifier"]
        if "\x00" in value:
            raise forms.ValidationError("This identifier contains a NUL character.")
        return value


def _context(request, form, **extra) -> dict:
    requests = list(
        DeletionRequest.objects.filter(project=request.project).select_related("requested_by")[:50]
    )
    return {
        "project": request.project,
        "form": form,
        "requests": requests,
        "polling": any(r.active for r in requests),
        **extra,
    }


@require_http_methods(["GET", "POST"])
@project_page(Permission.MANAGE_PROJECT)
def project_deletions(request):
    project = request.project
    if request.method == "GET":
        template = (
            f"{TEMPLATE}#requests" if request.htmx and not request.htmx.history_restore_request else TEMPLATE
        )
        return render(request, template, _context(request, FindPersonForm()))
    form = FindPersonForm(request.POST)
    if not form.is_valid():
        return render(request, TEMPLATE, _context(request, form), status=400)
    kind, value = form.cleaned_data["kind"], form.cleaned_data["identifier"]
    target = find_persons(project, kind, value)
    masked = masked_identifier(kind, value)
    if not target:
        return render(request, TEMPLATE, _context(request, form, not_found=masked))
    if request.POST.get("action") != "confirm":
        return render(request, TEMPLATE, _context(request, form, found=target, masked=masked))
    deletion = DeletionRequest.objects.create(
        project=project,
        requested_by=request.user,
        identifier_kind=kind,
        identifier_hash=hash_identifier(kind, value),
        identifier_masked=masked,
        person_ids=[str(p) for p in target.person_ids],
        counts=target.counts,
    )
    audit.record(
        request,
        "data.delete_person",
        project=project,
        target=masked,
        after={"request": deletion.pk, "status": "requested", "kind": kind, **target.counts},
    )
    transaction.on_commit(lambda: erase_person.delay(deletion.pk, value))
    messages.success(request, f"Deletion of {masked} started.")
    return redirect("project_deletions", project_id=project.pk)
