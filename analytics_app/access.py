"""The one access gate: load the project, authenticate, check the permission.

Every page uses @project_page(perm) and every JSON endpoint @project_api(perm);
`write=` names what a write (POST, PUT, PATCH, DELETE) needs on top of `perm`, so a
view that shows a page to every reader and takes changes from some roles declares
both. They run before the handler (as Sentry does), so a handler never sees a project
its user may not open, nor a write its user may not make:

- no access to the project at all -> 404 (its existence is not revealed)
- some access, but not the permission the view (or the write) needs -> 403: for pages,
  the 403 page in the app's layout (with the menu of what the role may use) saying which
  role lacks which permission; a PermissionDenied raised by the handler gets the same
  page with its message. An ordinary 403 is logged as one line, without a traceback.
- JSON endpoints: no credentials, or an unknown, revoked or expired API key -> 401 saying
  which; bad input (BadRequest) -> 400 with the reason
- an API key acts as its owner, narrowed to its scope: a project outside it -> 404 as for
  a non-member, a read-only key sending a write -> 403

The handler gets `request.project` and `request.perms` (a frozenset of codenames),
and `request.presenter`, the one object every output passes through (masking).
It runs with the project's time zone active (django.utils.timezone), so every
datetime a template renders (`|date`, `{{ value }}`) shows the project's local
time, the same zone the charts bucket by (docs/architecture.md, "Time zones").
"""

from __future__ import annotations

import functools
import json
import logging

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from guardian.shortcuts import get_objects_for_user, get_perms

from governance.presenter import Presenter, viewing
from governance.roles import Permission

from . import clickhouse as ch
from .errors import BadRequest
from .models import APIKeyRefused, Membership, PersonalAPIKey, Project

log = logging.getLogger(__name__)


def projects_for(user):
    """Projects the user can open, for lists and the switcher."""
    if not user.is_authenticated:
        return Project.objects.none()
    return get_objects_for_user(
        user, f"analytics_app.{Permission.VIEW_PROJECT}", klass=Project, accept_global_perms=False
    )


def visible_project(user, project_id) -> tuple[Project, frozenset[str]]:
    """The project and the user's permissions on it; 404 unless the user may open it."""
    try:
        project = Project.objects.get(pk=int(project_id))
    except (Project.DoesNotExist, ValueError, TypeError):
        raise Http404("No such project") from None
    perms = frozenset(get_perms(user, project)) if user.is_authenticated and user.is_active else frozenset()
    if Permission.VIEW_PROJECT not in perms:
        raise Http404("No such project")
    return project, perms


def may_create_project(user) -> bool:
    """Whether `user` may create a project (settings.SEXTANT_PROJECT_CREATORS): "anyone",
    or by default staff, superusers and members holding manage_members somewhere; and
    anyone while no project exists (the first user of a fresh install)."""
    if not user.is_authenticated or not user.is_active:
        return False
    if (
        getattr(settings, "SEXTANT_PROJECT_CREATORS", "admin") == "anyone"
        or user.is_staff
        or user.is_superuser
    ):
        return True
    memberships = Membership.objects.filter(user=user).select_related("custom_role")
    if any(Permission.MANAGE_MEMBERS in m.permission_set for m in memberships):
        return True
    return not Project.objects.exists()


def denial(user, project, perm: str) -> str:
    """Why a member may not do something: 'Your role (Executive) in Acme does not allow: ...'."""
    membership = Membership.objects.filter(user=user, project=project).first()
    role = f" ({membership.role_label})" if membership else ""
    return f"Your role{role} in {project.name} does not allow: {Permission(perm).label}."


WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def lacking(perms: frozenset[str], perm: str, write: str | None, method: str) -> str | None:
    """The permission the request needs and the role lacks: `perm`, or `write` for a write."""
    if perm not in perms:
        return perm
    if write is not None and method in WRITE_METHODS and write not in perms:
        return write
    return None


def load_project(user, project_id, perm: str, write: str | None = None, method: str = "GET"):
    """The project and the user's permissions on it: 404 unless visible, PermissionDenied
    unless the user has `perm` (and `write`, for a write `method`)."""
    project, perms = visible_project(user, project_id)
    missing = lacking(perms, perm, write, method)
    if missing is not None:
        raise PermissionDenied(denial(user, project, missing))
    return project, perms


