"""View glue shared by the builder pages (trends, funnels, retention, paths).

Every builder view has the same shape: parse the form, fill a context by running the
query, answer with the whole page or (for an htmx request) only its `#result` partial,
bad input as 400 with the reasons and a query over the ClickHouse limits as 422. The
templates side of the same sharing is templates/insights/_*.html.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable
from urllib.parse import quote

from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from analytics_app.queries import event_names_by_volume, seen_event_names
from governance.models import EventDefinition
from governance.presenter import Presenter

TOO_LARGE = "The query is too large for the configured limits; narrow the date range or filters."


def is_partial(request) -> bool:
    """An htmx request that swaps only the result (not a history restore, not a boosted link)."""
    return bool(request.htmx) and not request.htmx.history_restore_request and not request.htmx.boosted


class EventName(str):
    """An event name as the datalist offers it: `label` is the tracking plan's description
    of the event, if the plan has one."""

    label = ""


def event_names(project, partial: bool, *, limit: int = 300) -> list[str]:
    """The event names of the last 90 days for the event datalist (none for a partial),
    each labelled with its description from the tracking plan."""
    if partial:
        return []
    described = dict(
        EventDefinition.objects.filter(project=project)
        .exclude(description="")
        .values_list("name", "description")
    )
    names = []
    for event in event_names_by_volume(project, days=90, limit=limit):
        name = EventName(event)
        name.label = described.get(event, "")
        names.append(name)
    return names


def check_events(project, events: dict[str, str]) -> None:
    """BadRequest (a form error per field) for each event name neither seen in the project
    nor in its tracking plan, with the closest known names as suggestions. `events` maps a
    field path (``steps[1].event``) to the name. Names starting with "$" are the SDKs'
    own ($pageview, $screen, ...) and always accepted: a new project has none yet."""
    wanted = {path: name for path, name in events.items() if name and not name.startswith("$")}
    if not wanted:
        return
    names = set(wanted.values())
    known = seen_event_names(project, names)
    known |= set(
        EventDefinition.objects.filter(project=project, name__in=names).values_list("name", flat=True)
    )
    unknown = {path: name for path, name in wanted.items() if name not in known}
    if not unknown:
        return
    candidates = event_names_by_volume(project, days=3650, limit=1000)
    candidates += list(EventDefinition.objects.filter(project=project).values_list("name", flat=True))
    errors = {}
    for path, name in unknown.items():
        close = difflib.get_close_matches(name, sorted(set(candidates)), n=3, cutoff=0.6)
        hint = f"; did you mean {' or '.join(f'“{c}”' for c in close)}?" if close else "."
        errors[path] = (
            f"no event “{name}” has been seen in this project, nor is it in the tracking plan{hint}"
        )
    raise BadRequest("Unknown event.", errors)


def spec_url(view_name: str, project, spec_json: str) -> str:
    """The project's `view_name` for this spec (`?q=<spec JSON>`): a builder, or a part of
    the result the page loads on its own."""
    return reverse(view_name, kwargs={"project_id": project.pk}) + "?q=" + quote(spec_json, safe="")


def share_url(request, view_name: str, project, spec_json: str) -> str:
    """The absolute link that reopens the builder on this spec (`?q=<spec JSON>`)."""
    return request.build_absolute_uri(spec_url(view_name, project, spec_json))


def range_text(project, start, end) -> str:
    """'YYYY-MM-DD HH:MM – YYYY-MM-DD HH:MM (zone)' in the project's zone; no start: 'all time'."""
    first = f"{start.astimezone(project.tz):%Y-%m-%d %H:%M}" if start else "all time"
    return f"{first} – {end.astimezone(project.tz):%Y-%m-%d %H:%M} ({project.time_zone})"


def render_builder(
    request, template: str, context: dict, error: BadRequest | None, fill: Callable[[], None] | None
):
    """Run `fill` (the query, writing into `context`) and render the page or its #result.

    `error` is the form's own error; a BadRequest from `fill` replaces it (400), a query
    over the limits becomes a 422 with the reason under "query".
    """
    status = 200
    if fill is not None:
        try:
            fill()
        except BadRequest as exc:
            error = exc
        except (ch.QueryTimeout, ch.QueryTooLarge) as exc:
            error, status = BadRequest(TOO_LARGE, {"query": exc.message}), 422
    if error is not None:
        context["error"] = error
        status = 400 if status == 200 else status
    return render(request, f"{template}#result" if is_partial(request) else template, context, status=status)


def tile_presenter(request, project) -> Presenter:
    """The request's presenter, or one built from its permissions (a tile may be rendered
    without a project page's request, or with request=None)."""
    presenter = getattr(request, "presenter", None) if request is not None else None
    if presenter is None:
        perms = getattr(request, "perms", ()) if request is not None else ()
        presenter = Presenter.for_request(project, perms)
    return presenter


def render_tile(request, project, template: str, build: Callable[[Presenter], dict]) -> str:
    """A dashboard tile body: the template's #tile partial with `build(presenter)`'s context."""
    context = {"project": project, **build(tile_presenter(request, project))}
    # A tile may render outside a project page's request (a task, request=None): its
    # times still show in the project's zone, as the gate would have activated.
    with timezone.override(project.tz):
        return render_to_string(f"{template}#tile", context, request=request)


def render_drill(request, template: str, context: dict, fill: Callable[[], None]):
    """A partial the page loads on its own: a drill-down (the persons / sessions behind a chart
    point) or a secondary view loaded after the result. `fill` writes into `context`; a
    BadRequest from it renders the same partial with the error, 400, and a query over the
    limits the same with the reason under "query", 422."""
    status = 200
    try:
        fill()
    except BadRequest as exc:
        context["error"] = exc
        status = 400
    except (ch.QueryTimeout, ch.QueryTooLarge) as exc:
        context["error"] = BadRequest(TOO_LARGE, {"query": exc.message})
        status = 422
    return render(request, template, context, status=status)


def spec_from_q(
    query, spec_class, project, *, message: str = "Invalid drill-down.", what: str = "the chart's"
):
    """The spec a drill-down link carries as `?q=<spec JSON>`; JSON that does not parse is a
    BadRequest(message, {"q": "must be <what> spec JSON"}). The spec's own checks raise theirs."""
    try:
        return spec_class.from_json(json.loads(query.get("q", "")), project)
    except ValueError:
        raise BadRequest(message, {"q": f"must be {what} spec JSON"}) from None
