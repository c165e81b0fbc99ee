"""Event explorer and persons: gate -> spec -> runner -> render.

Pages answer htmx requests with a partial of the same template:
`events.html#results` (filter form), `#rows` (load more: rows after a cursor),
`#new_events` (the 10 s poll); `person.html#timeline_rows` (load more).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import json
import uuid
from urllib.parse import quote, urlencode

from django.http import Http404, JsonResponse, StreamingHttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from analytics_app import clickhouse as ch
from analytics_app.access import json_error, project_api, project_page
from analytics_app.errors import BadRequest
from governance import audit
from governance.roles import Permission
from insights import views_common
from insights.blocks import DateRange

from .forms import DATE_PRESETS, Cursor, EventsSpec, PersonsSpec, operator_choices
from .queries import (
    EventQueryRunner,
    EventsQueryRunner,
    PersonQueryRunner,
    PersonsQueryRunner,
    RecordingsQueryRunner,
)

TIMELINE_LIMIT = 100


def _bad_input_is_400(view):
    """Turn invalid input (and queries too large for the limits) into an error page, never a 500."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        try:
            return view(request, *args, **kwargs)
        except BadRequest as exc:
            return _error(request, 400, exc.message, exc.errors)
        except ch.BadQueryParameter as exc:
            return _error(request, 400, "A value could not be used in the query.", {"detail": exc.message})
        except (ch.QueryTimeout, ch.QueryTooLarge):
            return _error(request, 422, views_common.TOO_LARGE, {})

    return wrapper


def _error(request, status: int, message: str, errors: dict):
    template = "explorer/error.html#error" if request.htmx else "explorer/error.html"
    return render(
        request, template, {"project": request.project, "message": message, "errors": errors}, status=status
    )


# ------------------------------------------------------------------ presentation helpers
def lookup(properties: dict, key: str):
    """A property by key; dotted keys are nested objects in the JSON column."""
    if key in properties:
        return properties[key]
    value = properties
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def cell(presenter, key: str, value) -> str:
    if value is None:
        return ""
    value = presenter.value(key, value)  # masks nested values before they become text
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False, default=str)
    elif isinstance(value, bool):
        value = "true" if value else "false"
    return str(value)


def display_rows(rows, spec: EventsSpec, presenter, tz) -> list[dict]:
    return [
        {
            "row": presenter.present(r),
            "time": r.timestamp.astimezone(tz),
            "cursor": r.cursor.encode(),
            "cells": [cell(presenter, key, lookup(r.properties, key)) for key in spec.property_columns],
        }
        for r in rows
    ]


def replay_url(project, session_id: str, at: dt.datetime | None = None) -> str:
    """The replay player, opening at the moment `at` (sent as `?at=<epoch ms>`; the
    player turns it into an offset into the recording, clamped to it)."""
    url = f"/project/{project.pk}/replay/{quote(session_id, safe='')}"
    return f"{url}?at={round(at.timestamp() * 1000)}" if at is not None else url


def _url(name: str, project, params: dict | None = None, **kwargs) -> str:
    url = reverse(f"explorer:{name}", kwargs={"project_id": project.pk, **kwargs})
    return f"{url}?{urlencode(params)}" if params else url


# ------------------------------------------------------------------ events
@require_GET
@project_page(Permission.VIEW_INSIGHTS)
@_bad_input_is_400
def events(request):
    project, presenter = request.project, request.presenter
    spec = EventsSpec.from_query(request.GET)
    runner = EventsQueryRunner(project, spec)
    if request.htmx and "newer_than" in request.GET:
        newest = Cursor.decode(request.GET["newer_than"], "newer_than")
        context = {
            "new_count": runner.count_newer(newest),
            "poll_url": request.get_full_path(),
            "refresh_url": _url("events", project, spec.query_params()),
        }
        return render(request, "explorer/events.html#new_events", context)
    page = runner.run()
    rows = display_rows(page.rows, spec, presenter, project.tz)
    context = {
        "project": project,
        "spec": spec,
        "rows": rows,
        "columns": spec.property_columns,
        "next_url": _url("events", project, spec.query_params(after=page.next.encode())) if page.next else "",
    }
    if spec.after is None and spec.date_range.date_to is None:
        newest = page.rows[0].cursor if page.rows else Cursor(dt.datetime.now(dt.UTC), uuid.UUID(int=0))
        context["poll_url"] = _url("events", project, spec.query_params(newer_than=newest.encode()))
    if request.htmx:
        template = "explorer/events.html#rows" if spec.after else "explorer/events.html#results"
        return render(request, template, context)
    preset = (
        spec.date_range.date_from
        if spec.date_range.date_to is None and spec.date_range.date_from in dict(DATE_PRESETS)
        else "custom"
    )
    context.update(
        {
            "event_names": views_common.event_names(project, False, limit=500),
            "presets": DATE_PRESETS,
            "preset": preset,
            "operators": operator_choices(),
            "filter_rows": [*spec.properties, None],
            "can_export": Permission.EXPORT_DATA in request.perms,
            "csv_url": _url("events_export", project, spec.query_params()),
        }
    )
    return render(request, "explorer/events.html", context)


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
@_bad_input_is_400
def event_detail(request, event_uuid):
    project, presenter = request.project, request.presenter
    hint = None
    if request.GET.get("at"):
        hint = Cursor.decode(request.GET["at"], "at").timestamp
    event = EventQueryRunner(project, event_uuid, hint).run()
    if event is None:
        raise Http404("No such event")
    recordings = RecordingsQueryRunner(project)
    recording_url = ""
    if Permission.VIEW_RECORDINGS in request.perms and recordings.session_start(event.session_id) is not None:
        recording_url = replay_url(project, event.session_id, event.timestamp)
    context = {
        "project": project,
        "event": presenter.present(event),
        "time": event.timestamp.astimezone(project.tz),
        # masked for the viewer; shown as a table with the JSON on request
        "properties": presenter.properties(event.properties),
        "recording_url": recording_url,
        "recordings_available": recordings.available(),
    }
    return render(request, "explorer/event.html#detail" if request.htmx else "explorer/event.html", context)


