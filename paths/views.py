"""Paths builder page, its top paths, its drill-down and the cleaning-rule editor:
gate -> spec -> runner -> render (one template, partials for htmx requests)."""

from __future__ import annotations

import dataclasses
import json
import uuid

from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics_app.access import project_page
from analytics_app.errors import BadRequest
from governance import audit
from governance.roles import Permission
from insights import people, views_common
from insights.blocks import OPERATORS
from insights.registry import decode_q

from . import charts, forms
from .masking import NodeMasker
from .models import PathCleaningRule
from .queries import (
    PathCleaningPreviewRunner,
    PathNodesQueryRunner,
    PathsActorsRunner,
    PathsQueryRunner,
    TopPathsQueryRunner,
    project_rules,
)
from .spec import CUSTOM as CUSTOM_EVENTS
from .spec import EVENT_TYPES, MAX_STEPS, MIN_STEPS, CleaningRule, PathsSpec, parse_cleaning_rules

TEMPLATE = "paths/paths.html"


def result_context(project, spec: PathsSpec, result, presenter, *, drill: bool = True) -> dict:
    """Everything the result partial shows; every node label passes through the
    presenter's NodeMasker (payload, Sankey, tables)."""
    payload = result.to_json(presenter)
    context = {
        "spec": spec,
        "payload": payload,
        "chart_id": "paths-" + uuid.uuid4().hex[:10],
        "figure_json": charts.figure_json(charts.sankey_figure(payload)) if payload["results"] else "",
        "edge_rows": charts.edge_rows(payload),
        "dropoff_rows": charts.dropoff_rows(payload),
        "spec_json": json.dumps(spec.to_json(), separators=(",", ":")),
        "range_text": views_common.range_text(project, result.start, result.end),
    }
    if drill:
        context["drill_url"] = reverse("paths:paths_sessions", kwargs={"project_id": project.pk})
    return context


def _rules_context(request) -> dict:
    project = request.project
    return {
        "project_rules": PathCleaningRule.objects.filter(project=project),
        "can_edit_rules": Permission.EDIT_INSIGHTS in request.perms,
    }


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def paths(request):
    project = request.project
    state, spec, error = forms.parse_request(request.GET, project)
    partial = views_common.is_partial(request)
    context = {
        "project": project,
        "state": state,
        "event_types": EVENT_TYPES,
        "presets": forms.DATE_PRESETS,
        "operators": OPERATORS,
        "min_steps": MIN_STEPS,
        "max_steps": MAX_STEPS,
        **_rules_context(request),
    }

    def fill():
        views_common.check_events(
            project,
            {
                f"include_event_types[{i}]": name
                for i, name in enumerate(spec.include_event_types)
                if name != CUSTOM_EVENTS
            },
        )
        result = PathsQueryRunner(project, spec).run()
        context.update(result_context(project, spec, result, request.presenter))
        context["top_paths_url"] = views_common.spec_url("paths:top_paths", project, context["spec_json"])
        context["share_url"] = views_common.share_url(request, "paths:paths", project, context["spec_json"])
        if not partial:  # the start/end picker's nodes load after the page (path_nodes)
            context["nodes_url"] = views_common.spec_url("paths:path_nodes", project, context["spec_json"])

    return views_common.render_builder(request, TEMPLATE, context, error, fill if spec is not None else None)


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def top_paths(request):
    """The most common complete paths of `?q=<spec JSON>`, loaded by the page after the
    Sankey (an htmx partial); node names pass through the viewer's NodeMasker."""
    project = request.project
    context = {"project": project}

    def fill():
        spec = PathsSpec.from_json(decode_q(request.GET.get("q", "")), project)
        paths = TopPathsQueryRunner(project, spec).run()
        masker = NodeMasker(request.presenter, project.pk, spec.include_event_types)
        for p in paths:
            masker.add_kinds(dict(zip(p.nodes, p.kinds, strict=False)))
        context["top_paths"] = [
            {
                "nodes": [masker.name(n) for n in p.nodes],
                "sessions": p.sessions,
                "average_duration_seconds": p.average_duration_seconds,
            }
            for p in paths
        ]

    return views_common.render_drill(request, f"{TEMPLATE}#top_paths", context, fill)


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def path_nodes(request):
    """The start/end picker's options for `?q=<spec JSON>`: the most frequent nodes of the
    range, loaded by the page after it is shown (an htmx partial: one scan of the range's
    events that the first answer need not wait for). Only what this user can read: a
    masked node cannot be typed back, so it is left out."""
    project = request.project
    context = {"project": project}

    def fill():
        spec = views_common.spec_from_q(
            request.GET, PathsSpec, project, message="Invalid paths query.", what="a paths"
        )
        nodes = PathNodesQueryRunner(project, spec).run()
        masker = NodeMasker(request.presenter, project.pk, spec.include_event_types)
        masker.add_kinds(dict(nodes))
        context["nodes"] = [n for n, _ in nodes if not masker.changes(n)]

    return views_common.render_drill(request, f"{TEMPLATE}#nodes", context, fill)


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def paths_sessions(request):
    """The sessions and persons behind a node, an edge or a node's drop-off (htmx partial)."""
    project = request.project
    context = {"project": project, "can_view_recordings": Permission.VIEW_RECORDINGS in request.perms}

    def fill():
        spec = views_common.spec_from_q(request.GET, PathsSpec, project)
        node = request.GET.get("node", "")
        target = request.GET.get("target") or None
        ended = request.GET.get("ended") in ("1", "true", "on")
        raw_node, raw_target = _resolve_nodes(request, spec, node, target)
        drill = PathsActorsRunner(project, spec, raw_node, raw_target, ended=ended).run()
        what = (
            f"{_pretty(node)} → {_pretty(target)}"
            if target
            else (f"{_pretty(node)} (ended here)" if ended else _pretty(node))
        )
        context["drill"] = dataclasses.replace(drill, what=what)
        context["names"] = people.people_details(
            project, sorted({a.person_id for a in drill.actors if a.person_id}), request.presenter
        )
        context["actions"] = people.actions(request, "paths", f"Paths {what}", drill.total)

    return views_common.render_drill(request, f"{TEMPLATE}#sessions", context, fill)


