from django.apps import AppConfig


class PathsConfig(AppConfig):
    name = "paths"
    verbose_name = "Paths"

    def ready(self):
        from insights.registry import declare  # noqa: PLC0415
        from paths.insight import KIND  # noqa: PLC0415

        declare(KIND)

        from paths import exports  # noqa: PLC0415

        exports.register()