class _Echo:
    def write(self, value):
        return value


def _csv_chunks(runner: EventsQueryRunner, spec: EventsSpec, presenter):
    writer = csv.writer(_Echo())
    keys = spec.property_columns
    yield writer.writerow(
        ["uuid", "timestamp", "event", "distinct_id", "person_id", "session_id", *keys, "properties"]
    )
    for batch in runner.stream():
        yield "".join(
            writer.writerow(
                [
                    row[0],
                    row[1],
                    presenter.text(row[2]),
                    presenter.distinct_id(row[3]),
                    row[4],
                    presenter.text(row[5]),
                    *(presenter.cell(k, v) for k, v in zip(keys, row[7:], strict=True)),
                    presenter.json_text(row[6]),
                ]
            )
            for row in batch
        )


@require_GET
@project_page(Permission.EXPORT_DATA)
@_bad_input_is_400
def events_export(request):
    project = request.project
    spec = EventsSpec.from_query(request.GET)
    runner = EventsQueryRunner(project, spec)
    runner.page_sql()  # resolve the date range now, so bad input is a 400 before streaming starts
    audit.record(request, "export.csv", project=project, target="events", after={"query": request.GET.dict()})
    response = StreamingHttpResponse(
        _csv_chunks(runner, spec, request.presenter), content_type="text/csv; charset=utf-8"
    )
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    response["Content-Disposition"] = f'attachment; filename="events-{project.pk}-{stamp}.csv"'
    return response


# ------------------------------------------------------------------ persons
@require_GET
@project_page(Permission.VIEW_INSIGHTS)
@_bad_input_is_400
def persons(request):
    project, presenter = request.project, request.presenter
    spec = PersonsSpec.from_query(request.GET)
    page = PersonsQueryRunner(project, spec).run()
    context = {
        "project": project,
        "spec": spec,
        "persons": [
            {
                "person": p,
                "name": p.display_name(presenter),
                "last_seen": p.last_seen.astimezone(project.tz) if p.last_seen else None,
            }
            for p in page.rows
        ],
        "next_url": _url("persons", project, spec.query_params(after=page.next.encode()))
        if page.next
        else "",
    }
    return render(
        request, "explorer/persons.html#results" if request.htmx else "explorer/persons.html", context
    )


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
@_bad_input_is_400
def person_detail(request, person_id):
    project, presenter = request.project, request.presenter
    person = PersonQueryRunner(project, person_id).run()
    if person is None:
        raise Http404("No such person")
    after = Cursor.optional(request.GET.get("after"))
    spec = EventsSpec(date_range=DateRange("all"), person_id=person.id, limit=TIMELINE_LIMIT, after=after)
    page = EventsQueryRunner(project, spec).run()
    context = {
        "project": project,
        "person": presenter.present(person),
        "columns": spec.property_columns,
        "rows": display_rows(page.rows, spec, presenter, project.tz),
        "next_url": _url("person", project, {"after": page.next.encode()}, person_id=person.id)
        if page.next
        else "",
    }
    if request.htmx:
        return render(request, "explorer/person.html#timeline_rows", context)
    tz = project.tz
    context.update(
        {
            "name": person.display_name(presenter),
            "properties": presenter.properties(person.properties),
            "first_seen": person.first_seen.astimezone(tz) if person.first_seen else None,
            "last_seen": person.last_seen.astimezone(tz) if person.last_seen else None,
            "recordings": [
                {"rec": r, "start": r.start.astimezone(tz), "url": replay_url(project, r.session_id)}
                for r in RecordingsQueryRunner(project).for_distinct_ids(person.distinct_ids)
            ],
            "can_view_recordings": Permission.VIEW_RECORDINGS in request.perms,
        }
    )
    return render(request, "explorer/person.html", context)


# ------------------------------------------------------------------ JSON API
@require_GET
@project_api(Permission.VIEW_INSIGHTS)
def api_persons(request):
    page = PersonsQueryRunner(request.project, PersonsSpec.from_query(request.GET)).run()
    return JsonResponse(page.to_json(request.presenter))


@require_GET
@project_api(Permission.VIEW_INSIGHTS)
def api_person(request, person_id):
    try:
        person_id = uuid.UUID(person_id)
    except ValueError:
        return json_error(404, "Person not found.")
    person = PersonQueryRunner(request.project, person_id).run()
    if person is None:
        return json_error(404, "Person not found.")
    return JsonResponse(person.to_json(request.presenter))
