from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "governance"
    verbose_name = "Governance"

    def ready(self):
        from analytics_app.navigation import Section, register  # noqa: PLC0415

        from . import presenter  # noqa: PLC0415
        from .roles import Permission  # noqa: PLC0415

        presenter.register_pii_source(classified_pii_keys)
        from analytics_app import openapi  # noqa: PLC0415

        from .suggestion_views import OPENAPI_PATHS  # noqa: PLC0415

        openapi.EXTRA_PATHS.update(OPENAPI_PATHS)

        from ingestion import processing  # noqa: PLC0415 - governance plugs into ingestion, never the reverse

        from .enforcement import enforcer_for  # noqa: PLC0415

        processing.plan_enforcer = enforcer_for

        # Every member may read the members page; the menu offers it to those who manage them.
        register(Section("Members", "project_members", Permission.MANAGE_MEMBERS, 900))
        register(Section("Tracking plan", "plan", Permission.VIEW_INSIGHTS, 890))
        register(Section("Audit log", "project_audit", Permission.VIEW_AUDIT_LOG, 920))
        register(Section("Data deletion", "project_deletions", Permission.MANAGE_PROJECT, 930))


def classified_pii_keys(project) -> list[str]:
    """The property names the tracking plan classifies as pii or sensitive (on any event, or
    as person properties): masked and refused as filters for roles without view-PII, on top
    of the built-in keys and detectors (governance/presenter.py)."""
    from .models import PropertyDefinition  # noqa: PLC0415

    if not getattr(project, "pk", None):
        return []
    return list(
        PropertyDefinition.objects.filter(project_id=project.pk)
        .exclude(pii_class=PropertyDefinition.PII.NONE)
        .values_list("name", flat=True)
        .distinct()
    )
