"""Trends builder page and its drill-down: gate -> form -> runner -> render."""

from __future__ import annotations

import datetime as dt
import json
import uuid

from django.urls import reverse
from django.views.decorators.http import require_GET

from analytics_app.access import project_page
from analytics_app.errors import BadRequest
from governance.roles import Permission
from insights import people, views_common
from insights.blocks import INTERVALS, OPERATORS
from trends import charts, forms
from trends.formula import letter
from trends.queries import TrendsPersonsQueryRunner, TrendsQueryRunner, series_label
from trends.spec import DISPLAYS, MATHS, NUMBER_MODES, PROPERTY_MATHS, TIME_DISPLAYS, TrendsSpec

TEMPLATE = "trends/trends.html"


def result_context(project, spec: TrendsSpec, result, presenter, *, drill: bool = True) -> dict:
    """What the result / tile partials need (shared by the page and dashboard tiles)."""
    payload = result.to_json(presenter)
    spec_json = json.dumps(spec.to_json(), separators=(",", ":"))
    display = spec.display
    figure = ""
    if display in TIME_DISPLAYS:
        figure = charts.trends_figure(
            payload,
            display,
            window=spec.window,
            show_series=spec.show_series,
            annotations=annotations_for_chart(project, result.start, result.end),
        )
    elif display == "pie":
        figure = charts.pie_figure(charts.pie_shares(payload, spec.show_series))
    context = {
        "spec": spec,
        "payload": payload,
        "display": display,
        "chart_id": "chart-" + uuid.uuid4().hex[:10],
        "figure_json": charts.figure_json(figure) if figure else "",
        "table": charts.table(payload, show_series=spec.show_series or not spec.formula),
        "numbers": charts.big_numbers(payload, spec.number, spec.show_series),
        "number_mode": spec.number,
        "totals": [
            {"label": charts.row_name(r, charts.lettered(payload)), "total": charts.format_number(r["total"])}
            for r in charts.shown_rows(payload, spec.show_series)
        ],
        "series_letters": [
            {"letter": letter(i), "label": series_label(s)} for i, s in enumerate(spec.series)
        ],
        "spec_json": spec_json,
        "range_text": views_common.range_text(project, result.start, result.end),
        # A valid event with nothing in the range: an empty state, not a flat zero line.
        "no_data": not any(v for r in payload["results"] for v in r["data"] if v),
        "series_events": ", ".join(dict.fromkeys(f"“{s.event}”" for s in spec.series)),
    }
    if drill:
        context["drill_url"] = reverse("trends:trends_persons", kwargs={"project_id": project.pk})
    return context


