"""Writing the audit log: `record(request, action, ...)` after every change worth auditing.

Action names are dotted, subject first ("member.add", "key.revoke", "project.settings",
"export.csv", ...); `ACTIONS` lists those recorded, and a screen that records a new one
adds it there (the audit page's filter offers them; docs/audit.md describes them). `before` and `after` are
small JSON-able dicts of the fields that changed. Part of the policy layer: imports
nothing of Sextant's (the model is looked up through the app registry).
"""

from __future__ import annotations

from django.apps import apps

# The actions the application records, with what the audit page's filter calls them.
ACTIONS: dict[str, str] = {
    "member.add": "Member added",
    "member.role": "Member's role changed",
    "member.remove": "Member removed",
    "key.create": "API key created",
    "key.revoke": "API key revoked",
    "account.password_change": "Password changed",
    "account.password_reset": "Password reset by e-mail",
    "account.2fa_enable": "Two-factor turned on",
    "account.2fa_disable": "Two-factor turned off",
    "account.2fa_recovery_codes": "Two-factor recovery codes generated",
    "account.2fa_recovery_used": "Signed in with a recovery code",
    "account.signout_everywhere": "Signed out everywhere else",
    "project.create": "Project created",
    "project.settings": "Project settings changed",
    "project.token": "Project token rotated",
    "export.csv": "CSV exported",
    "audit.export": "Audit log exported",
    "insight.delete": "Insight deleted",
    "dashboard.delete": "Dashboard deleted",
    "dashboard.filters": "Dashboard date range and filters saved",
    "share_link.create": "Share link created",
    "share_link.revoke": "Share link revoked",
    "cohort.delete": "Cohort deleted",
    "cohort.from_insight": "Cohort saved from an insight's people",
    "export.json": "JSON exported",
    "path_rule.delete": "Path cleaning rule deleted",
    "audit.purge": "Old audit entries purged",
    "plan.event_create": "Plan: event defined",
    "plan.event_update": "Plan: event definition changed",
    "plan.event_delete": "Plan: event definition deleted",
    "plan.person_property_update": "Plan: person properties changed",
    "plan.settings": "Plan: settings changed",
    "plan.import": "Plan: imported from YAML",
    "quarantine.release": "Plan: quarantined events released",
    "quarantine.discard": "Plan: quarantined events discarded",
    "data.delete_person": "Person's data deleted",
    "alert.create": "Alert created",
    "alert.update": "Alert changed",
    "alert.delete": "Alert deleted",
    "alert.snooze": "Alert snoozed or unsnoozed",
    "alert.mute": "Alert muted or unmuted",
    "annotation.create": "Annotation added",
    "annotation.delete": "Annotation deleted",
}


def client_ip(request) -> str | None:
    """The caller's address: REMOTE_ADDR, or, behind `SEXTANT_PROXY_COUNT` trusted proxies,
    the address the outermost trusted proxy saw (counted from the right of X-Forwarded-For)."""
    from django.conf import settings  # noqa: PLC0415

    if request is None:
        return None
    proxies = int(getattr(settings, "SEXTANT_PROXY_COUNT", 0) or 0)
    if proxies:
        hops = [h.strip() for h in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if h.strip()]
        if len(hops) >= proxies:
            return _valid_ip(hops[-proxies])
    return _valid_ip(request.META.get("REMOTE_ADDR"))


def _valid_ip(value) -> str | None:
    import ipaddress  # noqa: PLC0415

    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


def record(request, action: str, *, project=None, target="", before=None, after=None, actor=None):
    """Append one entry. `request` gives the actor and IP (None for system actions, e.g. a
    Celery task, then pass `actor` if there is one); `target` names what changed."""
    entry_model = apps.get_model("governance", "AuditEntry")
    user = actor
    if user is None and request is not None:
        user = getattr(request, "user", None)
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    return entry_model.objects.create(
        actor=user,
        actor_label=(user.get_username() if user is not None else ""),
        project=project,
        project_name=(project.name if project is not None else ""),
        action=action,
        target=str(target)[:254],
        before=before,
        after=after,
        ip=client_ip(request),
    )
