"""Non-interactive, idempotent set-up of a user, a project and a membership.

    python manage.py bootstrap --email E --password P --project NAME [--role ROLE] --json

prints exactly one JSON object: {"user_id", "project_id", "project_token", "personal_api_key"}
(a fresh personal API key on each call).
"""

import json

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from analytics_app.models import Membership, PersonalAPIKey, Project
from governance.roles import Role


class Command(BaseCommand):
    help = "Create or update a user, a project and the user's membership; print credentials."

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True)
        parser.add_argument("--password", required=True)
        parser.add_argument(
            "--project", required=True, help="Project name (matched exactly; created if missing)."
        )
        parser.add_argument("--role", default=Role.ADMIN, choices=[r.value for r in Role])
        parser.add_argument(
            "--time-zone", default=None, help="IANA time zone for a new project (default UTC)."
        )
        parser.add_argument(
            "--superuser", action="store_true", help="Also make the user a Django superuser (admin site)."
        )
        parser.add_argument("--json", action="store_true", help="Print one JSON object and nothing else.")

    def handle(self, *args, **options):
        email = options["email"].strip().lower()
        if "@" not in email:
            raise CommandError("--email must be an email address")
        if len(options["password"]) < 8:
            raise CommandError("--password must have at least 8 characters")
        User = get_user_model()
        with transaction.atomic():
            user = User.objects.filter(username__iexact=email).first() or User(username=email)
            user.email = email
            user.is_active = True
            if options["superuser"]:
                user.is_staff = user.is_superuser = True
            user.set_password(options["password"])
            user.save()
            project = Project.objects.filter(name=options["project"]).order_by("pk").first()
            if project is None:
                project = Project.objects.create(
                    name=options["project"], time_zone=options["time_zone"] or "UTC"
                )
            elif options["time_zone"] and project.time_zone != options["time_zone"]:
                project.time_zone = options["time_zone"]
                project.full_clean()
                project.save(update_fields=["time_zone"])
            membership, _ = Membership.objects.get_or_create(
                user=user, project=project, defaults={"role": options["role"]}
            )
            if membership.role != options["role"] or membership.custom_role_id:
                membership.role, membership.custom_role = options["role"], None
            membership.save()  # re-syncs the role's object permissions
            _, raw_key = PersonalAPIKey.issue(user, "bootstrap", read_only=False)
        payload = {
            "user_id": user.pk,
            "project_id": project.pk,
            "project_token": project.api_token,
            "personal_api_key": raw_key,
        }
        if options["json"]:
            self.stdout.write(json.dumps(payload))
        else:
            for key, value in payload.items():
                self.stdout.write(f"{key}: {value}")
