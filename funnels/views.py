"""Funnel builder page, its secondary views and its drill-down: gate -> spec -> runners -> render."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django.urls import reverse
from django.views.decorators.http import require_GET

from analytics_app.access import project_page
from analytics_app.errors import BadRequest
from governance.masking import MASK_CHAR
from governance.presenter import TOKEN_PREFIX
from governance.roles import Permission
from insights import people, views_common
from insights.blocks import OPERATORS
from insights.blocks.breakdown import OTHER_VALUE
from insights.registry import decode_q

from . import charts, forms
from .queries import FunnelActorsQueryRunner, FunnelQueryRunner, FunnelTimeToConvertRunner, FunnelTrendsRunner
from .spec import ATTRIBUTIONS, ORDERS, WINDOW_UNITS, FunnelActorsSpec, FunnelSpec

TEMPLATE = "funnels/funnel.html"


def result_context(project, spec: FunnelSpec, result, presenter, *, builder: bool = False) -> dict:
    """What the result / tile partials need. On the builder page the result also loads its
    secondary views (time to convert, conversion by entry day) after it is shown."""
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
        "range_text": views_common.range_text(project, result.start, result.end),
        "aggregate_label": spec.aggregate_by.label(),
    }
    if builder:
        context["secondary_urls"] = {
            name: views_common.spec_url(f"funnels:{name}", project, spec_json)
            for name in ("time_to_convert", "conversion_trend")
        }
    return context


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def funnel(request):
    project = request.project
    event_names = views_common.event_names(project, views_common.is_partial(request))
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

    def fill():
        views_common.check_events(
            project,
            {f"steps[{i}].event": s.event for i, s in enumerate(spec.steps)}
            | {f"exclusions[{i}].event": x.event for i, x in enumerate(spec.exclusions)},
        )
        result = FunnelQueryRunner(project, spec).run()
        context.update(result_context(project, spec, result, request.presenter, builder=True))
        context["share_url"] = views_common.share_url(
            request, "funnels:funnel", project, context["spec_json"]
        )

    return views_common.render_builder(request, TEMPLATE, context, error, fill if spec is not None else None)


def _secondary(request, partial: str, build):
    """A secondary view of the result, loaded by the page after the steps (an htmx
    partial): `build(spec)` gives its context for the funnel in `?q=<spec JSON>`."""
    context = {"project": request.project}

    def fill():
        context.update(build(FunnelSpec.from_json(decode_q(request.GET.get("q", "")), request.project)))

    return views_common.render_drill(request, f"{TEMPLATE}#{partial}", context, fill)


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def time_to_convert(request):
    """The time-to-convert histogram (first to last step)."""

    def build(spec):
        ttc = FunnelTimeToConvertRunner(request.project, spec).run()
        context = {
            "ttc": ttc,
            "ttc_average": charts.format_duration(ttc.average_seconds),
            "ttc_median": charts.format_duration(ttc.median_seconds),
        }
        if ttc.bins:
            context["ttc_figure_json"] = charts.figure_json(charts.time_to_convert_figure(ttc.bins))
        return context

    return _secondary(request, "time_to_convert", build)


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def conversion_trend(request):
    """The conversion rate by entry day (project time zone)."""

    def build(spec):
        points = FunnelTrendsRunner(request.project, spec).run()
        rows = [
            {"day": p.day.isoformat(), "rate": p.rate, "entered": p.entered, "converted": p.converted}
            for p in points
        ]
        fig = charts.trends_figure(rows)
        if points:
            # The project's annotations (trends/models.py) on this time chart too.
            import trends  # noqa: PLC0415
            from insights.blocks.dates import local_midnight  # noqa: PLC0415

            tz = request.project.tz
            start = local_midnight(points[0].day, tz)
            end = local_midnight(points[-1].day + dt.timedelta(days=1), tz)
            shown = trends.annotations_for_chart(request.project, start, end)
            trends.add_annotations(fig, shown, {"date_from": start.isoformat(), "date_to": end.isoformat()})
        return {"trend_figure_json": charts.figure_json(fig)}

    return _secondary(request, "conversion_trend", build)


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def actors(request):
    """The persons behind one step's converted or dropped count (an htmx partial)."""
    project = request.project
    context = {"project": project}

    def fill():
        spec = _actors_spec(request.GET, project)
        result = FunnelActorsQueryRunner(project, spec).run()
        context.update(
            {
                "drill": result,
                "drill_spec": spec,
                "drill_step": spec.funnel.steps[spec.step].event,
                "drill_actors": [
                    {
                        "actor": request.presenter.present(a),
                        "properties": request.presenter.properties(a.properties),
                    }
                    for a in result.actors
                ],
                "can_view_recordings": Permission.VIEW_RECORDINGS in request.perms,
                "names": people.people_details(
                    project, sorted({a.person_id for a in result.actors}), request.presenter
                ),
                "actions": people.actions(
                    request,
                    "funnels",
                    f"Funnel {'converted at' if spec.status == 'converted' else 'dropped before'} "
                    f"step {spec.step + 1} ({spec.funnel.steps[spec.step].event})",
                    result.total,
                ),
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
                    # a masked label's token: the label's tag, never the value
                    else (
                        f"{MASK_CHAR * 8} ‹{value.removeprefix(TOKEN_PREFIX)}›"
                        if value.startswith(TOKEN_PREFIX)
                        else request.presenter.label(spec.funnel.breakdown.property, value)
                    )
                )
            )
            if spec.funnel.breakdown.type == "cohort":  # a cohort id (or "all"): its name
                from insights.blocks.breakdown import cohort_labels  # noqa: PLC0415

                shown = cohort_labels(project.pk, spec.funnel.breakdown.cohorts).get(value, value)
            context["drill_breakdown"] = shown

    return views_common.render_drill(request, f"{TEMPLATE}#actors", context, fill)


def _actors_spec(query, project) -> FunnelActorsSpec:
    try:
        funnel_spec = FunnelSpec.from_json(decode_q(query.get("q", "")), project)
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
    return views_common.render_tile(
        request, project, TEMPLATE, lambda p: result_context(project, spec, result, p)
    )
