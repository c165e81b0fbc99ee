from django.apps import AppConfig


class FunnelsConfig(AppConfig):
    name = "funnels"
    verbose_name = "Funnels"

    def ready(self):
        from funnels.register import register  # noqa: PLC0415

        register()
