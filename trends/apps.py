from django.apps import AppConfig


class TrendsConfig(AppConfig):
    name = "trends"
    verbose_name = "Trends"

    def ready(self):
        from insights.registry import declare  # noqa: PLC0415
        from trends.insight import KIND  # noqa: PLC0415

        declare(KIND)

        from trends import exports  # noqa: PLC0415

        exports.register()
