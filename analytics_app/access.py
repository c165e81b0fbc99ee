"""The one access gate: load the project, authenticate, check the permission.

Every page uses @project_page(perm) and every JSON endpoint @project_api(perm).
They run before the handler (as Sentry does), so a handler never sees a project
its user may not open:

- no access to the project at all -> 404 (its existence is not revealed)
- some access, but not the permission the view needs -> 403
- JSON endpoints: no credentials -> 401, bad input (BadRequest) -> 400 with the reason

The handler gets `request.project` and `request.perms` (a frozenset of codenames),
and `request.presenter`, the one object every output passes through (masking).
"""

from __future__ import annotations

import functools
import json
import logging

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.views.decorators.csrf import csrf_exempt
from guardian.shortcuts import get_objects_for_user, get_perms

from . import clickhouse as ch
from .models import Permission, PersonalAPIKey, Project
from .output import Presenter, viewing

log = logging.getLogger(__name__)


class BadRequest(Exception):
    """Client input that cannot be used; becomes a 400 with this message."""

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


def projects_for(user):
    """Projects the user can open, for lists and the switcher."""
    if not user.is_authenticated:
        return Project.objects.none()
    return get_objects_for_user(
        user, f"analytics_app.{Permission.VIEW_PROJECT}", klass=Project, accept_global_perms=False
    )


def load_project(user, project_id, perm: str) -> tuple[Project, frozenset[str]]:
    try:
        project = Project.objects.get(pk=int(project_id))
    except (Project.DoesNotExist, ValueError, TypeError):
        raise Http404("No such project") from None
    perms = frozenset(get_perms(user, project)) if user.is_authenticated and user.is_active else frozenset()
    if Permission.VIEW_PROJECT not in perms:
        raise Http404("No such project")
    if perm not in perms:
        raise PermissionDenied(f"Your role in {project.name} does not allow this ({Permission(perm).label}).")
    return project, perms


def _attach(request, project, perms) -> None:
    request.project = project
    request.perms = perms
    request.presenter = Presenter.for_request(project, perms)


def project_page(perm: str = Permission.VIEW_PROJECT):
    """Gate for HTML views taking a `project_id` URL kwarg."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, project_id, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            project, perms = load_project(request.user, project_id, perm)
            _attach(request, project, perms)
            request.session["last_project_id"] = project.pk
            with viewing(request.presenter):
                return view(request, *args, **kwargs)

        return wrapper

    return decorator


def bearer_user(request):
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return PersonalAPIKey.authenticate(header[7:].strip()), True
    return None, False


def json_error(status: int, message: str, **extra) -> JsonResponse:
    return JsonResponse({"error": message, **extra}, status=status)


def _csrf_failure(request):
    """Session-authenticated writes must carry the CSRF token; bearer ones need not."""
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return None
    check = CsrfViewMiddleware(lambda r: None)
    return check.process_view(request, None, (), {})


def parse_json_body(request) -> dict:
    if not request.body:
        raise BadRequest("The request body is empty; send a JSON object.")
    try:
        body = json.loads(request.body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.")
    return body


def project_api(perm: str = Permission.VIEW_PROJECT):
    """Gate for JSON endpoints under /api/projects/<project_id>/."""

    def decorator(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, project_id, *args, **kwargs):
            user, used_bearer = bearer_user(request)
            if used_bearer and user is None:
                return json_error(401, "The personal API key is unknown or revoked.")
            if not used_bearer:
                user = request.user if request.user.is_authenticated else None
                if user is None:
                    return json_error(
                        401,
                        "Authentication required: log in or send Authorization: Bearer <personal API key>.",
                    )
                failure = _csrf_failure(request)
                if failure is not None:
                    return json_error(
                        403, "CSRF token missing or incorrect for a session-authenticated request."
                    )
            request.user = user
            try:
                project, perms = load_project(user, project_id, perm)
            except Http404:
                return json_error(404, "Project not found.")
            except PermissionDenied as exc:
                return json_error(403, str(exc))
            _attach(request, project, perms)
            try:
                with viewing(request.presenter):
                    return view(request, *args, **kwargs)
            except BadRequest as exc:
                return json_error(400, exc.message, **({"errors": exc.errors} if exc.errors else {}))
            except PermissionDenied as exc:
                return json_error(403, str(exc) or "Permission denied.")
            except (ch.QueryTimeout, ch.QueryTooLarge) as exc:
                return json_error(
                    422,
                    "The query is too large for the configured limits; narrow the date range or filters.",
                    detail=exc.message,
                )
            except ch.BadQueryParameter as exc:
                return json_error(400, "A value could not be used in the query.", detail=exc.message)
            except ch.Unavailable as exc:
                return json_error(
                    503, "The events store is unavailable; try again shortly.", detail=exc.message
                )

        return wrapper

    return decorator
