"""The player page and the snapshots API (being built by R2)."""

from django.http import Http404


def player(request, project_id, session_id):
    raise Http404("being built")


def api_snapshots(request, project_id, session_id):
    raise Http404("being built")
