"""Saved insights and dashboards. Each view: gate -> form -> cache/runner -> render;
htmx requests get a `{% partialdef %}` of the same template."""

from __future__ import annotations

import logging
from urllib.parse import urlencode

from django.contrib import messages
from django.core.paginator import Paginator
from django.db import transaction
from django.db.models import Count, Max
from django.http import HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from analytics_app import clickhouse as ch
from analytics_app.access import project_page
from analytics_app.errors import BadRequest
from governance import audit
from governance.roles import Permission
from insights.blocks.filters import OPERATORS
from insights.registry import KINDS

from .cache import DateOverride, compute_insight, filters_text, peek_insight
from .defaults import ensure_default_dashboard
from .forms import (
    DATE_PRESETS,
    FILTER_FIELDS,
    AddToDashboardForm,
    DashboardForm,
    DateRangeForm,
    InsightForm,
    InsightSearchForm,
    SaveInsightForm,
    ShareLinkForm,
    TileForm,
    parse_dashboard_filters,
)
from .models import Dashboard, DashboardTile, Insight, ShareLink

log = logging.getLogger(__name__)
# Readers open everything; a write (save, rename, delete, add to a dashboard, tiles, a
# stored date range, a new dashboard) needs EDIT_INSIGHTS.
gate = project_page(Permission.VIEW_INSIGHTS, write=Permission.EDIT_INSIGHTS)
PAGE_SIZE = 50


def tile_scripts() -> list[str]:
    """Every registered kind's `scripts`, which draw its tiles' figures (plotly is always
    loaded by the pages). All kinds, not only those on the page: a dashboard's tiles
    arrive later through htmx, and a script must be there before its figure is."""
    out: list[str] = []
    for kind in KINDS.values():
        for script in kind.scripts:
            if script not in out:
                out.append(script)
    return out


def tile_styles() -> list[str]:
    """Every registered kind's `styles` (stylesheets its tiles need)."""
    return list(dict.fromkeys(style for kind in KINDS.values() for style in kind.styles))


def _base_context(request, **extra) -> dict:
    return {
        "project": request.project,
        "can_edit": Permission.EDIT_INSIGHTS in request.perms,
        "tile_scripts": tile_scripts(),
        "tile_styles": tile_styles(),
        **extra,
    }


def render_result(request, insight: Insight, override: DateOverride, *, refresh: bool, project=None) -> dict:
    """Compute (or fetch) an insight and render its tile body; failures become a
    message in the tile, never a 500. `project`: the insight's (default: the request's)."""
    try:
        computed = compute_insight(insight, override, refresh=refresh)
        kind = KINDS[insight.kind]
        html = kind.render_tile(request, project or request.project, computed.spec, computed.result)
        return {"computed": computed, "tile_html": mark_safe(html), "error": ""}  # noqa: S308 - the kind's own renderer escapes
    except BadRequest as exc:
        details = "; ".join(f"{k}: {v}" for k, v in exc.errors.items())
        return {"computed": None, "tile_html": "", "error": f"{exc.message} {details}".strip()}
    except (ch.QueryTimeout, ch.QueryTooLarge):
        return {
            "computed": None,
            "tile_html": "",
            "error": "The query is too large for the configured limits; narrow the date range.",
        }
    except ch.ClickHouseError as exc:
        log.warning("insight %s failed: %s", insight.pk, exc)
        return {
            "computed": None,
            "tile_html": "",
            "error": "The events store could not answer this query; try again shortly.",
        }


def _override_from_get(request, default: DateOverride) -> tuple[DateOverride, DateRangeForm]:
    """`?date_from=&date_to=` override the stored range and `?fs=1&filter_key=…` (the filter
    rows) the stored property filters, for this view only (a shareable URL); absent -> stored.
    A bad range or filter is a form error (400) and the stored value stays in force."""
    if "date_from" in request.GET or "date_to" in request.GET:
        form = DateRangeForm(request.GET, project=request.project)
    else:
        form = DateRangeForm(default.as_params(), project=request.project)
    properties = default.properties
    if "fs" in request.GET:
        filters, error = parse_dashboard_filters(request.GET)
        if error:
            form.is_valid()
            form.add_error(None, f"Invalid dashboard filter: {error}")
        else:
            properties = filters_text(filters)
    if form.is_valid():
        return DateOverride(form.override.date_from, form.override.date_to, properties), form
    return DateOverride(default.date_from, default.date_to, properties), form


def _stored_override(dashboard: Dashboard) -> DateOverride:
    return DateOverride(dashboard.date_from, dashboard.date_to, filters_text(dashboard.filters))


