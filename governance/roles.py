"""Roles and permissions: what each built-in role may do, in words and as codenames.

Permissions are django-guardian object permissions on a Project (declared on the
model's Meta from `Permission`); a member's role grants the set in ROLE_PERMISSIONS
(`analytics_app.models.sync_permissions`). A new permission needs an analytics_app
migration that also grants it to the existing members of the roles that have it
(as 0002_edit_insights_permission does). This module imports nothing of Sextant's:
the core's gate and every app read it.
"""

from __future__ import annotations

from django.db import models


class Permission(models.TextChoices):
    """Object permissions on a Project (django-guardian)."""

    VIEW_PROJECT = "view_project", "View project"
    VIEW_INSIGHTS = "view_insights", "View insights and events"
    EDIT_INSIGHTS = "edit_insights", "Save and change insights, dashboards, cohorts and path rules"
    VIEW_PII = "view_pii", "View PII properties unmasked"
    VIEW_RECORDINGS = "view_recordings", "Watch session recordings"
    MANAGE_PLAN = "manage_plan", "Manage the tracking plan"
    MANAGE_MEMBERS = "manage_members", "Manage members and roles"
    MANAGE_ALERTS = "manage_alerts", "Manage alerts"
    EXPORT_DATA = "export_data", "Export data (CSV, API)"
    MANAGE_PROJECT = "manage_project", "Change project settings"
    VIEW_AUDIT_LOG = "view_audit_log", "View the audit log"


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    ANALYST = "analyst", "Analyst"
    PM = "pm", "Product manager"
    EXEC = "exec", "Executive"
    SUPPORT = "support", "Support"


P = Permission
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    Role.ADMIN: frozenset(p.value for p in Permission),
    Role.ANALYST: frozenset(
        {
            P.VIEW_PROJECT,
            P.VIEW_INSIGHTS,
            P.EDIT_INSIGHTS,
            P.VIEW_PII,
            P.VIEW_RECORDINGS,
            P.MANAGE_PLAN,
            P.MANAGE_ALERTS,
            P.EXPORT_DATA,
        }
    ),
    Role.PM: frozenset(
        {P.VIEW_PROJECT, P.VIEW_INSIGHTS, P.EDIT_INSIGHTS, P.VIEW_RECORDINGS, P.MANAGE_ALERTS, P.EXPORT_DATA}
    ),
    Role.EXEC: frozenset({P.VIEW_PROJECT, P.VIEW_INSIGHTS}),
    Role.SUPPORT: frozenset({P.VIEW_PROJECT, P.VIEW_INSIGHTS, P.VIEW_RECORDINGS}),
}
ROLE_DESCRIPTIONS = {
    Role.ADMIN: "Everything, including members, project settings, unmasked PII and the audit log.",
    Role.ANALYST: "All analytics, unmasked PII, recordings, exports, the tracking plan and alerts.",
    Role.PM: "All analytics, recordings, exports and alerts; PII masked.",
    Role.EXEC: "Read-only insights and dashboards; PII masked; no recordings.",
    Role.SUPPORT: "Find users and watch their recordings; PII masked.",
}
