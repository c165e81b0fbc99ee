"""`edit_insights` becomes a permission of its own (it was view_insights and export_data),
and every member whose role has it gets it on their project."""

from django.db import migrations

from ._grants import granter, revoker

CODENAME = "edit_insights"
LABEL = "Save and change insights, dashboards, cohorts and path rules"
# The roles that have it as this migration is written; a migration does not follow
# governance.roles.ROLE_PERMISSIONS, which may change later.
ROLES = ("admin", "analyst", "pm")


class Migration(migrations.Migration):
    dependencies = [
        ("analytics_app", "0001_initial"),
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
                    (CODENAME, LABEL),
                    ("view_pii", "View PII properties unmasked"),
                    ("view_recordings", "Watch session recordings"),
                    ("manage_plan", "Manage the tracking plan"),
                    ("manage_members", "Manage members and roles"),
                    ("manage_alerts", "Manage alerts"),
                    ("export_data", "Export data (CSV, API)"),
                    ("manage_project", "Change project settings"),
                ],
            },
        ),
        migrations.RunPython(granter(CODENAME, LABEL, ROLES), revoker(CODENAME)),
    ]
