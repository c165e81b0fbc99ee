from django.apps import AppConfig


class ExplorerConfig(AppConfig):
    name = "explorer"
    verbose_name = "Events and persons"

    def ready(self):
        from analytics_app.navigation import Section, register  # noqa: PLC0415
        from analytics_app.openapi import EXTRA_PATHS  # noqa: PLC0415
        from analytics_app.query_api import register as register_kind  # noqa: PLC0415
        from governance.roles import Permission  # noqa: PLC0415

        from .api import EVENTS_QUERY, PERSONS_PATHS  # noqa: PLC0415

        register(Section("Events", "explorer:events", Permission.VIEW_INSIGHTS, 10))
        register(Section("Persons", "explorer:persons", Permission.VIEW_INSIGHTS, 15))
        register_kind(EVENTS_QUERY)
        EXTRA_PATHS.update(PERSONS_PATHS)
