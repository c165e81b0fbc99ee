from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "alerts"
    verbose_name = "Alerts"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from analytics_app.navigation import Section, register  # noqa: PLC0415
        from governance.roles import Permission  # noqa: PLC0415

        register(Section("Alerts", "alerts:alerts", Permission.VIEW_INSIGHTS, 32))
