from django.apps import AppConfig


class FunnelsConfig(AppConfig):
    name = "funnels"
    verbose_name = "Funnels"

    def ready(self):
        from funnels.insight import KIND  # noqa: PLC0415
        from insights.registry import declare  # noqa: PLC0415

        declare(KIND)

        from funnels import exports  # noqa: PLC0415

        exports.register()
