"""Run Sextant as one process: waitress web threads + embedded Celery + services.

python manage.py serve [--host 127.0.0.1] [--port 8000] [--threads 8]
"""

import logging

from django.core.management import call_command
from django.core.management.base import BaseCommand

from analytics_app import clickhouse as ch
from analytics_app.embedded import start_all

log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = "Serve Sextant in the all-in-one process (web + Celery worker/beat threads)."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=8)
        parser.add_argument("--no-migrate", action="store_true")

    def handle(self, *args, **options):
        from waitress import serve  # noqa: PLC0415

        from analytics_app.wsgi import application  # noqa: PLC0415

        try:
            ch.query("SELECT 1", global_=True)
        except ch.EngineLocked as exc:
            self.stderr.write(self.style.ERROR(str(exc)))
            raise SystemExit(1) from None
        if not options["no_migrate"]:
            call_command("migrate", verbosity=0)
        stops = start_all()
        url = f"http://{options['host']}:{options['port']}"
        self.stdout.write(self.style.SUCCESS(f"Sextant is running at {url}  (Ctrl-C stops it)"))
        try:
            serve(
                application,
                host=options["host"],
                port=options["port"],
                threads=options["threads"],
                ident="Sextant",
            )
        finally:
            for stop in stops:
                try:
                    stop()
                except Exception:  # noqa: BLE001 - best effort at shutdown
                    log.exception("error while stopping an embedded service")
            ch.configure(None)
