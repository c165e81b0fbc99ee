"""Who may change saved insights and dashboards.

Everyone with VIEW_INSIGHTS may open them. Writing (save, rename, delete, add to a
dashboard, reorder tiles, store a date range) needs what `can_edit_insights` says
(analytics_app/models.py, shared with the paths cleaning rules): VIEW_INSIGHTS *and*
EXPORT_DATA: admin, analyst and pm have both; exec and support are read-only.
No new Permission is added; see docs/dashboards.md.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from governance.roles import can_edit_insights

__all__ = ["can_edit_insights", "require_writer"]


def require_writer(request) -> None:
    """Raise 403 for a read-only role (the project gate has already run)."""
    if not can_edit_insights(request.perms):
        raise PermissionDenied("Your role can view saved insights and dashboards but not change them.")
