"""The default project dashboard: created once per project, lazily (first visit to
the dashboards page) or by `manage.py ensure_default_dashboards`.

Only tiles whose kind is registered are added, and each spec goes through its
kind's parser first; when none can be added, no dashboard is created (the next
visit tries again, e.g. once the trends app is installed).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db import IntegrityError, transaction

from analytics_app.errors import BadRequest
from insights.registry import KINDS

from .cache import parse_spec, spec_dict
from .models import Dashboard, DashboardTile, Insight

log = logging.getLogger(__name__)

DEFAULT_NAME = "Project overview"
DEFAULT_DESCRIPTION = "Traffic and signups at a glance. Created automatically; edit it like any dashboard."


@dataclass(frozen=True)
class DefaultTile:
    name: str
    description: str
    kind: str
    spec: dict
    width: int = 1


DEFAULT_TILES: list[DefaultTile] = [
    DefaultTile(
        "Pageviews (daily, last 30 days)",
        "Every $pageview, per day.",
        "TrendsQuery",
        {
            "kind": "TrendsQuery",
            "date_from": "-30d",
            "interval": "day",
            "series": [{"event": "$pageview", "math": "total"}],
            "display": "line",
        },
        width=2,
    ),
    DefaultTile(
        "Daily active users",
        "Unique persons with a $pageview each day.",
        "TrendsQuery",
        {
            "kind": "TrendsQuery",
            "date_from": "-30d",
            "interval": "day",
            "series": [{"event": "$pageview", "math": "dau"}],
            "display": "line",
        },
    ),
    DefaultTile(
        "Signups by week",
        "signed_up events per week over the last 90 days.",
        "TrendsQuery",
        {
            "kind": "TrendsQuery",
            "date_from": "-90d",
            "interval": "week",
            "series": [{"event": "signed_up", "math": "total"}],
            "display": "bar",
        },
        width=3,
    ),
]


def _valid_tiles(project) -> list[tuple[DefaultTile, dict]]:
    out = []
    for tile in DEFAULT_TILES:
        kind = KINDS.get(tile.kind)
        if kind is None:
            continue
        try:
            out.append((tile, spec_dict(kind, parse_spec(kind, tile.spec, project))))
        except BadRequest as exc:
            log.warning(
                "default tile %r does not parse as %s: %s %s", tile.name, tile.kind, exc.message, exc.errors
            )
    return out


def ensure_default_dashboard(project, user=None) -> Dashboard | None:
    """The project's default dashboard, created with its tiles if there is none.
    Idempotent and safe under concurrent calls (one default per project is a
    database constraint)."""
    existing = Dashboard.objects.filter(project=project, is_default=True).first()
    if existing is not None:
        return existing
    tiles = _valid_tiles(project)
    if not tiles:
        return None
    try:
        with transaction.atomic():
            dashboard = Dashboard.objects.create(
                project=project,
                name=DEFAULT_NAME,
                description=DEFAULT_DESCRIPTION,
                is_default=True,
                created_by=user,
            )
            for order, (tile, spec) in enumerate(tiles):
                insight = Insight.objects.create(
                    project=project,
                    name=tile.name,
                    description=tile.description,
                    kind=tile.kind,
                    spec=spec,
                    created_by=user,
                )
                DashboardTile.objects.create(
                    dashboard=dashboard, insight=insight, order=order, width=tile.width
                )
    except IntegrityError:  # another request created it first
        return Dashboard.objects.filter(project=project, is_default=True).first()
    return dashboard
