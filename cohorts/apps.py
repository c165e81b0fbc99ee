from django.apps import AppConfig


class CohortsConfig(AppConfig):
    name = "cohorts"
    verbose_name = "Cohorts"

    def ready(self):
        from cohorts import register  # noqa: PLC0415

        register()
