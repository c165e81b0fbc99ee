from django.apps import AppConfig


class PathsConfig(AppConfig):
    name = "paths"
    verbose_name = "Paths"

    def ready(self):
        from paths import register  # noqa: PLC0415

        register()
