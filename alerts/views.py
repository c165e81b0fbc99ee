"""Alert pages: the project's rules, one rule (chart, root cause, history, notification
log, snooze/mute), the rule form with its 30-day backtest, and the in-app bell's list.

Access (docs/alerts.md): members who view insights see rules on insights; rules on the
project's ingestion metrics, and every change, need "manage alerts".
"""

from __future__ import annotations

import datetime as dt

from django.apps import apps
from django.contrib import messages
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import Http404, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from analytics_app import clickhouse as ch
from analytics_app.access import project_page
from analytics_app.errors import BadRequest
from governance import audit
from governance.roles import Permission
from insights.chart_style import figure_json

from . import charts
from .evaluate import backtest
from .forms import SNOOZES, AlertForm, initial_for, snapshot
from .models import AlertEvent, AlertRule, Notification, State
from .notify import shown_causes
from .rootcause import filtered_insight_url

P = Permission
ALERT_KINDS = ("TrendsQuery", "FunnelsQuery")
BACKTEST_DAYS = 30
HISTORY_ROWS = 50
RECENT_DAYS, RECENT_DOTS = 3, 8  # the list's dots: the last judged periods


def visible_rules(request):
    rules = AlertRule.objects.filter(project=request.project).select_related("insight")
    if P.MANAGE_ALERTS not in request.perms:
        rules = rules.filter(insight__isnull=False)
    return rules


def _rule(request, alert_id) -> AlertRule:
    return get_object_or_404(visible_rules(request).select_related("project"), pk=alert_id)


@project_page(P.VIEW_INSIGHTS)
def alerts(request):
    since = timezone.now() - dt.timedelta(days=RECENT_DAYS)
    recent_events = AlertEvent.objects.filter(period_start__gte=since).order_by("-period_start")
    rules = list(visible_rules(request).prefetch_related(Prefetch("events", recent_events, to_attr="recent")))
    recent = {r.pk: r.recent[:RECENT_DOTS] for r in rules}
    context = {
        "project": request.project,
        "rules": [(r, recent[r.pk]) for r in rules],
        "can_manage": P.MANAGE_ALERTS in request.perms,
        "insights": apps.get_model("dashboards", "Insight").objects.filter(
            project=request.project, kind__in=ALERT_KINDS
        )[:50],
    }
    return render(request, "alerts/alerts.html", context)


def _chart(rule: AlertRule, days: int) -> dict:
    """The backtest of the last `days` days as a figure (JSON) and its firings; or an error."""
    try:
        test = backtest(rule, days=days)
    except (BadRequest, ch.ClickHouseError) as exc:
        return {"chart_error": getattr(exc, "message", str(exc))}
    points = charts.backtest_points(test)
    return {
        "figure_json": figure_json(charts.alert_figure(points, rule.interval)),
        "would_fire": test.firings,
        "judged_count": len(test.judged),
    }


@project_page(P.VIEW_INSIGHTS)
def alert(request, alert_id):
    rule = _rule(request, alert_id)
    events = list(rule.events.all()[:HISTORY_ROWS])
    last_firing = rule.events.filter(state_to=State.FIRING).exclude(state_from=State.FIRING).first()
    causes = []
    if last_firing is not None:
        for raw, row in zip(
            last_firing.root_cause, shown_causes(last_firing, request.presenter), strict=True
        ):
            causes.append({**row, "url": "" if row["masked"] else filtered_insight_url(rule, raw)})
    notifications = Notification.objects.filter(firing__rule=rule).select_related("firing", "user")[
        :HISTORY_ROWS
    ]
    context = {
        "project": request.project,
        "rule": rule,
        "events": events,
        "last_firing": last_firing,
        "causes": causes,
        "notifications": notifications,
        "can_manage": P.MANAGE_ALERTS in request.perms,
        "snoozes": SNOOZES,
        "snoozed": rule.is_snoozed(),
        **_chart(rule, 7 if rule.interval == "hour" else 60),
    }
    return render(request, "alerts/alert.html", context)


def _insight_for(request, raw):
    if raw in (None, ""):
        return None
    try:
        pk = int(raw)
    except (TypeError, ValueError):
        raise BadRequest("Unknown insight.", {"insight": "must be a saved insight's id"}) from None
    insight = (
        apps.get_model("dashboards", "Insight")
        .objects.filter(project=request.project, pk=pk, kind__in=ALERT_KINDS)
        .first()
    )
    if insight is None:
        raise Http404("No such trends or funnel insight")
    return insight


