"""`view_audit_log`, a new permission (admins only), granted to every existing admin on
their project."""

from django.db import migrations

from ._grants import granter, revoker

CODENAME = "view_audit_log"
LABEL = "View the audit log"
# The roles that have it as this migration is written; a migration does not follow
# governance.roles.ROLE_PERMISSIONS, which may change later.
ROLES = ("admin",)


class Migration(migrations.Migration):
    dependencies = [
        ("analytics_app", "0003_api_key_scopes"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("guardian", "0001_initial"),
    ]

    operations = [
        migrations.AlterModelOptions(
            name="project",
            options={
                "default_permissions": (),
                "ordering": ["name", "id"],
                "permissions": [
                    ("view_project", "View project"),
                    ("view_insights", "View insights and events"),
                    ("edit_insights", "Save and change insights, dashboards, cohorts and path rules"),
                    ("view_pii", "View PII properties unmasked"),
                    ("view_recordings", "Watch session recordings"),
                    ("manage_plan", "Manage the tracking plan"),
                    ("manage_members", "Manage members and roles"),
                    ("manage_alerts", "Manage alerts"),
                    ("export_data", "Export data (CSV, API)"),
                    ("manage_project", "Change project settings"),
                    (CODENAME, LABEL),
                ],
            },
        ),
        migrations.RunPython(granter(CODENAME, LABEL, ROLES), revoker(CODENAME)),
    ]
