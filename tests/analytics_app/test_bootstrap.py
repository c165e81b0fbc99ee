import json

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.http import HttpRequest
from guardian.shortcuts import get_perms

from analytics_app.models import Membership, PersonalAPIKey, Project


def run_bootstrap(capsys, *args):
    call_command("bootstrap", *args)
    out = capsys.readouterr().out.strip()
    return json.loads(out)


@pytest.mark.django_db
def test_bootstrap_prints_one_json_object_and_is_idempotent(capsys):
    args = ["--email", "Ada@Example.com", "--password", "s3cret-pass", "--project", "Shop", "--json"]
    first = run_bootstrap(capsys, *args)
    second = run_bootstrap(capsys, *args)
    assert set(first) == {"user_id", "project_id", "project_token", "personal_api_key"}
    assert first["user_id"] == second["user_id"]
    assert first["project_id"] == second["project_id"]
    assert first["project_token"] == second["project_token"]
    assert first["personal_api_key"] != second["personal_api_key"]  # a fresh key each call
    assert get_user_model().objects.count() == 1
    assert Project.objects.count() == 1
    assert Membership.objects.get().role == "admin"
    assert PersonalAPIKey.authenticate(first["personal_api_key"]).user.email == "ada@example.com"
    assert PersonalAPIKey.authenticate(second["personal_api_key"]).user.email == "ada@example.com"
    assert PersonalAPIKey.objects.filter(secure_value=first["personal_api_key"]).count() == 0  # stored hashed


@pytest.mark.django_db
def test_bootstrap_changes_role_and_password(capsys, client):
    run_bootstrap(
        capsys, "--email", "x@example.com", "--password", "first-password", "--project", "P", "--json"
    )
    out = run_bootstrap(
        capsys,
        "--email",
        "x@example.com",
        "--password",
        "second-password",
        "--project",
        "P",
        "--role",
        "support",
        "--json",
    )
    project = Project.objects.get(pk=out["project_id"])
    user = get_user_model().objects.get(pk=out["user_id"])
    assert set(get_perms(user, project)) == {"view_project", "view_insights", "view_recordings"}
    # django-axes checks every authenticate() and needs the request it comes from
    assert client.login(request=HttpRequest(), username="x@example.com", password="second-password")


@pytest.mark.django_db
def test_bootstrap_rejects_bad_input():
    with pytest.raises(CommandError):
        call_command("bootstrap", "--email", "not-an-email", "--password", "long-enough", "--project", "P")
    with pytest.raises(CommandError):
        call_command("bootstrap", "--email", "a@b.c", "--password", "short", "--project", "P")