def forbidden(request, message: str):
    """The 403 page: the reason, in the app's layout (an htmx request gets the message only).
    Rendered here rather than raised, so Django does not log the PermissionDenied's
    traceback; its one-line "Forbidden: <path>" warning remains."""
    log.info("403 for %s on %s: %s", request.user, request.path, message)
    template = "403.html#message" if getattr(request, "htmx", False) else "403.html"
    context = {
        "message": message or "Your role does not allow this.",
        "project": getattr(request, "project", None),
    }
    return render(request, template, context, status=403)


def _attach(request, project, perms) -> None:
    request.project = project
    request.perms = perms
    request.presenter = Presenter.for_request(project, perms)


def project_page(perm: str = Permission.VIEW_PROJECT, *, write: str | None = None):
    """Gate for HTML views taking a `project_id` URL kwarg; a write also needs `write`."""

    def decorator(view):
        @functools.wraps(view)
        def wrapper(request, project_id, *args, **kwargs):
            if not request.user.is_authenticated:
                return redirect_to_login(request.get_full_path())
            project, perms = visible_project(request.user, project_id)
            _attach(request, project, perms)  # also for a 403: its page shows the role's menu
            missing = lacking(perms, perm, write, request.method)
            if missing is not None:
                return forbidden(request, denial(request.user, project, missing))
            if request.session.get("last_project_id") != project.pk:  # a session write only on a switch
                request.session["last_project_id"] = project.pk
            try:
                with timezone.override(project.tz), viewing(request.presenter):
                    return view(request, *args, **kwargs)
            except PermissionDenied as exc:
                return forbidden(request, str(exc))

        return wrapper

    return decorator


def bearer_key(request) -> tuple[PersonalAPIKey | None, bool]:
    """The key an `Authorization: Bearer` header carries, and whether one was sent;
    raises APIKeyRefused (unknown, revoked, expired)."""
    header = request.headers.get("Authorization", "")
    if header[:7].lower() == "bearer ":
        return PersonalAPIKey.authenticate(header[7:].strip()), True
    return None, False


def key_refusal(key: PersonalAPIKey | None, project, method: str, reads: bool) -> JsonResponse | None:
    """What a key's scope refuses on this request: a project outside it answers 404 as a
    project the owner is not a member of; a read-only key may not make a write (any
    non-safe method, unless the endpoint only `reads`: a query sent as a POST body)."""
    if key is None:
        return None
    if not key.covers(project):
        return json_error(404, "Project not found.")
    if key.read_only and method in WRITE_METHODS and not reads:
        return json_error(403, f"The API key {key.label!r} is read-only; this request writes.")
    return None


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


def project_api(perm: str = Permission.VIEW_PROJECT, *, write: str | None = None, reads: bool = False):
    """Gate for JSON endpoints under /api/projects/<project_id>/; a write also needs `write`.
    `reads=True` says a POST only reads (a query body), so read-only API keys may send it.
    The handler gets `request.api_key` (None for a session)."""

    def decorator(view):
        @csrf_exempt
        @functools.wraps(view)
        def wrapper(request, project_id, *args, **kwargs):
            try:
                key, used_bearer = bearer_key(request)
            except APIKeyRefused as exc:
                return json_error(401, exc.message)
            if used_bearer:
                user = key.user
            else:
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
            request.api_key = key
            try:
                project, perms = visible_project(user, project_id)
            except Http404:
                return json_error(404, "Project not found.")
            refusal = key_refusal(key, project, request.method, reads)
            if refusal is not None:
                return refusal
            missing = lacking(perms, perm, write, request.method)
            if missing is not None:
                return json_error(403, denial(user, project, missing))
            _attach(request, project, perms)
            try:
                with timezone.override(project.tz), viewing(request.presenter):
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
            except (ch.Unavailable, ch.EngineLocked) as exc:
                return json_error(
                    503, "The events store is unavailable; try again shortly.", detail=exc.message
                )

        return wrapper

    return decorator
