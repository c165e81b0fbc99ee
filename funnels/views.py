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
            for name in ("time_to_convert", "conversion_trend", "correlation")
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


# ------------------------------------------------------------------ correlation
CORRELATION_TEMPLATE = "funnels/_correlation.html"


def correlation_spec(query, project, *, people: bool = False):
    """The correlation analysis (or, with `people`, the persons behind one of its counts)
    that a link carries: the funnel as `?q=<spec JSON>` plus the analysis' own parameters."""
    from .correlation import CorrelationPeopleSpec, FunnelCorrelationSpec  # noqa: PLC0415

    funnel_body = decode_q(query.get("q", ""))
    body = {k: v for k, v in funnel_body.items() if k != "kind"}
    body["kind"] = "FunnelCorrelationActorsQuery" if people else "FunnelCorrelationQuery"
    body["correlation_type"] = query.get("correlation_type", "events") or "events"
    errors = {}
    if query.get("target_step") not in (None, ""):
        try:
            body["target_step"] = int(query.get("target_step"))
        except ValueError:
            errors["target_step"] = "must be a step index"
    if body["correlation_type"] == "properties":
        body["property"] = query.get("property", "")
        body["property_type"] = query.get("property_type", "person") or "person"
    if query.get("include_internal") in ("1", "on", "true"):
        body["include_internal"] = True
    if people:
        body["status"] = query.get("status", "converted")
        body["candidate"] = query.get("candidate", "")
    if errors:
        raise BadRequest("Invalid correlation analysis.", errors)
    if people:
        return CorrelationPeopleSpec.from_json(body, project)
    return FunnelCorrelationSpec.from_json(body, project)


def _correlation_params(spec) -> list[tuple[str, str]]:
    """The analysis' own query parameters (the funnel's `q` aside), for its links."""
    params = [("correlation_type", spec.correlation_type), ("target_step", str(spec.target))]
    if spec.correlation_type == "properties":
        params += [("property", spec.property_key), ("property_type", spec.property_type)]
    if spec.include_internal:
        params.append(("include_internal", "1"))
    return params


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def correlation(request):
    """Correlation analysis of the funnel in `?q=` (an htmx partial the result loads once
    it is scrolled to): the events, or a property's values, most tied to conversion."""
    from urllib.parse import urlencode  # noqa: PLC0415

    from .correlation import SIGNIFICANCE  # noqa: PLC0415
    from .queries.correlation import FunnelCorrelationRunner  # noqa: PLC0415

    project = request.project
    q = request.GET.get("q", "")
    context = {
        "project": project,
        "q": q,
        "state": {k: request.GET.get(k, "") for k in ("correlation_type", "property", "property_type")},
        "correlation_url": reverse("funnels:correlation", kwargs={"project_id": project.pk}),
        "significance": SIGNIFICANCE,
    }
    context["state"]["correlation_type"] = context["state"]["correlation_type"] or "events"

    def fill():
        try:
            funnel_spec = FunnelSpec.from_json(decode_q(q), project)
            context["step_choices"] = [(k, s.event) for k, s in enumerate(funnel_spec.steps)][1:]
            raw = request.GET.get("target_step", "")
            context["state"]["target_step"] = int(raw) if raw.isdigit() else len(funnel_spec.steps) - 1
        except BadRequest:
            pass
        if (
            context["state"]["correlation_type"] == "properties"
            and not request.GET.get("property", "").strip()
        ):
            context["pick_property"] = True  # the Properties tab, opened: nothing to run yet
            context["state"]["property_type"] = context["state"]["property_type"] or "person"
            return
        spec = correlation_spec(request.GET, project)
        result = FunnelCorrelationRunner(project, spec).run()
        presenter = request.presenter
        people_url = reverse("funnels:correlation_actors", kwargs={"project_id": project.pk})
        base = [("q", q), *_correlation_params(spec)]

        def rows(found):
            out = []
            for c in found:
                key = result.key(c.candidate, presenter)

                def link(status, key=key):
                    return people_url + "?" + urlencode([*base, ("status", status), ("candidate", key)])

                out.append(
                    {
                        "c": c,
                        "label": result.label(c.candidate, presenter),
                        "ratio": _ratio_text(c.odds_ratio),
                        "p_value": _p_text(c.p_value),
                        "converted_url": link("converted"),
                        "dropped_url": link("dropped"),
                    }
                )
            return out

        context.update(
            {
                "spec": spec,
                "result": result,
                "target_event": spec.funnel.steps[spec.target].event,
                "corr_json": json.dumps(spec.to_json(), separators=(",", ":")),
                "positive_rows": rows(result.positive),
                "negative_rows": rows(result.negative),
            }
        )
        context["state"]["target_step"] = spec.target

    return views_common.render_drill(request, CORRELATION_TEMPLATE, context, fill)


def _ratio_text(ratio: float) -> str:
    if ratio >= 1:
        return f"{ratio:.1f}× more likely"
    return f"{1 / ratio:.1f}× less likely"


def _p_text(p: float) -> str:
    return "< 0.0001" if p < 0.0001 else f"{p:.4f}"


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def correlation_actors(request):
    """The persons behind one correlation count: who converted (or dropped) and had the
    event / value in their window (an htmx partial, with the people actions)."""
    from .queries.correlation import FunnelCorrelationRunner  # noqa: PLC0415

    project = request.project
    context = {"project": project}

    def fill():
        spec = correlation_people_spec(request.GET, project)
        corr = spec.correlation
        runner = FunnelCorrelationRunner(project, corr)
        ids = runner.people(spec.status, spec.candidate, people.MAX_PEOPLE + 1)
        title = correlation_title(spec, request.presenter)
        shown = ids[:PAGE]
        names = people.people_details(project, shown, request.presenter)
        context.update(
            {
                "title": title,
                "total": len(ids),
                "truncated": len(ids) > people.MAX_PEOPLE,
                "persons": [
                    {
                        "id": pid,
                        "name": names.get(pid, ("", ""))[0],
                        "distinct_id": names.get(pid, ("", ""))[1],
                    }
                    for pid in shown
                ],
                "actions": people.actions(
                    request, "funnel_correlation", title, min(len(ids), people.MAX_PEOPLE)
                ),
            }
        )

    return views_common.render_drill(request, f"{CORRELATION_TEMPLATE}#people", context, fill)


PAGE = 100


def correlation_people_spec(query, project):
    return correlation_spec(query, project, people=True)


def correlation_title(spec, presenter) -> str:
    corr = spec.correlation
    shown = spec.candidate
    if shown.startswith(TOKEN_PREFIX):  # a masked label's token: its tag, never the value
        shown = f"{MASK_CHAR * 8} ‹{shown.removeprefix(TOKEN_PREFIX)}›"
    elif corr.correlation_type == "events":
        shown = presenter.text(shown)
    else:
        shown = presenter.label(corr.property_key, shown)
    what = f"did {shown}" if corr.correlation_type == "events" else f"had {corr.property_key} = {shown}"
    status = "converted" if spec.status == "converted" else "dropped"
    return f"Funnel {status} (step {corr.target + 1}, {corr.funnel.steps[corr.target].event}) and {what}"
