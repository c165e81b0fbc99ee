from django.apps import AppConfig


class AnalyticsAppConfig(AppConfig):
    name = "analytics_app"
    verbose_name = "Sextant"

    def ready(self):
        from .clickhouse import migrate  # noqa: PLC0415

        # Tables the insert path may name come from the migration modules.
        migrate.register_insertable()