def override_query(override: DateOverride) -> list[tuple[str, str]]:
    """The query string of an override (the GET form's own fields), for tile and refresh URLs."""
    query = list(override.as_params().items()) + [("fs", "1")]
    for f in override.filters:
        value = f.get("value")
        query += [
            ("filter_type", f.get("type", "event")),
            ("filter_key", f.get("key", "")),
            ("filter_operator", f.get("operator", "exact")),
            ("filter_value", "" if value is None else str(value)),
        ]
    return query


def filter_states(override: DateOverride, viewer=None) -> list[dict]:
    """The filter rows' state for insights/_filter_row.html; values pass through the
    viewer's Presenter (an editor with view-PII may have saved a filter on an e-mail)."""
    rows = []
    for f in override.filters:
        value = "" if f.get("value") is None else f.get("value")
        if viewer is not None and value != "":
            value = viewer.value(f.get("key", ""), value)
        rows.append(
            {
                "type": f.get("type", "event"),
                "key": f.get("key", ""),
                "operator": f.get("operator", "exact"),
                "value": value,
            }
        )
    return rows


def _status(*forms) -> int:
    return 400 if any(f is not None and f.errors for f in forms) else 200


# --- saved insights ---------------------------------------------------------


@require_GET
@gate
def insights(request):
    project = request.project
    stored_kinds = set(Insight.objects.filter(project=project).values_list("kind", flat=True).distinct())
    kinds = sorted({(k.kind, k.label) for k in KINDS.values()} | {(k, k) for k in stored_kinds - set(KINDS)})
    form = InsightSearchForm(request.GET or None, kinds=kinds)
    queryset = Insight.objects.filter(project=project).select_related("created_by")
    if request.GET:
        queryset = form.filter(queryset)
    page = Paginator(queryset, PAGE_SIZE).get_page(request.GET.get("page"))
    context = _base_context(
        request, form=form, page=page, insights=page.object_list, filtered=bool(request.GET)
    )
    template = "dashboards/insights.html#results" if request.htmx else "dashboards/insights.html"
    return render(request, template, context, status=_status(form))


@require_http_methods(["GET", "POST"])
@project_page(Permission.EDIT_INSIGHTS)
def insight_new(request):
    """Save a builder state. Builders include dashboards/_save_insight.html, which posts here via htmx."""
    project = request.project
    data = request.POST if request.method == "POST" else request.GET
    if request.method == "POST":
        form = SaveInsightForm(data, project=project)
    else:  # the form as a page (no-JS fallback), prefilled, not yet validated
        form = SaveInsightForm(project=project, initial={k: data.get(k, "") for k in ("name", "description")})
    context = _base_context(request, form=form, kind=data.get("kind", ""), spec_json=data.get("spec", ""))
    if request.method == "POST" and form.is_valid():
        insight = form.save(request.user)
        if not request.htmx:
            messages.success(request, f"Saved {insight.name}.")
            return redirect("dashboards:insight", project_id=project.pk, insight_id=insight.pk)
        context.update(
            saved=insight, add_form=AddToDashboardForm(project=project), spec_json=insight.spec_json
        )
    template = "dashboards/_save_insight.html" if request.htmx else "dashboards/insight_new.html"
    return render(request, template, context, status=_status(form) if request.method == "POST" else 200)


@require_http_methods(["GET", "POST"])
@gate
def insight(request, insight_id):
    """A saved insight's result; POST renames it (writers)."""
    project = request.project
    obj = get_object_or_404(Insight, pk=insight_id, project=project)
    form = None
    if request.method == "POST":
        form = InsightForm(request.POST, instance=obj)
        if form.is_valid():
            form.save()
            messages.success(request, "Insight updated.")
            return redirect("dashboards:insight", project_id=project.pk, insight_id=obj.pk)
        obj.refresh_from_db()
    context = _base_context(
        request,
        insight=obj,
        form=form or InsightForm(instance=obj),
        add_form=AddToDashboardForm(project=project),
        on_dashboards=Dashboard.objects.filter(tiles__insight=obj).distinct(),
        definition_shown=not request.presenter.reveals(obj.spec),
        **share_context(request, obj),
        refresh_url=reverse("dashboards:insight", kwargs={"project_id": project.pk, "insight_id": obj.pk})
        + "?refresh=1",
        **render_result(request, obj, DateOverride(), refresh=request.GET.get("refresh") == "1"),
    )
    template = "dashboards/insight.html#result" if request.htmx else "dashboards/insight.html"
    return render(request, template, context, status=_status(form))


