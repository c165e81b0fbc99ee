from django.apps import AppConfig


class RetentionConfig(AppConfig):
    name = "retention"
    verbose_name = "Retention"

    def ready(self):
        from retention import register  # noqa: PLC0415

        register()
