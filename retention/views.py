"""Retention builder and its persons drill-down: gate -> form -> runner -> render."""

from __future__ import annotations

import json
import uuid
from urllib.parse import quote

from django.urls import reverse
from django.views.decorators.http import require_GET

from analytics_app.access import project_page
from analytics_app.errors import BadRequest
from cohorts.membership import project_cohorts
from governance.roles import Permission
from insights import people, views_common
from insights.blocks import OPERATORS

from . import charts, forms
from .queries import RetentionActorsRunner, RetentionQueryRunner
from .spec import PERIODS, RETENTION_TYPES, RetentionSpec

TEMPLATE = "retention/retention.html"


# ---------------------------------------------------------------- retention
def result_context(
    project, spec: RetentionSpec, result, presenter, show: str = "percent", *, drill: bool = True
) -> dict:
    payload = result.to_json(presenter)
    spec_json = json.dumps(spec.to_json(), separators=(",", ":"))
    groups = []
    for i, group in enumerate(charts.groups(payload)):
        index = group["breakdown_index"] if group["breakdown_index"] is not None else i
        groups.append(
            {
                "index": index,
                "breakdown_value": group["breakdown_value"],
                **charts.heatmap(group["rows"], spec.period.value, show),
            }
        )
    all_rows = (
        payload["results"]
        if spec.breakdown is None
        else [r for g in charts.groups(payload) for r in g["rows"]]
    )
    return {
        "spec": spec,
        "payload": payload,
        # a valid event nobody did in the range: an empty state, not a matrix of zeros
        "no_data": not any(r["cohort_size"] for r in payload["results"]),
        "groups": groups,
        "show": show,
        "summary": charts.summary(
            all_rows if spec.breakdown is None else charts.groups(payload)[0]["rows"], spec.period.value
        )
        if payload["results"]
        else [],
        "figure_json": charts.figure_json(charts.curve_figure(payload)),
        "chart_id": "retention-" + uuid.uuid4().hex[:10],
        "spec_json": spec_json,
        "period_label": charts.PERIOD_LABEL[spec.period.value],
        "range_text": f"{result.starts[0].astimezone(project.tz):%Y-%m-%d} – {result.end.astimezone(project.tz):%Y-%m-%d} (exclusive, {project.time_zone})",
        "drill_url": reverse("retention:retention_persons", kwargs={"project_id": project.pk})
        if drill
        else "",
        "drill_q": quote(spec_json, safe=""),
    }


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def retention(request):
    project = request.project
    partial = views_common.is_partial(request)
    event_names = views_common.event_names(project, partial)
    state, spec, error = forms.parse_request(
        request.GET, project, default_event=event_names[0] if event_names else "$pageview"
    )
    show = forms.show_from_query(request.GET)
    context = {
        "project": project,
        "state": state,
        "show": show,
        "show_choices": forms.SHOW,
        "event_names": event_names,
        "periods": PERIODS,
        "retention_types": RETENTION_TYPES,
        "operators": OPERATORS,
        "presets": forms.DATE_PRESETS,
        "cohorts": [] if partial else list(project_cohorts(project).only("pk", "name")),
        "filter_rows": {p: state[p] + [None] * (2 if p == "filter" else 1) for p in forms.FILTER_PREFIXES},
    }

    def fill():
        views_common.check_events(
            project,
            {
                "target_event.event": spec.target_event.event,
                "returning_event.event": spec.returning_event.event,
            },
        )
        result = RetentionQueryRunner(project, spec).run()
        context.update(result_context(project, spec, result, request.presenter, show))
        context["share_url"] = views_common.share_url(
            request, "retention:retention", project, context["spec_json"]
        )

    return views_common.render_builder(request, TEMPLATE, context, error, fill if spec is not None else None)


def _int(query, name: str, errors: dict, default=None):
    raw = query.get(name, "")
    if raw in ("", None) and default is not None:
        return default
    try:
        return int(raw)
    except ValueError:
        errors[name] = "must be a whole number"
        return default


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def retention_persons(request):
    """The persons of one matrix cell (an htmx partial under the matrix)."""
    project = request.project
    context = {"project": project, "can_view_recordings": Permission.VIEW_RECORDINGS in request.perms}

    def fill():
        spec = views_common.spec_from_q(
            request.GET, RetentionSpec, project, message="Invalid cell.", what="the matrix's"
        )
        errors: dict = {}
        cohort = _int(request.GET, "cohort", errors)
        offset = _int(request.GET, "offset", errors)
        breakdown_index = _int(request.GET, "breakdown_index", errors, default=-1)
        if errors:
            raise BadRequest("Invalid cell.", errors)
        value = None
        label = None
        if spec.breakdown is not None:
            matrix = RetentionQueryRunner(project, spec).run()
            values = matrix.breakdown_values()
            if not 0 <= breakdown_index < len(values):
                raise BadRequest("Invalid cell.", {"breakdown_index": "no such breakdown value"})
            value = values[breakdown_index]
            label = matrix.label(value, request.presenter)
        cell = RetentionActorsRunner(project, spec, cohort, offset, value).run()
        context["cell"] = request.presenter.present(cell)
        context["cell_breakdown"] = label
        context["period_label"] = charts.PERIOD_LABEL[spec.period.value]
        context["names"] = people.people_details(
            project, sorted({p.person_id for p in cell.persons}), request.presenter
        )
        context["actions"] = people.actions(
            request,
            "retention",
            f"Retention cohort {cell.cohort_date:%Y-%m-%d} {context['period_label']} {cell.offset}",
            cell.total_persons,
        )

    return views_common.render_drill(request, f"{TEMPLATE}#persons", context, fill)


def render_tile(request, project, spec: RetentionSpec, result) -> str:
    """A dashboard tile body: the matrix (percent) without the builder."""
    return views_common.render_tile(
        request, project, TEMPLATE, lambda p: result_context(project, spec, result, p, drill=False)
    )
