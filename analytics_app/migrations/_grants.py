"""Data-migration steps for a new Project permission: grant it to the existing members of the
roles that have it, and take it back on reversal. Shared by the migrations that add one
(0002 edit_insights, 0004 view_audit_log); they pass the codename, label and roles as of
their own time, never today's governance.roles. Django's loader skips this module
(its name starts with "_")."""


def _permission(apps, db, codename: str, label: str):
    content_type, _ = (
        apps.get_model("contenttypes", "ContentType")
        .objects.using(db)
        .get_or_create(app_label="analytics_app", model="project")
    )
    permission, _ = (
        apps.get_model("auth", "Permission")
        .objects.using(db)
        .get_or_create(content_type=content_type, codename=codename, defaults={"name": label})
    )
    return content_type, permission


def granter(codename: str, label: str, roles: tuple[str, ...]):
    """A RunPython forward step: the guardian object permission for every membership of
    `roles` (what analytics_app.models.sync_permissions assigns on a membership's save)."""

    def grant(apps, schema_editor):
        db = schema_editor.connection.alias
        user_object_permission = apps.get_model("guardian", "UserObjectPermission")
        membership = apps.get_model("analytics_app", "Membership")
        content_type, permission = _permission(apps, db, codename, label)
        held = set(
            user_object_permission.objects.using(db)
            .filter(permission=permission)
            .values_list("user_id", "object_pk")
        )
        user_object_permission.objects.using(db).bulk_create(
            user_object_permission(
                user_id=m.user_id,
                permission=permission,
                content_type=content_type,
                object_pk=str(m.project_id),
            )
            for m in membership.objects.using(db).filter(role__in=roles).order_by("pk")
            if (m.user_id, str(m.project_id)) not in held
        )

    return grant


def revoker(codename: str):
    """The RunPython reverse step: every grant of `codename` on a project goes."""

    def revoke(apps, schema_editor):
        db = schema_editor.connection.alias
        apps.get_model("guardian", "UserObjectPermission").objects.using(db).filter(
            permission__codename=codename,
            permission__content_type__app_label="analytics_app",
            permission__content_type__model="project",
        ).delete()

    return revoke
