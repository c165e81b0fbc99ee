"""The tracking plan's PII classes feed the Presenter: a property classified pii or sensitive
is masked for roles without view-PII in every output (here: the event page, the events API
and a trends breakdown) and refused as a filter, like the built-in PII keys; roles with
view-PII see it as stored. Unclassified, the same property is shown to everyone."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.test import Client

from governance.models import PropertyDefinition
from governance.presenter import Presenter
from governance.roles import ROLE_PERMISSIONS, Role

pytestmark = pytest.mark.django_db

SECRET = "loyalty-7731-XK"


@pytest.fixture
def seeded(project, events):
    event_uuid = uuid.uuid4()
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    events.add("purchase", "u1", now, {"loyalty_code": SECRET, "plan": "pro"}, uuid=event_uuid)
    events.flush()
    return event_uuid


def classify(project, name="loyalty_code", pii="sensitive"):
    PropertyDefinition.objects.create(project=project, name=name, type="string", pii_class=pii)


def pages(project, event_uuid):
    trends = {
        "kind": "TrendsQuery",
        "series": [{"event": "purchase", "math": "total"}],
        "breakdown": {"property": "plan"},
        "date_from": "-7d",
    }
    return [
        ("get", f"/project/{project.pk}/events/{event_uuid}/", None),
        ("post", f"/api/projects/{project.pk}/query/", {"kind": "EventsQuery", "event": "purchase"}),
        ("post", f"/api/projects/{project.pk}/query/", trends),
    ]


def fetch(client, method, path, body):
    if method == "get":
        return client.get(path)
    return client.post(path, json.dumps(body), content_type="application/json")


def test_a_classified_property_is_masked_for_roles_without_view_pii(client, alice, bob, project, seeded):
    classify(project)
    admin = Client()
    admin.force_login(alice)
    client.force_login(bob)  # exec: no view-PII (and no export: the events API is 403 for them)
    for method, path, body in pages(project, seeded):
        seen_by_exec = fetch(client, method, path, body)
        assert SECRET not in seen_by_exec.content.decode(), path
        shown = fetch(admin, method, path, body)
        assert shown.status_code == 200, path
        if body is None or body["kind"] == "EventsQuery":
            assert SECRET in shown.content.decode(), path


def test_unclassified_the_value_is_shown_to_every_reader(client, bob, project, seeded):
    client.force_login(bob)
    assert SECRET in client.get(f"/project/{project.pk}/events/{seeded}/").content.decode()


@pytest.mark.parametrize("pii", ["pii", "sensitive"])
def test_filtering_by_a_classified_property_is_refused_and_a_breakdown_masked(
    client, bob, project, seeded, pii
):
    """As for the built-in PII keys: a filter could confirm a guessed value, so it is refused;
    a breakdown is allowed and its values are masked (drill-downs go by server-issued tokens)."""
    classify(project, pii=pii)
    client.force_login(bob)
    series = [{"event": "purchase", "math": "total"}]
    url = f"/api/projects/{project.pk}/query/"
    refused = {
        "kind": "TrendsQuery",
        "series": series,
        "properties": [{"key": "loyalty_code", "value": SECRET, "operator": "exact", "type": "event"}],
        "date_from": "-7d",
    }
    response = client.post(url, json.dumps(refused), content_type="application/json")
    assert response.status_code == 403, response.content
    assert "view-PII" in response.json()["error"]
    breakdown = {
        "kind": "TrendsQuery",
        "series": series,
        "breakdown": {"property": "loyalty_code"},
        "date_from": "-7d",
    }
    response = client.post(url, json.dumps(breakdown), content_type="application/json")
    assert response.status_code == 200 and SECRET not in response.content.decode()
    assert sum(r["total"] for r in response.json()["results"]) == 1


def test_the_presenter_knows_the_classes_and_nothing_marked_none(project):
    classify(project, "loyalty_code", "sensitive")
    classify(project, "Favourite_Colour", "pii")
    classify(project, "plan", "none")
    presenter = Presenter.for_request(project, ROLE_PERMISSIONS[Role.SUPPORT])
    assert presenter.is_masked("loyalty_code") and presenter.is_masked("favourite_colour")
    assert presenter.is_masked("$set.loyalty_code")
    assert not presenter.is_masked("plan")
    assert not Presenter.for_request(project, ROLE_PERMISSIONS[Role.ANALYST]).is_masked("loyalty_code")
