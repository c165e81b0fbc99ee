from django.apps import AppConfig


class ReplayConfig(AppConfig):
    name = "replay"
    verbose_name = "Session replay"

    def ready(self):
        from analytics_app import demo_steps  # noqa: PLC0415
        from ingestion import processing  # noqa: PLC0415
        from replay.ingest import process_snapshots  # noqa: PLC0415
        from replay.register import register  # noqa: PLC0415
        from replay.synthetic import demo_step  # noqa: PLC0415

        register()
        processing.snapshot_processor = process_snapshots  # POST /s/ (the recordings seam)
        demo_steps.register(demo_step)  # manage.py demo_setup
