"""Run Sextant as one process: waitress web threads + embedded Celery + services.

python manage.py serve [--host 127.0.0.1] [--port 8000] [--threads 8]

chdb merging wide parts holds thousands of files open in this process, so the
open-file limit is raised to the hard limit and waitress runs its poll() loop
(its default select() loop dies on a descriptor numbered 1024 or more).
"""

import logging

from django.core.management import call_command
from django.core.management.base import BaseCommand

from analytics_app import clickhouse as ch
from analytics_app.embedded import raise_open_file_limit, start_all

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

        before, after = raise_open_file_limit()
        if after != before:
            log.info("open-file limit raised from %s to %s", before, after)
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
                asyncore_use_poll=True,
            )
        finally:
            for stop in stops:
                try:
                    stop()
                except Exception:  # noqa: BLE001 - best effort at shutdown
                    log.exception("error while stopping an embedded service")
            ch.configure(None)
