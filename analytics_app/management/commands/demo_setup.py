"""First-run set-up for the one-command demo: an admin, a Demo project, demo data.

Idempotent: the admin's password is generated once into var/admin_password (or
taken from SEXTANT_ADMIN_PASSWORD), and demo data is only generated when the
Demo project has no events yet.
"""

import json
import secrets

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from analytics_app import clickhouse as ch
from analytics_app import demo_steps
from analytics_app.models import Project


class Command(BaseCommand):
    help = "Create the demo admin and project and fill it with demo data (once)."

    def add_arguments(self, parser):
        parser.add_argument("--email", default="admin@sextant.local")
        parser.add_argument("--project", default="Demo shop")
        parser.add_argument("--persons", type=int, default=20000)
        parser.add_argument("--days", type=int, default=90)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--recordings", type=int, default=300, help="demo session recordings of recent sessions (0: none)"
        )

    def handle(self, *args, **options):
        import os  # noqa: PLC0415
        from io import StringIO  # noqa: PLC0415

        password_file = settings.VAR_DIR / "admin_password"
        password = os.environ.get("SEXTANT_ADMIN_PASSWORD")
        if not password:
            if not password_file.exists():
                password_file.write_text(secrets.token_urlsafe(12))
                password_file.chmod(0o600)
            password = password_file.read_text().strip()
        out = StringIO()
        call_command(
            "bootstrap",
            "--email",
            options["email"],
            "--password",
            password,
            "--project",
            options["project"],
            "--time-zone",
            "Europe/Berlin",
            "--superuser",
            "--json",
            stdout=out,
        )
        creds = json.loads(out.getvalue())
        project = Project.objects.get(pk=creds["project_id"])
        count = ch.query(
            "SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": project.pk}
        ).scalar()
        if not count:
            from analytics_app.demo import generate  # noqa: PLC0415

            self.stdout.write(
                f"Generating demo data: {options['persons']} persons over {options['days']} days ..."
            )
            summary = generate(
                project.pk, options["persons"], options["days"], options["seed"], progress=True
            )
            self.stdout.write(f"  {summary}")
        for step in demo_steps.steps:  # what apps add (replay: demo recordings)
            line = step(project, options)
            if line:
                self.stdout.write(f"  {line}")
        call_command("ensure_default_dashboards", "--project", str(project.pk), stdout=self.stdout)
        self.stdout.write(self.style.SUCCESS("Sextant demo is ready."))
        self.stdout.write(f"  Log in as   {options['email']}")
        self.stdout.write(f"  Password    {password}")
        self.stdout.write(f"  Project     {project.name} (token {project.api_token})")
