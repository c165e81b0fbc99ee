"""Rewrite the person of merged identities' stored events now (ingestion/squash.py).

    python manage.py squash_person_overrides [--project ID] [--min-age-minutes 10]

Celery beat runs the same squash hourly; this is for operators (after an import of
merged identities, say) and for the benchmarks. With the embedded store, stop
`manage.py serve` first (one process at a time).
"""

import datetime as dt

from django.core.management.base import BaseCommand, CommandError

from analytics_app.embedded import refuse_shared_store
from analytics_app.models import Project
from ingestion.squash import SQUASH_MIN_AGE, squash_project


class Command(BaseCommand):
    help = "Give merged identities' stored events their current person (the hourly squash, now)."

    def add_arguments(self, parser):
        parser.add_argument("--project", type=int, help="one project id (default: every project)")
        parser.add_argument(
            "--min-age-minutes",
            type=float,
            default=SQUASH_MIN_AGE.total_seconds() / 60,
            help="leave merges younger than this (default %(default)s)",
        )

    def handle(self, *args, **options):
        refuse_shared_store("squash_person_overrides")
        ids = list(Project.objects.values_list("id", flat=True))
        if options["project"] is not None:
            if options["project"] not in ids:
                raise CommandError(f"there is no project {options['project']}")
            ids = [options["project"]]
        min_age = dt.timedelta(minutes=options["min_age_minutes"])
        for pid in ids:
            result = squash_project(pid, min_age=min_age)
            self.stdout.write(
                f"project {pid}: {result.distinct_ids} distinct_ids squashed in "
                f"{result.batches} batches, {result.seconds:.1f} s"
            )