def annotations_for_chart(project, start, end) -> list[dict]:
    """The project's annotations inside [start, end] as the chart draws them."""
    from trends.models import Annotation  # noqa: PLC0415

    tz = project.tz
    out = []
    for a in Annotation.objects.filter(
        project=project, date_marker__gte=start, date_marker__lte=end
    ).select_related("created_by")[:200]:
        local = a.date_marker.astimezone(tz)
        out.append(
            {
                "date": local.isoformat(),
                "date_text": local.strftime("%Y-%m-%d %H:%M"),
                "text": a.content,
                "author": a.author_label,
            }
        )
    return out


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def trends(request):
    project = request.project
    event_names = views_common.event_names(project, views_common.is_partial(request))
    state, spec, error = forms.parse_request(
        request.GET, project, default_event=event_names[0] if event_names else "$pageview"
    )
    for i, s in enumerate(state["series"]):
        s["letter"] = letter(i)
    context = {
        "project": project,
        "state": state,
        "event_names": event_names,
        "maths": MATHS,
        "property_maths": sorted(PROPERTY_MATHS),
        "intervals": INTERVALS,
        "displays": DISPLAYS,
        "number_modes": NUMBER_MODES,
        "letters": [letter(i) for i in range(10)],
        "operators": OPERATORS,
        "presets": forms.DATE_PRESETS,
        "series_numbers": [str(i + 1) for i in range(len(state["series"]))],
        # the filter scope's choices: "A · $pageview" (the letter a formula uses, the event)
        "series_scopes": [
            (str(i + 1), f"{letter(i)} · {s['event']}" if s.get("event") else letter(i))
            for i, s in enumerate(state["series"])
        ],
    }

    def fill():
        views_common.check_events(project, {f"series[{i}].event": s.event for i, s in enumerate(spec.series)})
        result = TrendsQueryRunner(project, spec).run()
        context.update(result_context(project, spec, result, request.presenter))
        context["share_url"] = views_common.share_url(request, "trends:trends", project, context["spec_json"])
        if spec.display in TIME_DISPLAYS:
            from trends.annotations import may_delete  # noqa: PLC0415
            from trends.models import Annotation  # noqa: PLC0415

            shown = Annotation.objects.filter(
                project=project, date_marker__gte=result.start, date_marker__lte=result.end
            ).order_by("date_marker", "pk")[:200]
            context["annotations"] = [{"a": a, "deletable": may_delete(request, a)} for a in shown]
            context["can_annotate"] = Permission.EDIT_INSIGHTS in request.perms
            context["annotations_url"] = reverse("trends:annotations", kwargs={"project_id": project.pk})
            context["next"] = request.get_full_path()

    return views_common.render_builder(request, TEMPLATE, context, error, fill if spec is not None else None)


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def trends_persons(request):
    """The persons behind one chart point (an htmx partial under the chart)."""
    project = request.project
    context = {"project": project}

    def fill():
        spec, series_index, point, breakdown_index, period = _drill_params(request.GET, project)
        drill = TrendsPersonsQueryRunner(project, spec, series_index, point, breakdown_index, period).run()
        context["drill"] = request.presenter.present(drill)
        context["names"] = people.people_details(
            project, sorted({p.person_id for p in drill.persons}), request.presenter
        )
        context["actions"] = people.actions(
            request,
            "trends",
            f"Trends {drill.series_label} {drill.start.astimezone(project.tz):%Y-%m-%d %H:%M}",
            drill.total_persons,
        )
        if drill.breakdown_value is not None:
            from insights.blocks.breakdown import label  # noqa: PLC0415

            if spec.breakdown.type == "cohort":  # the cohort's name
                from insights.blocks.breakdown import cohort_labels  # noqa: PLC0415

                names = cohort_labels(project.id, spec.breakdown.cohorts)
                context["drill_breakdown"] = names.get(drill.breakdown_value, drill.breakdown_value)
            else:
                context["drill_breakdown"] = request.presenter.label(
                    spec.breakdown.property, label(drill.breakdown_value)
                )

    return views_common.render_drill(request, f"{TEMPLATE}#persons", context, fill)


def _drill_params(query, project):
    spec = views_common.spec_from_q(query, TrendsSpec, project)
    errors = {}
    try:
        series_index = int(query.get("series", ""))
    except ValueError:
        errors["series"] = "must be a series number"
        series_index = 0
    try:
        point = dt.datetime.fromisoformat(query.get("date", ""))
        if point.tzinfo is None:
            point = point.replace(tzinfo=project.tz)
    except ValueError:
        errors["date"] = "must be an ISO interval start"
        point = None
    raw_index = query.get("breakdown_index", "")
    breakdown_index = None
    if raw_index not in ("", "null", "undefined"):
        try:
            breakdown_index = int(raw_index)
        except ValueError:
            errors["breakdown_index"] = "must be a number"
    period = query.get("period", "current") or "current"
    if errors:
        raise BadRequest("Invalid drill-down.", errors)
    return spec, series_index, point, breakdown_index, period


def render_tile(request, project, spec: TrendsSpec, result) -> str:
    """A dashboard tile body: the chart (or table / number) without the builder.

    The host page must load static/vendor/plotly/plotly.min.js and the kind's `scripts` (trends/insight.py).
    """
    return views_common.render_tile(
        request, project, TEMPLATE, lambda p: result_context(project, spec, result, p, drill=False)
    )
