from django.apps import AppConfig
from django.conf import settings


class IngestionConfig(AppConfig):
    name = "ingestion"
    verbose_name = "Ingestion"

    def ready(self):
        from analytics_app.embedded import register_service  # noqa: PLC0415
        from analytics_app.navigation import Section, register  # noqa: PLC0415
        from governance.roles import Permission  # noqa: PLC0415

        register(Section("Ingestion warnings", "ingestion_warnings", Permission.VIEW_INSIGHTS, 800))
        if settings.REDIS_URL and settings.CLICKHOUSE_URL.startswith("chdb"):
            # chdb is single-process: the stream consumer runs as a thread of `manage.py serve`.
            from .stream import ConsumerThread  # noqa: PLC0415

            consumer = ConsumerThread()
            register_service("ingest-consumer", consumer.start, consumer.stop)
        elif not settings.REDIS_URL:
            # The embedded writer's spool: at start-up, store what a crash left in it at once,
            # not when the next request arrives (ingestion/spool.py).
            from .writer import writer  # noqa: PLC0415

            register_service("ingest-spool", writer.open_spool, writer.stop)
