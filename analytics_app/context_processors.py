from django.urls import reverse

from .access import projects_for
from .navigation import SECTIONS


def navigation(request):
    """The project switcher and the sections this user may open in this project."""
    project = getattr(request, "project", None)
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    perms = getattr(request, "perms", frozenset())
    sections = []
    if project is not None:
        current = request.resolver_match.url_name if request.resolver_match else ""
        for s in SECTIONS:
            if s.permission in perms:
                sections.append({"label": s.label, "url": reverse(s.url_name, kwargs={"project_id": project.pk}), "active": s.url_name == current})
    return {"nav_projects": projects_for(request.user), "nav_sections": sections, "current_project": project}
