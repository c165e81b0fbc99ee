"""The recordings list page and GET /api/projects/<id>/recordings/.

Both parse the request into a RecordingsSpec (forms.py) and run the same
RecordingsQueryRunner (queries.py); the page renders the whole page or, for
htmx, the #results partial of the same template.
"""

from __future__ import annotations

from dataclasses import replace
from urllib.parse import urlencode

from django.core.exceptions import PermissionDenied
from django.http import (
    JsonResponse,  # noqa: I001
    QueryDict,
)
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from analytics_app import clickhouse as ch
from analytics_app.access import project_api, project_page
from analytics_app.errors import BadRequest
from cohorts.membership import project_cohorts
from governance.roles import Permission
from insights.blocks import OPERATORS
from insights.people import people_list

from .forms import DATE_PRESETS, ORDER_CHOICES, RecordingsSpec
from .queries import RecordingsQueryRunner, mask_url


def _url(name: str, project, params: dict | None = None) -> str:
    url = reverse(f"replay:{name}", kwargs={"project_id": project.pk})
    return f"{url}?{urlencode(params)}" if params else url


def player_url(project, session_id: str) -> str:
    return reverse("replay:player", kwargs={"project_id": project.pk, "session_id": session_id})


@require_GET
@project_page(Permission.VIEW_RECORDINGS)
def recordings(request):
    project, presenter = request.project, request.presenter
    context = {
        "project": project,
        "values": request.GET,
        "presets": DATE_PRESETS,
        "orders": ORDER_CHOICES,
        "operators": OPERATORS,
        "prop_rows": _prop_rows(request.GET),
        # roles without view-PII get a 403 for ?email=, so the form does not offer the box
        "can_view_pii": Permission.VIEW_PII in request.perms,
        "cohorts": project_cohorts(project) if not request.htmx else [],
    }
    status = 200
    try:
        spec = RecordingsSpec.from_query(request.GET)
        spec, context["people_title"] = _with_people(request, spec)
        page = RecordingsQueryRunner(project, spec).run()
    except BadRequest as exc:
        status, context["message"], context["errors"] = 400, exc.message, exc.errors
    except ch.BadQueryParameter as exc:
        status, context["message"], context["errors"] = (
            400,
            "A value could not be used in the query.",
            {"detail": exc.message},
        )
    except (ch.QueryTimeout, ch.QueryTooLarge):
        status, context["message"], context["errors"] = (
            422,
            "The query is too large for the configured limits; narrow the date range or filters.",
            {},
        )
    else:
        tz = project.tz
        can_open_persons = Permission.VIEW_INSIGHTS in request.perms
        context.update(
            {
                "spec": spec,
                "rows": [
                    {
                        "rec": r,
                        "person": r.person_name(presenter),
                        "start": r.start_time.astimezone(tz),
                        "duration": _duration(r.duration_ms),
                        "active": _duration(r.active_ms),
                        "first_url": mask_url(r.first_url, presenter),
                        "url": player_url(project, r.session_id),
                        "person_url": reverse(
                            "explorer:person", kwargs={"project_id": project.pk, "person_id": r.person_id}
                        )
                        if r.person_id and can_open_persons
                        else "",
                    }
                    for r in page.rows
                ],
                "next_url": _url("list", project, spec.query_params(offset=spec.offset + spec.limit))
                if page.has_more
                else "",
                "prev_url": _url("list", project, spec.query_params(offset=max(0, spec.offset - spec.limit)))
                if spec.offset
                else "",
                "sort_urls": {
                    name: _url("list", project, spec.query_params(order=_toggle(spec.order, order), offset=0))
                    for name, order in SORTABLE.items()
                },
            }
        )
    template = "replay/list.html#results" if request.htmx else "replay/list.html"
    return render(request, template, context, status=status)


MAX_PEOPLE = 10_000  # persons of a drill-down whose recordings the list filters on


def _with_people(request, spec: RecordingsSpec) -> tuple[RecordingsSpec, str]:
    """The spec with the persons of `?people=<kind>&people_q=<drill-down query>` (an
    insight's people list, re-run for this project and viewer), and the list's title."""
    if not spec.people:
        return spec, ""
    if Permission.VIEW_INSIGHTS not in request.perms:
        raise PermissionDenied("Filtering recordings by an insight's people needs the insights permission.")
    found = people_list(request, spec.people, QueryDict(spec.people_q), limit=MAX_PEOPLE)
    return replace(spec, person_ids=tuple(found.person_ids)), found.title


# column header -> the order it sorts by first (a second click reverses it)
SORTABLE = {"start": "-start_time", "duration": "-duration", "active": "-active", "errors": "-errors"}


def _toggle(current: str, order: str) -> str:
    reverse_order = order.removeprefix("-")
    return reverse_order if current == order and reverse_order in ORDER_CHOICES else order


