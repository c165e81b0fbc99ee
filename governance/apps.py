from django.apps import AppConfig


class GovernanceConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "governance"
    verbose_name = "Governance"

    def ready(self):
        from analytics_app.navigation import Section, register  # noqa: PLC0415

        from .roles import Permission  # noqa: PLC0415

        # Every member may read the members page; the menu offers it to those who manage them.
        register(Section("Members", "project_members", Permission.MANAGE_MEMBERS, 900))
        register(Section("Tracking plan", "plan", Permission.VIEW_INSIGHTS, 890))
        register(Section("Audit log", "project_audit", Permission.VIEW_AUDIT_LOG, 920))
        register(Section("Data deletion", "project_deletions", Permission.MANAGE_PROJECT, 930))
