"""Who may change saved insights and dashboards.

Everyone with VIEW_INSIGHTS may open them. Writing (save, rename, delete, add to a
dashboard, reorder tiles, store a date range) needs VIEW_INSIGHTS *and*
EXPORT_DATA: admin, analyst and pm have both; exec and support are read-only.
No new Permission is added; see docs/dashboards.md.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from analytics_app.models import Permission


def can_edit_insights(perms) -> bool:
    return Permission.VIEW_INSIGHTS in perms and Permission.EXPORT_DATA in perms


def require_writer(request) -> None:
    """Raise 403 for a read-only role (the project gate has already run)."""
    if not can_edit_insights(request.perms):
        raise PermissionDenied("Your role can view saved insights and dashboards but not change them.")
