"""`edit_insights`: a role's membership grants it (admin, analyst, pm), and the migration
that introduced it grants it to the memberships that existed before."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission as AuthPermission
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from guardian.models import UserObjectPermission
from guardian.shortcuts import get_perms

from analytics_app.models import Membership
from governance.roles import ROLE_PERMISSIONS, Permission, Role

WRITERS = {Role.ADMIN, Role.ANALYST, Role.PM}
BEFORE = [("analytics_app", "0001_initial")]
AFTER = [("analytics_app", "0002_edit_insights_permission")]


def test_roles_that_edit_insights():
    assert {r for r in Role if Permission.EDIT_INSIGHTS in ROLE_PERMISSIONS[r]} == WRITERS


@pytest.mark.django_db
def test_a_membership_grants_edit_insights_by_role(make_user, make_project):
    users = {role: make_user(f"{role}@example.com") for role in Role}
    project = make_project("Acme", members={users[role]: role for role in Role})
    for role, user in users.items():
        assert ("edit_insights" in get_perms(user, project)) == (role in WRITERS), role
    membership = Membership.objects.get(user=users[Role.PM], project=project)
    membership.role = Role.EXEC
    membership.save()
    assert "edit_insights" not in get_perms(users[Role.PM], project)


@pytest.mark.django_db(transaction=True)
def test_the_migration_grants_edit_insights_to_existing_writers():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    try:
        old = executor.loader.project_state(BEFORE).apps
        User = old.get_model("auth", "User")
        project = old.get_model("analytics_app", "Project").objects.create(name="Acme")
        Membership = old.get_model("analytics_app", "Membership")
        users = {}
        for role in Role:
            users[role] = User.objects.create(username=f"{role}@example.com")
            Membership.objects.create(user=users[role], project=project, role=role)
        # one already granted by hand: kept, not granted twice (guardian's unique_together)
        permission = AuthPermission.objects.get(codename="edit_insights")
        # bulk_create: guardian's save() would load the object through today's Project model,
        # whose later columns do not exist yet at this migration
        UserObjectPermission.objects.bulk_create(
            [
                UserObjectPermission(
                    user_id=users[Role.ADMIN].pk,
                    permission=permission,
                    content_type=permission.content_type,
                    object_pk=str(project.pk),
                )
            ]
        )
        executor.loader.build_graph()
        executor.migrate(AFTER)
        assert _granted(project.pk) == {users[r].pk for r in WRITERS}

        executor.loader.build_graph()
        executor.migrate(BEFORE)
        assert _granted(project.pk) == set()
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())


def _granted(project_id: int) -> set[int]:
    return set(
        UserObjectPermission.objects.filter(
            permission__codename="edit_insights", object_pk=str(project_id)
        ).values_list("user_id", flat=True)
    )
