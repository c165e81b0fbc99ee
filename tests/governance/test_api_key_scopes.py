"""A personal API key's scope, checked by the gate on the real JSON API: all projects or a
list, read-only or read-write, expired, revoked; never more than its owner's role."""

import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from analytics_app.models import PersonalAPIKey
from governance.roles import Role

STATIC_COHORT = {"name": "Hand-picked", "kind": "static", "definition": {"distinct_ids": ["u1"]}}


def call(client, raw, method, name, project, body=None):
    """One API request with the key; `name` is the URL name of a real endpoint."""
    url = reverse(name, kwargs={"project_id": project.pk})
    headers = {"Authorization": f"Bearer {raw}"}
    if method == "GET":
        return client.get(url, headers=headers)
    return client.post(url, json.dumps(body), content_type="application/json", headers=headers)


def query(client, raw, project):
    return call(client, raw, "POST", "api_query", project, {"kind": "EventNamesQuery"})


def persons(client, raw, project):
    return call(client, raw, "GET", "explorer:api_persons", project)


def create_cohort(client, raw, project, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False):
        return call(client, raw, "POST", "cohorts:api_cohorts", project, STATIC_COHORT)


@pytest.fixture
def project_b(make_project, alice):
    return make_project("Beta", members={alice: Role.ADMIN})


def test_an_all_projects_read_only_key_reads_everywhere_its_owner_may_and_writes_nowhere(
    client, alice, project, project_b, other_project, make_project, django_capture_on_commit_callbacks
):
    _, raw = PersonalAPIKey.issue(alice, "reader")
    for p in (project, project_b):
        assert query(client, raw, p).status_code == 200  # the query API's POST only reads
        assert persons(client, raw, p).status_code == 200
        assert call(client, raw, "GET", "cohorts:api_cohorts", p).status_code == 200
    refused = create_cohort(client, raw, project, django_capture_on_commit_callbacks)
    assert refused.status_code == 403
    assert refused.json()["error"] == "The API key 'reader' is read-only; this request writes."
    # all projects means those of its owner, including one joined after the key was made
    later = make_project("Gamma", members={alice: Role.PM})
    assert persons(client, raw, later).status_code == 200
    stranger = persons(client, raw, other_project)
    assert (stranger.status_code, stranger.json()) == (404, {"error": "Project not found."})


def test_a_read_write_key_writes_within_its_owners_role(
    client, alice, bob, project, django_capture_on_commit_callbacks
):
    _, raw = PersonalAPIKey.issue(alice, "etl", read_only=False)
    created = create_cohort(client, raw, project, django_capture_on_commit_callbacks)
    assert created.status_code == 201, created.content
    # bob is an exec in Acme: his read-write key does not give him edit_insights
    _, bobs = PersonalAPIKey.issue(bob, "bob rw", read_only=False)
    refused = create_cohort(client, bobs, project, django_capture_on_commit_callbacks)
    assert refused.status_code == 403
    assert "does not allow" in refused.json()["error"]
    assert persons(client, bobs, project).status_code == 200


def test_a_key_for_a_list_answers_404_outside_it_as_for_a_stranger(
    client, alice, project, other_project, make_project, django_capture_on_commit_callbacks
):
    _, raw = PersonalAPIKey.issue(alice, "acme only", projects=[project], read_only=False)
    # made before alice joins Beta: her key does not start working there
    project_b = make_project("Beta", members={alice: Role.ADMIN})
    assert query(client, raw, project).status_code == 200
    assert create_cohort(client, raw, project, django_capture_on_commit_callbacks).status_code == 201
    outside = [
        query(client, raw, project_b),
        persons(client, raw, project_b),
        create_cohort(client, raw, project_b, django_capture_on_commit_callbacks),
    ]
    stranger = persons(client, raw, other_project)
    for response in [*outside, stranger]:
        assert (response.status_code, response.json()) == (404, {"error": "Project not found."})


def test_a_listed_project_the_owner_left_is_404(client, alice, bob, project):
    _, raw = PersonalAPIKey.issue(bob, "bob's", projects=[project])
    assert persons(client, raw, project).status_code == 200
    project.memberships.get(user=bob).delete()
    assert persons(client, raw, project).status_code == 404


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda user: PersonalAPIKey.issue(
                user, "old", expires_at=timezone.now() - dt.timedelta(seconds=1)
            ),
            "This API key has expired.",
        ),
        (
            lambda user: _revoked(PersonalAPIKey.issue(user, "gone", read_only=False)),
            "This API key was revoked.",
        ),
        (lambda user: (None, "phx_" + "x" * 43), "Invalid API key."),
        (lambda user: (None, "not a key"), "Invalid API key."),
    ],
    ids=["expired", "revoked", "unknown", "malformed"],
)
def test_an_unusable_key_is_401_saying_why(client, alice, project, make, message):
    _, raw = make(alice)
    for response in (query(client, raw, project), persons(client, raw, project)):
        assert (response.status_code, response.json()) == (401, {"error": message})


def test_a_key_with_a_future_expiry_works_until_then(client, alice, project):
    key, raw = PersonalAPIKey.issue(alice, "soon", expires_at=timezone.now() + dt.timedelta(hours=1))
    assert persons(client, raw, project).status_code == 200
    key.refresh_from_db()
    assert key.last_used_at is not None


def test_a_deactivated_owners_key_is_invalid(client, alice, project):
    _, raw = PersonalAPIKey.issue(alice, "x")
    alice.is_active = False
    alice.save()
    assert persons(client, raw, project).json() == {"error": "Invalid API key."}


def _revoked(issued):
    issued[0].revoke()
    return issued


@pytest.mark.django_db(transaction=True)
def test_keys_made_before_the_migration_keep_all_projects_and_writes():
    from django.db import connection  # noqa: PLC0415
    from django.db.migrations.executor import MigrationExecutor  # noqa: PLC0415

    before = [("analytics_app", "0002_edit_insights_permission")]
    after = [("analytics_app", "0003_api_key_scopes")]
    executor = MigrationExecutor(connection)
    executor.migrate(before)
    try:
        old = executor.loader.project_state(before).apps
        user = old.get_model("auth", "User").objects.create(username="ada")
        old.get_model("analytics_app", "PersonalAPIKey").objects.create(
            user=user, label="old", secure_value="0" * 64, mask="phx_old"
        )
        executor.loader.build_graph()
        executor.migrate(after)
        key = PersonalAPIKey.objects.get(label="old")
        assert (key.all_projects, key.read_only, key.expires_at) == (True, False, None)
    finally:
        executor.loader.build_graph()
        executor.migrate(executor.loader.graph.leaf_nodes())