@require_POST
@gate
def insight_delete(request, insight_id):
    obj = get_object_or_404(Insight, pk=insight_id, project=request.project)
    facts = {"name": obj.name, "kind": obj.kind, "spec": obj.spec}
    obj.delete()
    audit.record(request, "insight.delete", project=request.project, target=obj.name, before=facts)
    messages.success(request, f"Deleted {obj.name}.")
    return redirect("dashboards:insights", project_id=request.project.pk)


@require_POST
@gate
def insight_add_to_dashboard(request, insight_id):
    project = request.project
    obj = get_object_or_404(Insight, pk=insight_id, project=project)
    form = AddToDashboardForm(request.POST, project=project)
    added = None
    if form.is_valid():
        dashboard = form.cleaned_data["dashboard"]
        with transaction.atomic():
            last = dashboard.tiles.aggregate(m=Max("order"))["m"]
            added = DashboardTile.objects.create(
                dashboard=dashboard,
                insight=obj,
                order=0 if last is None else last + 1,
                width=form.cleaned_data["width"],
            )
        if not request.htmx:
            messages.success(request, f"Added {obj.name} to {dashboard.name}.")
            return redirect("dashboards:dashboard", project_id=project.pk, dashboard_id=dashboard.pk)
    elif not request.htmx:
        return HttpResponseBadRequest("Choose one of this project's dashboards.")
    context = _base_context(request, insight=obj, add_form=form, added=added)
    return render(request, "dashboards/_add_to_dashboard.html", context, status=_status(form))


# --- dashboards -------------------------------------------------------------


@require_http_methods(["GET", "POST"])
@gate
def dashboards(request):
    """The project's dashboards; POST creates one (writers). The default dashboard
    is created on the first visit."""
    project = request.project
    form = DashboardForm(request.POST or None)
    if request.method == "POST":
        if form.is_valid():
            dashboard = form.save(commit=False)
            dashboard.project = project
            dashboard.created_by = request.user
            dashboard.save()
            return redirect("dashboards:dashboard", project_id=project.pk, dashboard_id=dashboard.pk)
    else:
        ensure_default_dashboard(project, request.user)
    items = Dashboard.objects.filter(project=project).annotate(tile_count=Count("tiles"))
    context = _base_context(request, form=form, dashboards=items)
    return render(
        request,
        "dashboards/dashboards.html",
        context,
        status=_status(form if request.method == "POST" else None),
    )


def _tile_urls(
    project, dashboard, tiles, override: DateOverride, refresh: bool
) -> list[tuple[DashboardTile, str]]:
    query = override_query(override)
    if refresh:
        query.append(("refresh", "1"))
    qs = urlencode(query)
    out = []
    for tile in tiles:
        url = reverse(
            "dashboards:dashboard_tile",
            kwargs={"project_id": project.pk, "dashboard_id": dashboard.pk, "tile_id": tile.pk},
        )
        out.append((tile, f"{url}?{qs}"))
    return out


@require_http_methods(["GET", "POST"])
@gate
def dashboard(request, dashboard_id):
    """The grid of tiles (each lazy-loaded). `?date_from=&date_to=` and `?fs=1&filter_…`
    override the stored range and filters for this view; `?refresh=1` makes every tile
    bypass the cache. POST (writers): `action=rename` or `action=dates` (store the range
    and the property filters)."""
    project = request.project
    obj = get_object_or_404(Dashboard, pk=dashboard_id, project=project)
    form = None
    stored = _stored_override(obj)
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "dates":
            dates = DateRangeForm(request.POST, project=project)
            filters, error = parse_dashboard_filters(request.POST)
            if error:
                dates.is_valid()
                dates.add_error(None, f"Invalid dashboard filter: {error}")
            if dates.is_valid():
                before = {"date_from": obj.date_from, "date_to": obj.date_to, "filters": obj.filters}
                obj.date_from, obj.date_to = dates.override.date_from, dates.override.date_to
                obj.filters = filters
                obj.save(update_fields=["date_from", "date_to", "filters", "updated_at"])
                after = {"date_from": obj.date_from, "date_to": obj.date_to, "filters": obj.filters}
                if after != before:
                    audit.record(
                        request,
                        "dashboard.filters",
                        project=project,
                        target=obj.name,
                        before=before,
                        after=after,
                    )
                messages.success(
                    request, "Date range and filters saved for everyone who opens this dashboard."
                )
                return redirect("dashboards:dashboard", project_id=project.pk, dashboard_id=obj.pk)
            override, date_form = stored, dates
        elif action == "rename":
            form = DashboardForm(request.POST, instance=obj)
            if form.is_valid():
                form.save()
                messages.success(request, "Dashboard updated.")
                return redirect("dashboards:dashboard", project_id=project.pk, dashboard_id=obj.pk)
            obj.refresh_from_db()
            override, date_form = _override_from_get(request, stored)
        else:
            return HttpResponseBadRequest("Unknown action.")
    else:
        override, date_form = _override_from_get(request, stored)
    return _render_dashboard(request, obj, override, date_form, form)


