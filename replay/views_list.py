"""The recordings list page and GET /api/projects/<id>/recordings/ (being built by R1)."""

from django.http import Http404


def recordings(request, project_id):
    raise Http404("being built")


def api_recordings(request, project_id):
    raise Http404("being built")
