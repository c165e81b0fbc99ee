"""Funnel builder page and its drill-down: gate -> form -> runners -> render."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

from django.shortcuts import render
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_GET

from analytics_app import clickhouse as ch
from analytics_app.access import BadRequest, project_page
from analytics_app.models import Permission
from analytics_app.output import Presenter
from analytics_app.queries import EventNamesQueryRunner, EventNamesSpec
from insights.blocks import OPERATORS
from insights.blocks.breakdown import OTHER_VALUE

from . import charts, forms
from .queries import FunnelActorsQueryRunner, FunnelQueryRunner, FunnelTimeToConvertRunner, FunnelTrendsRunner
from .spec import ATTRIBUTIONS, ORDERS, WINDOW_UNITS, FunnelActorsSpec, FunnelSpec

TEMPLATE = "funnels/funnel.html"


def _is_partial(request) -> bool:
    return bool(request.htmx) and not request.htmx.history_restore_request and not request.htmx.boosted


def result_context(project, spec: FunnelSpec, result, presenter, *, extras: bool = True) -> dict:
    payload = result.to_json(presenter)
    spec_json = json.dumps(spec.to_json(), separators=(",", ":"))
    context = {
        "spec": spec,
        "payload": payload,
        "spec_json": spec_json,
        "chart_id": "funnel-" + uuid.uuid4().hex[:10],
        "figure_json": charts.figure_json(charts.steps_figure(payload)),
        "rows": charts.step_rows(payload),
        "has_breakdown": spec.breakdown is not None,
        "range_text": f"{result.start.astimezone(project.tz):%Y-%m-%d %H:%M} – {result.end.astimezone(project.tz):%Y-%m-%d %H:%M} ({project.time_zone})",
        "aggregate_label": spec.aggregate_by.label(),
    }
    if extras:
        ttc = FunnelTimeToConvertRunner(project, spec).run()
        context["ttc"] = ttc
        context["ttc_average"] = charts.format_duration(ttc.average_seconds)
        context["ttc_median"] = charts.format_duration(ttc.median_seconds)
        if ttc.bins:
            context["ttc_figure_json"] = charts.figure_json(charts.time_to_convert_figure(ttc.bins))
        points = FunnelTrendsRunner(project, spec).run()
        context["trend_figure_json"] = charts.figure_json(
            charts.trends_figure(
                [
                    {"day": p.day.isoformat(), "rate": p.rate, "entered": p.entered, "converted": p.converted}
                    for p in points
                ]
            )
        )
    return context


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def funnel(request):
    project = request.project
    partial = _is_partial(request)
    event_names = (
        []
        if partial
        else [e.event for e in EventNamesQueryRunner(project, EventNamesSpec(days=90, limit=300)).run()]
    )
    state, spec, error = forms.parse_request(request.GET, project, event_names)
    context = {
        "project": project,
        "state": state,
        "event_names": event_names,
        "orders": ORDERS,
        "window_units": list(WINDOW_UNITS),
        "operators": OPERATORS,
        "presets": forms.DATE_PRESETS,
        "attributions": ATTRIBUTIONS,
        "step_numbers": list(range(len(state["steps"]))),
        "actors_url": reverse("funnels:actors", kwargs={"project_id": project.pk}),
    }
    status = 200
    if spec is not None:
        try:
            result = FunnelQueryRunner(project, spec).run()
            context.update(result_context(project, spec, result, request.presenter))
            context["share_url"] = (
                request.build_absolute_uri(reverse("funnels:funnel", kwargs={"project_id": project.pk}))
                + "?q="
                + quote(context["spec_json"], safe="")
            )
        except BadRequest as exc:
            error = exc
        except (ch.QueryTimeout, ch.QueryTooLarge) as exc:
            error, status = (
                BadRequest(
                    "The query is too large for the configured limits; narrow the date range or filters.",
                    {"query": exc.message},
                ),
                422,
            )
    if error is not None:
        context["error"] = error
        status = 400 if status == 200 else status
    template = f"{TEMPLATE}#result" if partial else TEMPLATE
    return render(request, template, context, status=status)


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def actors(request):
    """The persons behind one step's converted or dropped count (an htmx partial)."""
    project = request.project
    context = {"project": project}
    status = 200
    try:
        spec = _actors_spec(request.GET, project)
        result = FunnelActorsQueryRunner(project, spec).run()
        context.update(
            {
                "drill": result,
                "drill_spec": spec,
                "drill_step": spec.funnel.steps[spec.step].event,
                "drill_actors": [
                    {"actor": a, "properties": request.presenter.properties(a.properties)}
                    for a in result.actors
                ],
                "can_view_recordings": Permission.VIEW_RECORDINGS in request.perms,
            }
        )
        if spec.breakdown_value is not None:
            value = spec.breakdown_value
            shown = (
                "Other"
                if value == OTHER_VALUE
                else (
                    "(none)"
                    if value == ""
                    else request.presenter.value(spec.funnel.breakdown.property, value)
                )
            )
            context["drill_breakdown"] = shown
    except BadRequest as exc:
        context["error"] = exc
        status = 400
    return render(request, f"{TEMPLATE}#actors", context, status=status)


def _actors_spec(query, project) -> FunnelActorsSpec:
    try:
        funnel_spec = forms.parse_q(query.get("q", ""), project)
    except BadRequest as exc:
        raise BadRequest("Invalid drill-down.", exc.errors or {"q": exc.message}) from None
    body = {**funnel_spec.to_json(), "kind": "FunnelsActorsQuery", "status": query.get("status", "converted")}
    errors = {}
    try:
        body["step"] = int(query.get("step", ""))
    except ValueError:
        errors["step"] = "must be a step index"
    if "breakdown_value" in query:
        body["breakdown_value"] = query.get("breakdown_value")
    try:
        body["offset"] = int(query.get("offset", "0") or 0)
    except ValueError:
        errors["offset"] = "must be a number"
    if errors:
        raise BadRequest("Invalid drill-down.", errors)
    return FunnelActorsSpec.from_json(body, project)


def render_tile(request, project, spec: FunnelSpec, result) -> str:
    """A dashboard tile body: the step bars without the builder (needs plotly.min.js on the host page)."""
    presenter = getattr(request, "presenter", None) if request is not None else None
    if presenter is None:
        perms = getattr(request, "perms", ()) if request is not None else ()
        presenter = Presenter.for_request(project, perms)
    context = {"project": project, **result_context(project, spec, result, presenter, extras=False)}
    return render_to_string(f"{TEMPLATE}#tile", context, request=request)