def _render_dashboard(request, obj, override: DateOverride, date_form, form=None):
    project = request.project
    refresh = request.GET.get("refresh") == "1"
    tiles = obj.tiles.select_related("insight", "insight__project")
    page_url = reverse("dashboards:dashboard", kwargs={"project_id": project.pk, "dashboard_id": obj.pk})
    presets = list(DATE_PRESETS)
    if override.date_from and override.date_from not in dict(presets):
        presets.append((override.date_from, f"From {override.date_from}"))
    tiles = list(tiles)
    stored = _stored_override(obj)
    computed = [] if refresh else [peek_insight(t.insight, override) for t in tiles]
    computed = [c for c in computed if c is not None]
    context = _base_context(
        request,
        dashboard=obj,
        form=form or DashboardForm(instance=obj),
        date_form=date_form,
        override=override,
        stored=stored,
        overridden=override != stored,
        filter_rows=filter_states(override, request.presenter),
        operators=OPERATORS,
        filter_fields=FILTER_FIELDS,
        presets=presets,
        tiles=_tile_urls(project, obj, tiles, override, refresh),
        widths=DashboardTile.Width.choices,
        heights=DashboardTile.Height.choices,
        page_url=page_url,
        refresh=refresh,
        oldest_computed=min(computed) if computed else None,
        newest_computed=max(computed) if computed else None,
        refresh_all_url=f"{page_url}?{urlencode([*override_query(override), ('refresh', '1')])}",
        **share_context(request, obj),
    )
    template = "dashboards/dashboard.html#body" if request.htmx else "dashboards/dashboard.html"
    return render(request, template, context, status=_status(form, date_form))


@require_GET
@gate
def dashboard_tile(request, dashboard_id, tile_id):
    """Just one tile's body (loaded by the grid with hx-trigger="load")."""
    project = request.project
    tile = get_object_or_404(
        DashboardTile.objects.select_related("insight", "dashboard"),
        pk=tile_id,
        dashboard_id=dashboard_id,
        dashboard__project=project,
    )
    override, date_form = _override_from_get(request, _stored_override(tile.dashboard))
    context = _base_context(request, tile=tile, insight=tile.insight)
    if date_form.errors:
        context.update(
            computed=None,
            tile_html="",
            error="Invalid date range: " + "; ".join(e for errs in date_form.errors.values() for e in errs),
        )
    else:
        context.update(
            render_result(request, tile.insight, override, refresh=request.GET.get("refresh") == "1")
        )
    qs = urlencode([*override_query(override), ("refresh", "1")])
    context["refresh_url"] = f"{request.path}?{qs}"
    return render(request, "dashboards/dashboard.html#tile_body", context, status=_status(date_form))


@require_POST
@gate
def dashboard_delete(request, dashboard_id):
    obj = get_object_or_404(Dashboard, pk=dashboard_id, project=request.project)
    if obj.is_default:
        return HttpResponseBadRequest("The default dashboard cannot be deleted; remove its tiles instead.")
    facts = {"name": obj.name, "tiles": [t.insight.name for t in obj.tiles.select_related("insight")]}
    obj.delete()
    audit.record(request, "dashboard.delete", project=request.project, target=obj.name, before=facts)
    messages.success(request, f"Deleted {obj.name}.")
    return redirect("dashboards:dashboards", project_id=request.project.pk)


