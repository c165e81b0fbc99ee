"""The public, read-only pages of a share link: /shared/<token>/ and /embed/<token>/.

No session is needed and none is used: whoever holds a live token sees the results of the
one insight or dashboard it points at, computed with that project's data through the same
tile cache as the dashboard (dashboards.cache), and presented by a Presenter of a synthetic
viewer without view-PII, so PII is masked exactly as for such a role. The pages carry no
navigation, no builder, no drill-down to people and no link into the project. An unknown,
revoked or expired token is the same 404. docs/dashboards.md, "Sharing".
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.clickjacking import xframe_options_deny, xframe_options_exempt
from django.views.decorators.http import require_GET

from governance.audit import client_ip
from governance.presenter import Presenter, viewing
from governance.roles import Permission

from .cache import DateOverride, filters_text
from .models import ShareLink
from .views import filter_states, render_result, tile_scripts, tile_styles

# What the synthetic viewer of a share link holds: it may read insights, nothing else (no
# view_pii, so every output is masked; no recordings, no export).
SHARED_PERMS = frozenset({Permission.VIEW_PROJECT, Permission.VIEW_INSIGHTS})
RATE_PREFIX = "sextant:shared-rate:v1:"


def rate_limit() -> int:
    """Requests per minute one client address may make to the share pages (0 = no limit)."""
    return int(getattr(settings, "SEXTANT_SHARE_RATE_LIMIT", 120))


def embed_frame_ancestors() -> list[str]:
    """Who may frame /embed/ pages (CSP frame-ancestors): SEXTANT_EMBED_FRAME_ANCESTORS."""
    value = getattr(settings, "SEXTANT_EMBED_FRAME_ANCESTORS", ["*"])
    return [value] if isinstance(value, str) else list(value)


def _limited(request) -> bool:
    limit = rate_limit()
    if limit <= 0:
        return False
    # The caller's address as the audit log sees it (REMOTE_ADDR, or behind
    # SEXTANT_PROXY_COUNT trusted proxies the address they saw); kept only as a hash.
    client = hashlib.sha256((client_ip(request) or "").encode()).hexdigest()[:16]
    key = f"{RATE_PREFIX}{client}:{int(timezone.now().timestamp() // 60)}"
    cache.add(key, 0, 120)
    try:
        count = cache.incr(key)
    except ValueError:
        return False
    return count > limit


def _page(request, token: str, *, embed: bool):
    if _limited(request):
        return HttpResponse(
            "Too many requests; try again in a minute.", status=429, content_type="text/plain"
        )
    link = ShareLink.resolve(token)
    if link is None:
        raise Http404("No such link")
    project = link.project
    viewer = Presenter.for_request(project, SHARED_PERMS)
    # What the tile renderers read from a request: the presenter (masking) and the perms.
    request.presenter = viewer
    request.perms = SHARED_PERMS
    with timezone.override(project.tz), viewing(viewer):
        if link.dashboard_id:
            dashboard = link.dashboard
            override = DateOverride(dashboard.date_from, dashboard.date_to, filters_text(dashboard.filters))
            tiles = dashboard.tiles.select_related("insight", "insight__project")
            items = [
                {
                    "tile": t,
                    "insight": t.insight,
                    **render_result(request, t.insight, override, refresh=False, project=project),
                }
                for t in tiles
            ]
            title, description = dashboard.name, dashboard.description
        else:
            insight = link.insight
            override = DateOverride()
            items = [
                {
                    "tile": None,
                    "insight": insight,
                    **render_result(request, insight, override, refresh=False, project=project),
                }
            ]
            title, description = insight.name, insight.description
        context = {
            "title": title,
            "description": description,
            "project_name": project.name,
            "items": items,
            "is_dashboard": bool(link.dashboard_id),
            "override": override,
            "filters": filter_states(override, viewer),
            "embed": embed,
            "tile_scripts": tile_scripts(),
            "tile_styles": tile_styles(),
        }
        response = render(request, "dashboards/shared.html", context)
    response["Referrer-Policy"] = "no-referrer"  # the token never leaves in a Referer
    response["X-Robots-Tag"] = "noindex, nofollow"
    if embed:
        response._csp_replace = {"frame-ancestors": embed_frame_ancestors()}
    else:
        response._csp_replace = {"frame-ancestors": ["'none'"]}
    return response


@require_GET
@never_cache
@xframe_options_deny
def shared(request, token):
    """A shared insight or dashboard as a page of its own (not frameable)."""
    return _page(request, token, embed=False)


@require_GET
@never_cache
@xframe_options_exempt
def embed(request, token):
    """The same with minimal chrome, for an <iframe> on another site."""
    return _page(request, token, embed=True)
