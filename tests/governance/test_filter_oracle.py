"""A filter is no oracle for what a role sees masked: support (no view-PII) cannot recover a card
number or an IBAN digit by digit with `icontains` / `regex` filters on trends, funnels or the
events explorer (the query API): the answer never depends on the hidden digit. An admin's
filters keep the raw text (and so do find it, which is what makes the probe meaningful)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from django.urls import reverse

from analytics_app.models import Membership
from governance.roles import Role
from tests.clock import at_test_time

NOW = at_test_time(lambda now: now.replace(microsecond=0) - dt.timedelta(minutes=5))
CARD = "4539 1488 0343 6467"  # Luhn-valid
IBAN = "GB82 WEST 1234 5698 7654 32"  # mod-97-valid
PHONE = "+44 20 7946 0958"


@pytest.fixture
def members(project, bob, make_user):
    users = {"admin": project.memberships.get(role=Role.ADMIN).user}
    for role, email in ((Role.SUPPORT, "sam@example.com"), (Role.PM, "pat@example.com")):
        user = make_user(email)
        Membership.objects.create(user=user, project=project, role=role)
        users[str(role)] = user
    return users


@pytest.fixture
def shop(project, events):
    for i in range(6):
        note = [f"paid with {CARD}", f"refund to {IBAN}", f"call {PHONE}", "paid cash"][i % 4]
        events.add("checkout", f"u{i}", NOW - dt.timedelta(hours=i + 1), {"note": note, "tags": [CARD]})
        events.add("pay", f"u{i}", NOW - dt.timedelta(hours=i), {"note": note})
    events.flush()
    return project


def probe(client, project, kind: str, f: dict):
    url = reverse("api_query", kwargs={"project_id": project.pk})
    spec = {
        "trends": {
            "kind": "TrendsQuery",
            "date_from": "-7d",
            "display": "number",
            "series": [{"event": "checkout"}],
        },
        "funnels": {
            "kind": "FunnelsQuery",
            "date_from": "-7d",
            "steps": [{"event": "checkout"}, {"event": "pay"}],
        },
        "explorer": {"kind": "EventsQuery", "date_from": "-7d", "event": "checkout"},
    }[kind]
    response = client.post(url, json.dumps({**spec, "properties": [f]}), content_type="application/json")
    if response.status_code != 200:
        return response.status_code
    body = response.json()
    if kind == "trends":
        return sum(body["results"][0]["data"])
    if kind == "funnels":
        return [s["count"] for s in body["results"][0]["steps"]]
    return len(body["results"])


def guesses(secret: str, known: int):
    """Filters guessing the digit after the first `known` characters of `secret`, one per digit."""
    prefix = secret[:known]
    for op, make in (
        ("icontains", lambda d: prefix + d),
        ("icontains", lambda d: (prefix + d)[-4:]),
        ("regex", lambda d: "(?i)" + (prefix + d).replace("+", "\\\\+")),
    ):
        yield (
            [
                {"key": key, "operator": op, "value": make(d), "type": "event"}
                for d in "0123456789"
                for key in ("note",)
            ],
            op,
        )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("kind", "secret"),
    [("trends", CARD), ("trends", IBAN), ("trends", PHONE), ("funnels", CARD), ("explorer", IBAN)],
)
def test_no_digit_of_a_masked_number_can_be_guessed(client, shop, members, kind, secret):
    role = "pm" if kind == "explorer" else "support"  # the explorer's API needs the export permission
    client.force_login(members[role])
    for known in [i for i, c in enumerate(secret) if c.isdigit() and i >= 5][::8][1:2]:
        for filters, op in guesses(secret, known):
            answers = [probe(client, shop, kind, f) for f in filters]
            assert len(set(map(str, answers))) == 1, (role, kind, op, known, answers)
    # nor inside an array
    tags = [
        probe(client, shop, kind, {"key": "tags", "operator": "icontains", "value": CARD[:k]}) for k in (4, 9)
    ]
    assert len(set(map(str, tags))) == 1


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["trends", "funnels", "explorer"])
def test_an_admin_filters_the_raw_text(client, shop, members, kind):
    client.force_login(members["admin"])
    known = 10
    right = CARD[known]
    answers = {
        d: probe(client, shop, kind, {"key": "note", "operator": "icontains", "value": CARD[:known] + d})
        for d in "0123456789"
    }
    assert answers[right] not in (0, [0, 0])
    assert all(a in (0, [0, 0]) for d, a in answers.items() if d != right)
    assert probe(client, shop, kind, {"key": "tags", "operator": "icontains", "value": CARD[:9]}) not in (
        0,
        [0, 0],
    )
