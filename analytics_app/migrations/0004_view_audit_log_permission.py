"""`view_audit_log`, a new permission (admins only), granted to every existing admin on
their project."""

from django.db import migrations

CODENAME = "view_audit_log"
LABEL = "View the audit log"
# The roles that have it as this migration is written; a migration does not follow
# governance.roles.ROLE_PERMISSIONS, which may change later.
ROLES = ("admin",)


def _permission(apps, db):
    content_type, _ = (
        apps.get_model("contenttypes", "ContentType")
        .objects.using(db)
        .get_or_create(app_label="analytics_app", model="project")
    )
    permission, _ = (
        apps.get_model("auth", "Permission")
        .objects.using(db)
        .get_or_create(content_type=content_type, codename=CODENAME, defaults={"name": LABEL})
    )
    return content_type, permission


def grant(apps, schema_editor):
    """The guardian object permission for every membership of a role that has it
    (what analytics_app.models.sync_permissions assigns on a membership's save)."""
    db = schema_editor.connection.alias
    UserObjectPermission = apps.get_model("guardian", "UserObjectPermission")
    Membership = apps.get_model("analytics_app", "Membership")
    content_type, permission = _permission(apps, db)
    held = set(
        UserObjectPermission.objects.using(db)
        .filter(permission=permission)
        .values_list("user_id", "object_pk")
    )
    UserObjectPermission.objects.using(db).bulk_create(
        UserObjectPermission(
            user_id=m.user_id, permission=permission, content_type=content_type, object_pk=str(m.project_id)
        )
        for m in Membership.objects.using(db).filter(role__in=ROLES).order_by("pk")
        if (m.user_id, str(m.project_id)) not in held
    )


def revoke(apps, schema_editor):
    db = schema_editor.connection.alias
    apps.get_model("guardian", "UserObjectPermission").objects.using(db).filter(
        permission__codename=CODENAME,
        permission__content_type__app_label="analytics_app",
        permission__content_type__model="project",
    ).delete()


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
        migrations.RunPython(grant, revoke),
    ]
