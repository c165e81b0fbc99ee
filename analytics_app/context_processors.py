from django.urls import reverse

from governance.roles import Permission

from .access import may_create_project, projects_for
from .navigation import SECTIONS


def navigation(request):
    """The project switcher and the sections this user may open in this project."""
    project = getattr(request, "project", None)
    if not getattr(request, "user", None) or not request.user.is_authenticated:
        return {}
    perms = getattr(request, "perms", frozenset())
    sections = []
    if project is not None:
        home = reverse("project_overview", kwargs={"project_id": project.pk})
        for s in SECTIONS:
            if s.permission in perms:
                url = reverse(s.url_name, kwargs={"project_id": project.pk})
                # A section is active on its page and the pages below it (the overview only on itself).
                active = request.path == url or (url != home and request.path.startswith(url))
                sections.append({"label": s.label, "url": url, "active": active})
    user = request.user
    return {
        "nav_projects": projects_for(user),
        "nav_sections": sections,
        "current_project": project,
        # Evaluated only if a template asks; an admin of the page's project costs no query.
        "can_create_project": lambda: Permission.MANAGE_MEMBERS in perms or may_create_project(user),
    }
