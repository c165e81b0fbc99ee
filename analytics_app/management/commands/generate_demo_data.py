"""Fill a project with realistic demo journeys (see analytics_app/demo/).

    python manage.py generate_demo_data --project ID [--persons N] [--days D] [--seed S]
                                        [--end YYYY-MM-DD] [--quiet]

Same seed, size and --end -> the same events, persons and distinct ids.
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from analytics_app import clickhouse as ch
from analytics_app.demo import generate
from analytics_app.models import Project


def _date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise CommandError(f"--end must be a date like 2026-03-01, got {text!r}") from None


class Command(BaseCommand):
    help = "Generate demo events, persons and identities for a project."

    def add_arguments(self, parser):
        parser.add_argument("--project", type=int, required=True, help="Project id.")
        parser.add_argument("--persons", type=int, default=1000, help="Visitors to simulate (default 1000).")
        parser.add_argument("--days", type=int, default=30, help="Days of history (default 30).")
        parser.add_argument("--seed", type=int, default=1, help="Random seed (default 1).")
        parser.add_argument(
            "--end", type=_date, default=None, help="Last day of the window, UTC (default today)."
        )
        parser.add_argument("--quiet", action="store_true", help="No progress bar.")

    def handle(self, *args, **options):
        if not Project.objects.filter(pk=options["project"]).exists():
            raise CommandError(f"No project with id {options['project']}.")
        for name in ("persons", "days"):
            if options[name] < 1:
                raise CommandError(f"--{name} must be at least 1")
        if options["seed"] < 0:
            raise CommandError("--seed must not be negative")
        try:
            summary = generate(
                options["project"],
                options["persons"],
                options["days"],
                options["seed"],
                end=options["end"],
                progress=not options["quiet"] and options["verbosity"] > 0,
            )
        except ch.EngineLocked as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(
            "Generated {events:,} events for {visitors:,} visitors ({persons:,} identified persons, "
            "{distinct_ids:,} distinct ids) from {start} to {end} in {seconds:.1f} s "
            "({events_per_second:,} events/s).".format(**summary)
        )
