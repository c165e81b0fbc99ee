"""governance.audit.record: who, what, from where; entries cannot be changed or deleted."""

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory, override_settings

from analytics_app.models import Project
from governance import audit
from governance.models import AuditEntry

pytestmark = pytest.mark.django_db


def _request(user, **meta):
    request = RequestFactory().post("/x/", **meta)
    request.user = user
    return request


def test_an_entry_names_actor_project_action_and_ip():
    user = get_user_model().objects.create_user("ada", "ada@example.com", "pw-Long-enough-1")
    project = Project.objects.create(name="Shop")
    entry = audit.record(
        _request(user, REMOTE_ADDR="10.1.2.3"),
        "member.role",
        project=project,
        target="bob@example.com",
        before={"role": "pm"},
        after={"role": "admin"},
    )
    entry.refresh_from_db()
    assert (entry.actor, entry.actor_label, entry.project, entry.project_name) == (
        user,
        "ada",
        project,
        "Shop",
    )
    assert (entry.action, entry.target, entry.ip) == ("member.role", "bob@example.com", "10.1.2.3")
    assert (entry.before, entry.after) == ({"role": "pm"}, {"role": "admin"})


@override_settings(SEXTANT_PROXY_COUNT=1)
def test_behind_one_proxy_the_ip_is_the_last_forwarded_hop():
    user = get_user_model().objects.create_user("ada")
    request = _request(user, REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.9")
    assert audit.record(request, "key.create").ip == "203.0.113.9"


def test_a_system_action_has_no_actor_and_no_ip():
    entry = audit.record(None, "data.purge")
    assert (entry.actor, entry.actor_label, entry.ip) == (None, "", None)


def test_entries_cannot_be_changed_or_deleted_through_the_model():
    entry = audit.record(None, "data.purge")
    entry.action = "nothing happened"
    with pytest.raises(PermissionError):
        entry.save()
    with pytest.raises(PermissionError):
        entry.delete()
    assert AuditEntry.objects.get(pk=entry.pk).action == "data.purge"