def _prop_rows(params) -> list[dict]:
    rows = [
        {"key": k, "op": o, "value": v}
        for k, o, v in zip(
            params.getlist("prop_key"), params.getlist("prop_op"), params.getlist("prop_value"), strict=False
        )
        if k.strip()
    ]
    return [*rows, {"key": "", "op": "exact", "value": ""}]


def _duration(ms: int) -> str:
    seconds = int(ms // 1000)
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


@require_GET
@project_api(Permission.VIEW_RECORDINGS)
def api_recordings(request):
    project = request.project
    spec = RecordingsSpec.from_query(request.GET)
    spec, _ = _with_people(request, spec)
    page = RecordingsQueryRunner(project, spec).run()
    results = []
    for row in page.rows:
        item = row.to_json(request.presenter)
        item["player_url"] = player_url(project, row.session_id)
        results.append(item)
    next_url = (
        request.build_absolute_uri(_api_url(project, spec.query_params(offset=spec.offset + spec.limit)))
        if page.has_more
        else None
    )
    return JsonResponse({"results": results, "has_more": page.has_more, "next": next_url})


def _api_url(project, params: dict) -> str:
    return _url("api_list", project, params)


_ERR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
_SECONDS = {"type": "number", "minimum": 0}
_RECORDING = {
    "type": "object",
    "properties": {
        "session_id": {"type": "string"},
        "person_id": {
            "type": ["string", "null"],
            "format": "uuid",
            "description": "the current person of distinct_id (null: no person profile)",
        },
        "distinct_id": {"type": "string", "description": "the session's last non-empty distinct_id"},
        "person_name": {
            "type": "string",
            "description": "name or email (masked without view-PII), else distinct_id",
        },
        "start_time": {"type": "string", "format": "date-time"},
        "end_time": {"type": "string", "format": "date-time"},
        "duration_seconds": {"type": "number"},
        "active_seconds": {"type": "number", "description": "time in activity segments (docs/replay.md)"},
        **{
            name: {"type": "integer"}
            for name in (
                "click_count",
                "keypress_count",
                "mouse_activity_count",
                "console_log_count",
                "console_warn_count",
                "console_error_count",
                "rage_click_count",
                "dead_click_count",
                "size_bytes",
                "event_count",
            )
        },
        "first_url": {"type": "string", "description": "query string masked without view-PII"},
        "urls": {"type": "array", "items": {"type": "string"}},
        "browser": {"type": "string"},
        "os": {"type": "string"},
        "device_type": {"type": "string"},
        "player_url": {"type": "string"},
    },
}
RECORDINGS_PATHS = {
    "/api/projects/{project_id}/recordings/": {
        "get": {
            "summary": "List session recordings",
            "description": "Recorded sessions with their summaries, filtered and sorted; needs the view-recordings permission.",
            "parameters": [
                {"name": "project_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                {
                    "name": "date_from",
                    "in": "query",
                    "schema": {"type": "string", "default": "-7d"},
                    "description": "session start from: -24h, -7d, -30d, YYYY-MM-DD, ISO datetime or all",
                },
                {
                    "name": "date_to",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "session start before (a date is inclusive)",
                },
                {
                    "name": "person_id",
                    "in": "query",
                    "schema": {"type": "string", "format": "uuid"},
                    "description": "sessions of any distinct_id of this person",
                },
                {"name": "distinct_id", "in": "query", "schema": {"type": "string"}},
                {
                    "name": "email",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "person property email, case-insensitive",
                },
                {"name": "min_duration", "in": "query", "schema": _SECONDS, "description": "seconds"},
                {"name": "max_duration", "in": "query", "schema": _SECONDS, "description": "seconds"},
                {"name": "min_active", "in": "query", "schema": _SECONDS, "description": "active seconds"},
                {
                    "name": "url",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "a visited URL contains this (case-insensitive)",
                },
                {"name": "has_errors", "in": "query", "schema": {"type": "boolean"}},
                {"name": "has_rage_clicks", "in": "query", "schema": {"type": "boolean"}},
                {
                    "name": "event",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "the session includes this analytics event",
                },
                {
                    "name": "event_properties",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "JSON list of property filters on that event",
                },
                {
                    "name": "cohort",
                    "in": "query",
                    "schema": {"type": "integer"},
                    "description": "the session's person is in this cohort",
                },
                {
                    "name": "order",
                    "in": "query",
                    "schema": {"type": "string", "enum": list(ORDER_CHOICES), "default": "-start_time"},
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": 500, "default": 50},
                },
                {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
            ],
            "responses": {
                "200": {
                    "description": "Recordings",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "results": {"type": "array", "items": _RECORDING},
                                    "has_more": {"type": "boolean"},
                                    "next": {"type": ["string", "null"]},
                                },
                            }
                        }
                    },
                },
                "400": {"description": "Invalid parameters (`errors` names each)", **_ERR},
                "401": {"description": "No or unknown credentials", **_ERR},
                "403": {"description": "The role cannot view recordings", **_ERR},
                "404": {"description": "No such project (or no access)", **_ERR},
            },
        }
    },
}
