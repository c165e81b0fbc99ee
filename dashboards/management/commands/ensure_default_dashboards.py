"""Create each project's default dashboard if it has none (idempotent).

python manage.py ensure_default_dashboards [--project ID ...]
"""

from django.core.management.base import BaseCommand

from analytics_app.models import Project
from dashboards.defaults import ensure_default_dashboard


class Command(BaseCommand):
    help = "Create the default dashboard (with tiles for the registered insight kinds) of every project lacking one."

    def add_arguments(self, parser):
        parser.add_argument("--project", type=int, action="append", help="Only this project id (repeatable).")

    def handle(self, *args, **options):
        projects = Project.objects.all()
        if options["project"]:
            projects = projects.filter(pk__in=options["project"])
        for project in projects:
            dashboard = ensure_default_dashboard(project)
            if dashboard is None:
                self.stdout.write(
                    f"{project.name}: no registered insight kind for the default tiles; skipped"
                )
            else:
                self.stdout.write(f"{project.name}: default dashboard {dashboard.name!r} (id {dashboard.pk})")
