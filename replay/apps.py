from django.apps import AppConfig


class ReplayConfig(AppConfig):
    name = "replay"
    verbose_name = "Session replay"

    def ready(self):
        from replay.register import register  # noqa: PLC0415

        register()