def _form_page(request, rule: AlertRule | None):
    """The new/edit form. GET shows it with a backtest of its initial values; POST with
    action=backtest re-runs the backtest on the submitted values, action=save saves."""
    project = request.project
    if rule is not None:
        insight = rule.insight
    else:
        try:
            insight = _insight_for(request, request.POST.get("insight") or request.GET.get("insight"))
        except BadRequest as exc:
            return HttpResponseBadRequest(exc.message)
    status = 200
    if request.method == "POST":
        form = AlertForm(request.POST, project=project, insight=insight)
    else:
        initial = (
            initial_for(rule)
            if rule
            else {"name": f"{insight.name} alert" if insight else "Ingestion volume"}
        )
        form = AlertForm(initial=initial, project=project, insight=insight)
        form = AlertForm({**_defaults(form), **initial}, project=project, insight=insight)
    preview = {}
    before = snapshot(rule) if rule is not None else None
    if form.is_valid():
        candidate = form.apply(rule or AlertRule(created_by=request.user))
        if request.method == "POST" and request.POST.get("action") == "save":
            creating = candidate.pk is None
            candidate.save()
            audit.record(
                request,
                "alert.create" if creating else "alert.update",
                project=project,
                target=candidate.name,
                before=before,
                after=snapshot(candidate),
            )
            messages.success(request, f"Alert “{candidate.name}” saved.")
            return redirect("alerts:alert", project_id=project.pk, alert_id=candidate.pk)
        candidate.project = project
        preview = _chart(candidate, BACKTEST_DAYS)
    else:
        status = 400
    context = {
        "project": project,
        "form": form,
        "rule": rule,
        "insight": insight,
        "backtest_days": BACKTEST_DAYS,
        **preview,
    }
    return render(request, "alerts/form.html", context, status=status)


def _defaults(form: AlertForm) -> dict:
    """Every field's initial value (so the first backtest runs on the defaults)."""
    out = {}
    for name, field in form.fields.items():
        value = form.initial.get(name, field.initial)
        if value is None:
            continue
        if isinstance(value, bool):
            if value:
                out[name] = "on"
            continue
        out[name] = value
    return out


@project_page(P.MANAGE_ALERTS)
def alert_new(request):
    return _form_page(request, None)


@project_page(P.MANAGE_ALERTS)
def alert_edit(request, alert_id):
    return _form_page(request, _rule(request, alert_id))


@require_POST
@project_page(P.MANAGE_ALERTS)
def alert_snooze(request, alert_id):
    """action: 1h | 1d | resolved (snooze), unsnooze, mute, unmute."""
    rule = _rule(request, alert_id)
    action = request.POST.get("action", "")
    now = timezone.now()
    changes = {
        "1h": {"snoozed_until": now + dt.timedelta(hours=1), "snoozed_until_resolved": False},
        "1d": {"snoozed_until": now + dt.timedelta(days=1), "snoozed_until_resolved": False},
        "resolved": {"snoozed_until": None, "snoozed_until_resolved": True},
        "unsnooze": {"snoozed_until": None, "snoozed_until_resolved": False},
        "mute": {"muted": True},
        "unmute": {"muted": False},
    }.get(action)
    if changes is None:
        return HttpResponseBadRequest("Unknown action.")
    before = {k: str(getattr(rule, k)) for k in changes}
    AlertRule.objects.filter(pk=rule.pk).update(**changes)
    audit.record(
        request,
        "alert.mute" if "muted" in changes else "alert.snooze",
        project=request.project,
        target=rule.name,
        before=before,
        after={k: str(v) for k, v in changes.items()},
    )
    messages.success(request, f"{rule.name}: {dict(SNOOZES).get(action, action)}.")
    return redirect("alerts:alert", project_id=request.project.pk, alert_id=rule.pk)


@require_POST
@project_page(P.MANAGE_ALERTS)
def alert_delete(request, alert_id):
    rule = _rule(request, alert_id)
    facts = snapshot(rule)
    rule.delete()
    audit.record(request, "alert.delete", project=request.project, target=facts["name"], before=facts)
    messages.success(request, f"Deleted {facts['name']}.")
    return redirect("alerts:alerts", project_id=request.project.pk)


@project_page(P.VIEW_INSIGHTS)
def notifications(request):
    """The bell: this user's in-app notifications in this project; POST marks them read."""
    mine = Notification.objects.filter(
        user=request.user, firing__rule__project=request.project, status=Notification.Status.SENT
    ).select_related("firing__rule")
    if request.method == "POST":
        mine.filter(read_at__isnull=True).update(read_at=timezone.now())
        return redirect("alerts:notifications", project_id=request.project.pk)
    page = Paginator(mine, 50).get_page(request.GET.get("page"))
    context = {"project": request.project, "page": page, "items": page.object_list}
    return render(request, "alerts/notifications.html", context)


def alert_me_url(project_id: int, insight_id: int) -> str:
    return reverse("alerts:alert_new", kwargs={"project_id": project_id}) + f"?insight={insight_id}"