@require_POST
@gate
def tile_update(request, dashboard_id, tile_id):
    """Move a tile up/down, resize it or remove it (writers). htmx gets the new grid."""
    project = request.project
    obj = get_object_or_404(Dashboard, pk=dashboard_id, project=project)
    tile = get_object_or_404(DashboardTile, pk=tile_id, dashboard=obj)
    form = TileForm(request.POST)
    if not form.is_valid():
        return HttpResponseBadRequest("; ".join(e for errs in form.errors.values() for e in errs))
    action = form.cleaned_data["action"]
    with transaction.atomic():
        if action == "remove":
            tile.delete()
        elif action == "width":
            tile.width = form.cleaned_data["width"]
            tile.save(update_fields=["width"])
        elif action == "height":
            tile.height = form.cleaned_data["height"]
            tile.save(update_fields=["height"])
        else:
            ordered = list(obj.tiles.select_for_update())
            i = next(n for n, t in enumerate(ordered) if t.pk == tile.pk)
            j = i - 1 if action == "up" else i + 1
            if 0 <= j < len(ordered):
                ordered[i], ordered[j] = ordered[j], ordered[i]
            for n, t in enumerate(ordered):
                if t.order != n:
                    t.order = n
                    t.save(update_fields=["order"])
    if request.htmx:
        stored = _stored_override(obj)
        return _render_dashboard(request, obj, stored, DateRangeForm(stored.as_params(), project=project))
    return redirect("dashboards:dashboard", project_id=project.pk, dashboard_id=obj.pk)


# --- share links (the panel; the public pages are in shared.py) -------------


def share_context(request, target) -> dict:
    """The share panel's context on an insight's or a dashboard's page (editors only)."""
    if Permission.EDIT_INSIGHTS not in request.perms:
        return {"share": None}
    return {"share": _share_panel(request, target, ShareLinkForm())}


def _share_panel(request, target, form) -> dict:
    field = "dashboard" if isinstance(target, Dashboard) else "insight"
    links = ShareLink.objects.filter(project=request.project, **{field: target}).select_related("created_by")
    url_name = f"dashboards:{field}_share"
    return {
        "url": reverse(url_name, kwargs={"project_id": request.project.pk, f"{field}_id": target.pk}),
        "links": [
            (
                link,
                request.build_absolute_uri(reverse("dashboards:shared", args=[link.token])),
                request.build_absolute_uri(reverse("dashboards:embed", args=[link.token])),
            )
            for link in links
        ],
        "form": form,
        "what": field,
    }


def _share_what(target) -> str:
    return "dashboard" if isinstance(target, Dashboard) else "insight"


def _iso(moment) -> str | None:
    return moment.isoformat() if moment else None


def _share(request, target, page_url: str):
    """GET: the share panel as a page. POST (editors): `action=create` (optional
    `expires_at`) or `action=revoke` (`link`); each audited. htmx gets the panel back."""
    form = ShareLinkForm()
    status = 200
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "create":
            form = ShareLinkForm(request.POST)
            if form.is_valid():
                link = ShareLink.issue(target, request.user, form.cleaned_data["expires_at"])
                audit.record(
                    request,
                    "share_link.create",
                    project=request.project,
                    target=f"{_share_what(target)} {target.name}",
                    after={"expires_at": _iso(link.expires_at)},
                )
                form = ShareLinkForm()
            else:
                status = 400
        elif action == "revoke":
            link = ShareLink.objects.filter(
                pk=request.POST.get("link") if str(request.POST.get("link", "")).isdigit() else 0,
                project=request.project,
                **{"dashboard" if isinstance(target, Dashboard) else "insight": target},
            ).first()
            if link is None:
                return HttpResponseBadRequest("Choose one of this page's share links.")
            if link.revoked_at is None:
                link.revoked_at = timezone.now()
                link.save(update_fields=["revoked_at"])
                audit.record(
                    request,
                    "share_link.revoke",
                    project=request.project,
                    target=f"{_share_what(target)} {target.name}",
                    before={"created_at": _iso(link.created_at), "expires_at": _iso(link.expires_at)},
                )
        else:
            return HttpResponseBadRequest("Unknown action.")
        if not request.htmx and status == 200:
            return redirect(page_url)
    context = _base_context(
        request, share=_share_panel(request, target, form), target=target, page_url=page_url
    )
    template = "dashboards/share.html#panel" if request.htmx else "dashboards/share.html"
    return render(request, template, context, status=status)


share_gate = project_page(Permission.EDIT_INSIGHTS)


@require_http_methods(["GET", "POST"])
@share_gate
def insight_share(request, insight_id):
    obj = get_object_or_404(Insight, pk=insight_id, project=request.project)
    page = reverse("dashboards:insight", kwargs={"project_id": request.project.pk, "insight_id": obj.pk})
    return _share(request, obj, page)


@require_http_methods(["GET", "POST"])
@share_gate
def dashboard_share(request, dashboard_id):
    obj = get_object_or_404(Dashboard, pk=dashboard_id, project=request.project)
    page = reverse("dashboards:dashboard", kwargs={"project_id": request.project.pk, "dashboard_id": obj.pk})
    return _share(request, obj, page)
