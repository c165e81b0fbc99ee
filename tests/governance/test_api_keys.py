"""Personal API keys page (governance/keys.py): shown once, stored hashed, revocable, scoped."""

import datetime as dt

import pytest
from django.db import connection
from django.test.html import parse_html
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from analytics_app.models import APIKeyRefused, PersonalAPIKey
from governance.models import AuditEntry
from governance.roles import Role


def test_api_keys_shown_once_and_revocable(alice_client, alice):
    page = alice_client.post(reverse("api_keys"), {"label": "ci", "scope": "all", "access": "read"})
    assert page.status_code == 200
    key = PersonalAPIKey.objects.get(user=alice, label="ci")
    raw = page.content.decode().split('id="new-key">')[1].split("<")[0]
    assert PersonalAPIKey.authenticate(raw) == key
    assert (key.all_projects, key.read_only, key.expires_at) == (True, True, None)
    again = alice_client.get(reverse("api_keys"))
    assert raw.encode() not in again.content
    alice_client.post(reverse("api_keys"), {"action": "revoke", "key_id": key.pk})
    with pytest.raises(APIKeyRefused, match="revoked"):
        PersonalAPIKey.authenticate(raw)


def test_a_key_for_chosen_projects_read_write_with_a_last_day(alice_client, alice, project, make_project):
    other = make_project("Other", members={alice: Role.PM})
    make_project("Not mine")
    day = timezone.now().date() + dt.timedelta(days=3)
    page = alice_client.post(
        reverse("api_keys"),
        {"label": "etl", "scope": "chosen", "projects": [project.pk], "access": "write", "expires": day},
    )
    assert page.status_code == 200
    key = PersonalAPIKey.objects.get(label="etl")
    assert list(key.projects.all()) == [project]
    assert (key.all_projects, key.read_only) == (False, False)
    assert key.expires_at == dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), dt.UTC)
    form = alice_client.get(reverse("api_keys")).content.decode()
    assert f'value="{other.pk}"' in form and "Not mine" not in form  # only her projects are offered
    row = _row(alice_client, key)
    assert "Acme" in row and "Read and write" in row and "never" in row


def test_the_list_says_expired_and_revoked(alice_client, alice):
    past = PersonalAPIKey.issue(alice, "old", expires_at=timezone.now() - dt.timedelta(hours=1))[0]
    gone = PersonalAPIKey.issue(alice, "gone")[0]
    gone.revoke()
    assert "expired" in _row(alice_client, past)
    assert "revoked" in _row(alice_client, gone) and 'value="revoke"' not in _row(alice_client, gone)


@pytest.mark.parametrize(
    "data, field",
    [
        ({"label": "", "scope": "all", "access": "read"}, "label"),
        ({"label": "x", "scope": "chosen", "access": "read"}, "projects"),
        ({"label": "x", "scope": "everything", "access": "read"}, "scope"),
        ({"label": "x", "scope": "all", "access": "admin"}, "access"),
        ({"label": "x", "scope": "all", "access": "read", "expires": "2020-01-01"}, "expires"),
        ({"label": "x", "scope": "all", "access": "read", "expires": "soon"}, "expires"),
    ],
)
def test_bad_key_forms_are_400_with_the_field_error(alice_client, project, data, field):
    page = alice_client.post(reverse("api_keys"), data)
    assert page.status_code == 400
    assert page.context["form"].errors[field]
    assert not PersonalAPIKey.objects.exists()


def test_a_project_the_user_is_not_in_cannot_be_chosen(alice_client, other_project):
    page = alice_client.post(
        reverse("api_keys"),
        {"label": "x", "scope": "chosen", "projects": [other_project.pk], "access": "read"},
    )
    assert page.status_code == 400 and page.context["form"].errors["projects"]


def test_another_users_key_cannot_be_revoked(alice_client, bob):
    key = PersonalAPIKey.issue(bob, "bob's")[0]
    assert alice_client.post(reverse("api_keys"), {"action": "revoke", "key_id": key.pk}).status_code == 404
    key.refresh_from_db()
    assert key.revoked_at is None
    assert not AuditEntry.objects.filter(action="key.revoke").exists()


def test_the_keys_page_needs_a_login(client):
    assert client.get(reverse("api_keys")).status_code == 302


def _row(client, key) -> str:
    """The text of the key's row on the keys page."""
    html = client.get(reverse("api_keys")).content.decode()
    start = html.index(f'data-key="{key.pk}"')
    row = html[html.rindex("<tr", 0, start) : html.index("</tr>", start) + 5]
    return " ".join(str(parse_html(row)).split()).replace("<", " <")


def test_the_keys_page_costs_the_same_queries_for_1_or_10_keys(alice_client, alice, project):
    PersonalAPIKey.issue(alice, "k0", projects=[project])
    alice_client.get(reverse("api_keys"))
    with CaptureQueriesContext(connection) as few:
        alice_client.get(reverse("api_keys"))
    for i in range(1, 10):
        PersonalAPIKey.issue(alice, f"k{i}", projects=[project] if i % 2 else None)
    with CaptureQueriesContext(connection) as many:
        alice_client.get(reverse("api_keys"))
    assert len(many.captured_queries) == len(few.captured_queries)
