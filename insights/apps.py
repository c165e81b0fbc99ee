from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "insights"
    verbose_name = "Insights"

    def ready(self):
        from analytics_app import openapi  # noqa: PLC0415
        from insights.blocks.schema import PROPERTY_FILTER_SCHEMA  # noqa: PLC0415

        openapi.COMPONENTS["PropertyFilter"] = PROPERTY_FILTER_SCHEMA
