from django.apps import AppConfig


class DashboardsConfig(AppConfig):
    name = "dashboards"
    verbose_name = "Saved insights and dashboards"

    def ready(self):
        from analytics_app.navigation import Section, register  # noqa: PLC0415
        from governance.roles import Permission  # noqa: PLC0415

        register(Section("Dashboards", "dashboards:dashboards", Permission.VIEW_INSIGHTS, 5))
        register(Section("Saved insights", "dashboards:insights", Permission.VIEW_INSIGHTS, 30))
