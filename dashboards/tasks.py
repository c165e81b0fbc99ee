"""Celery entry points: take ids, are idempotent, call the same code as the pages."""

from __future__ import annotations

import logging

from celery import shared_task

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest

from .cache import DateOverride, compute_insight, filters_text
from .models import Dashboard

log = logging.getLogger(__name__)


@shared_task(name="dashboards.refresh_dashboard")
def refresh_dashboard(dashboard_id: int) -> dict:
    """Recompute every tile of a dashboard (under its stored date range) into the
    cache. Running it twice just recomputes twice; a deleted dashboard is a no-op."""
    dashboard = Dashboard.objects.select_related("project").filter(pk=dashboard_id).first()
    if dashboard is None:
        return {"dashboard_id": dashboard_id, "refreshed": 0, "failed": 0, "missing": True}
    override = DateOverride(dashboard.date_from, dashboard.date_to, filters_text(dashboard.filters))
    refreshed = failed = 0
    seen: set[int] = set()
    for tile in dashboard.tiles.select_related("insight__project"):
        if tile.insight_id in seen:
            continue
        seen.add(tile.insight_id)
        try:
            compute_insight(tile.insight, override, refresh=True)
            refreshed += 1
        except (BadRequest, ch.ClickHouseError) as exc:
            failed += 1
            log.warning("refresh_dashboard %s: insight %s failed: %s", dashboard_id, tile.insight_id, exc)
    return {"dashboard_id": dashboard_id, "refreshed": refreshed, "failed": failed, "missing": False}