def _pretty(node: str) -> str:
    """`2_/pricing` as the Sankey labels it: `2. /pricing`."""
    step, _, name = node.partition("_")
    return f"{step}. {name}"


def _resolve_nodes(request, spec: PathsSpec, node: str, target: str | None) -> tuple[str, str | None]:
    """The raw nodes behind the labels a user clicked. Users who may see PII get raw
    labels and send them back as they are. For anyone else a label is accepted only if
    it is a node of this result as they see it (masked or not), so the drill-down cannot
    be used to probe for node names the user is not allowed to read."""
    if request.presenter.can_view_pii:
        return node, target
    # Labels that this user would see unchanged whatever their source (no PII source
    # property among the event types, no query string) are the raw nodes themselves.
    blind = NodeMasker(request.presenter, request.project.pk, spec.include_event_types)
    if all(v is None or "_" not in v or not blind.changes(v.split("_", 1)[1]) for v in (node, target)):
        return node, target
    result = PathsQueryRunner(request.project, spec).run()
    masker = result.masker(request.presenter)
    shown: dict[str, str] = {}
    for e in result.edges:
        shown[masker.node(e.source)] = e.source
        shown[masker.node(e.target)] = e.target
    for d in result.dropoff:
        shown[masker.node(d.node)] = d.node
    out = []
    for name, value in (("node", node), ("target", target)):
        if value is None:
            out.append(None)
        elif value in shown:
            out.append(shown[value])
        else:
            raise BadRequest("Invalid drill-down.", {name: "not a node of these paths"})
    return out[0], out[1]


@require_http_methods(["GET", "POST"])
@project_page(Permission.VIEW_INSIGHTS, write=Permission.EDIT_INSIGHTS)
def cleaning_rules(request):
    """The project's cleaning rules (partial); POST adds one."""
    status = 200
    form = forms.CleaningRuleForm()
    if request.method == "POST":
        form = forms.CleaningRuleForm(request.POST)
        if form.is_valid():
            last = PathCleaningRule.objects.filter(project=request.project).order_by("-order").first()
            PathCleaningRule.objects.create(
                project=request.project,
                regex=form.cleaned_data["regex"],
                alias=form.cleaned_data["alias"],
                order=(last.order + 1) if last else 0,
            )
            form = forms.CleaningRuleForm()
        else:
            status = 400
    context = {"project": request.project, "rule_form": form, **_rules_context(request)}
    return render(request, f"{TEMPLATE}#rules", context, status=status)


@require_POST
@project_page(Permission.VIEW_INSIGHTS, write=Permission.EDIT_INSIGHTS)
def cleaning_rule_delete(request, rule_id: int):
    rule = get_object_or_404(PathCleaningRule, pk=rule_id, project=request.project)
    rule.delete()
    audit.record(
        request,
        "path_rule.delete",
        project=request.project,
        target=rule.regex,
        before={"regex": rule.regex, "alias": rule.alias},
    )
    context = {"project": request.project, "rule_form": forms.CleaningRuleForm(), **_rules_context(request)}
    return render(request, f"{TEMPLATE}#rules", context)


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def cleaning_preview(request):
    """A sample of recent URLs -> path -> cleaned node, with the project's rules, the
    builder's rules (rule_regex / rule_alias) and groupings (htmx partial)."""
    project = request.project
    status = 200
    context: dict = {"project": project}
    errors: dict = {}
    local = parse_cleaning_rules(forms.rules_from_query(request.GET), "path_cleaning", errors)
    groupings = tuple(forms.groupings_from_query(request.GET))
    if errors:
        context["error"] = BadRequest("Invalid cleaning rule.", errors)
        status = 400
    else:
        try:
            rules: tuple[CleaningRule, ...] = project_rules(project) + local
            preview = PathCleaningPreviewRunner(project, rules, groupings).run()
            context["preview"] = request.presenter.present(preview)
        except BadRequest as exc:
            context["error"] = exc
            status = 400
    return render(request, f"{TEMPLATE}#preview", context, status=status)


def render_tile(request, project, spec: PathsSpec, result) -> str:
    """A dashboard tile body: the Sankey without the builder (host loads plotly and paths.js)."""
    return views_common.render_tile(
        request, project, TEMPLATE, lambda p: result_context(project, spec, result, p, drill=False)
    )
