"""Event and person properties are a table (key, value, type; sortable; JSON on request),
masked by role exactly as the presenter masks them: the explorer's event and person
pages and the player's person and event panels."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from analytics_app.models import Membership
from analytics_app.templatetags.sextant import property_rows
from governance.roles import Role
from tests.explorer.conftest import insert_person
from tests.html import parse
from tests.replay.test_snapshots_api import recent_events, record, shifted

pytestmark = pytest.mark.django_db

EVENT_PROPS = {
    "$browser": "Chrome",
    "email": "ann@example.com",
    "revenue": 12.5,
    "items": 3,
    "vip": True,
    "tags": ["a", "b"],
    "paid_at": "2026-11-30T10:00:00Z",
}


def table(doc, box: str) -> dict[str, tuple[str, str]]:
    rows = doc.select(f"#{box} table.props-table tbody tr")
    return {
        r.one("td.prop-key").text: (r.one("td.prop-value").text, r.one("td.prop-type").text) for r in rows
    }


@pytest.fixture
def ann(project, events):
    # An hour ago when the test runs (not when the module was imported: a slow suite
    # reaches it many minutes later, and the player reads events around its recording).
    at = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=1)
    event_uuid = uuid.uuid4()
    events.add("purchase", "ann-id", at, {**EVENT_PROPS, "$session_id": "s-ann"}, uuid=event_uuid)
    events.flush()
    person = events.person_for("ann-id")
    insert_person(project.pk, person, {"email": "ann@example.com", "plan": "pro", "seats": 4}, created_at=at)
    return {"event": event_uuid, "person": person, "at": at}


@pytest.fixture
def pm_client(make_user, project):
    """A client of its own (alice_client shares pytest-django's `client`)."""
    pm = make_user("pm@example.com")
    Membership.objects.create(user=pm, project=project, role=Role.PM)
    client = Client()
    client.force_login(pm)
    return client


def test_property_rows_have_the_plan_types():
    rows = {r["key"]: (r["value"], r["type"]) for r in property_rows({**EVENT_PROPS, "gone": None})}
    assert rows == {
        "$browser": ("Chrome", "string"),
        "email": ("ann@example.com", "string"),
        "revenue": ("12.5", "number"),
        "items": ("3", "number"),
        "vip": ("true", "boolean"),
        "tags": ('["a", "b"]', "array"),
        "paid_at": ("2026-11-30T10:00:00Z", "datetime"),
        "gone": ("null", "null"),
    }
    assert [r["key"] for r in property_rows({"b": 1, "A": 2, "c": 3})] == ["A", "b", "c"]


def test_admin_sees_the_event_and_person_properties_as_tables(alice_client, project, ann):
    doc = parse(alice_client.get(reverse("explorer:event", args=[project.pk, ann["event"]])))
    got = table(doc, "event-properties")
    assert got["email"] == ("ann@example.com", "string") and got["revenue"] == ("12.5", "number")
    assert got["vip"] == ("true", "boolean") and got["tags"] == ('["a", "b"]', "array")
    assert doc.has("#event-properties table[data-sortable] th button[data-sort]")
    raw = json.loads(doc.one("#event-properties details.props-json pre.code").text)
    assert raw["email"] == "ann@example.com"
    doc = parse(alice_client.get(reverse("explorer:person", args=[project.pk, ann["person"]])))
    assert table(doc, "person-properties") == {
        "email": ("ann@example.com", "string"),
        "plan": ("pro", "string"),
        "seats": ("4", "number"),
    }


def test_a_pm_without_view_pii_sees_masked_values_in_the_tables(pm_client, project, ann):
    for url, box in (
        (reverse("explorer:event", args=[project.pk, ann["event"]]), "event-properties"),
        (reverse("explorer:person", args=[project.pk, ann["person"]]), "person-properties"),
    ):
        response = pm_client.get(url)
        assert response.status_code == 200
        body = response.content.decode()
        assert "ann@example.com" not in body
        value, _ = table(parse(body), box)["email"]
        assert "•" in value
    assert table(
        parse(pm_client.get(reverse("explorer:person", args=[project.pk, ann["person"]]))),
        "person-properties",
    )["plan"] == ("pro", "string")


def test_the_player_shows_person_and_event_properties_masked_for_a_pm(pm_client, alice_client, project, ann):
    session = record(
        project,
        shifted(recent_events(), ann["at"] - dt.timedelta(seconds=1)),
        session_id="s-ann",
        distinct_id="ann-id",
    )
    url = reverse("replay:player", args=[project.pk, session])
    doc = parse(alice_client.get(url))
    assert table(doc, "rp-person-props")["email"] == ("ann@example.com", "string")
    event_tables = doc.select("#rp-events details.rp-props table.props-table")
    assert event_tables, "each event's properties are a table"
    response = pm_client.get(url)
    assert response.status_code == 200 and "ann@example.com" not in response.content.decode()
    assert "•" in table(parse(response), "rp-person-props")["email"][0]
