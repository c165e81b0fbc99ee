"""Run the ingestion fault suite (ingestion/fault_suite.py) against real processes on loopback.

    python manage.py fault_suite [--mode embedded|redis|both] [--events 50000] [--kills 6] [--seed 13]

Prints sent / acknowledged / stored / lost / duplicated per scenario and exits
non-zero when an acknowledged event was lost, stored twice or quarantined, or
the server was not alive at the end. The `redis` mode needs redis-server on the
PATH and a PostgreSQL at DATABASE_URL (a scratch database is created and dropped).
"""

from django.core.management.base import BaseCommand, CommandError

from ingestion.fault_suite import Suite


class Command(BaseCommand):
    help = "Kill, refuse and replay while an SDK-style client sends events; check every acknowledged event."

    def add_arguments(self, parser):
        parser.add_argument("--mode", choices=["embedded", "redis", "both"], default="both")
        parser.add_argument("--events", type=int, default=50_000)
        parser.add_argument("--kills", type=int, default=6, help="SIGKILLs during the send (server, Redis)")
        parser.add_argument("--seed", type=int, default=13)
        parser.add_argument("--keep", action="store_true", help="keep the scratch directory (logs, data)")

    def handle(self, *args, **options):
        modes = ["embedded", "redis"] if options["mode"] == "both" else [options["mode"]]
        failed = []
        for mode in modes:
            self.stdout.write(f"== {mode}: {options['events']} events, {options['kills']} kills")
            suite = Suite(
                mode, options["events"], options["kills"], seed=options["seed"], out=self.stdout.write,
                keep=options["keep"],
            )  # fmt: skip
            if suite.run():
                self.stdout.write(self.style.SUCCESS(f"{mode}: PASS"))
            else:
                self.stdout.write(self.style.ERROR(f"{mode}: FAIL"))
                failed.append(mode)
        if failed:
            raise CommandError(f"fault suite failed in: {', '.join(failed)}")
