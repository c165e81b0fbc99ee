"""The pickers' suggestion endpoints (governance/suggestions.py, docs/api.md "Property
suggestions"): property names grouped event / person / session with the plan's type and
description (discovery's observed type otherwise), top values counted as a brute-force
Python count over the same generated events, PII values never suggested to roles without
view-PII, another project's data never visible, and a small, fixed number of queries."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from collections import Counter

import pytest
from django.urls import reverse

from analytics_app import clickhouse as ch
from analytics_app.models import Membership
from governance.models import EventDefinition, PropertyDefinition
from governance.roles import Role
from tests.clock import at_test_time
from tests.explorer.conftest import insert_person

pytestmark = pytest.mark.django_db

NOW = at_test_time(lambda now: now.replace(microsecond=0) - dt.timedelta(minutes=5))


def names_url(project, **params):
    return reverse("api_property_names", kwargs={"project_id": project.pk}), params


def get_names(client, project, **params):
    url, params = names_url(project, **params)
    response = client.get(url, params)
    assert response.status_code == 200, response.content
    return {g["group"]: {p["key"]: p for p in g["properties"]} for g in response.json()["groups"]}


def get_values(client, project, **params):
    return client.get(reverse("api_property_values", kwargs={"project_id": project.pk}), params)


@pytest.fixture
def members(project, bob, make_user):
    """alice admin, bob exec (from `project`), pat pm, sam support, ann analyst."""
    users = {"exec": bob}
    for role, email in (
        (Role.PM, "pat@example.com"),
        (Role.SUPPORT, "sam@example.com"),
        (Role.ANALYST, "ann@example.com"),
    ):
        user = make_user(email)
        Membership.objects.create(user=user, project=project, role=role)
        users[str(role)] = user
    return users


@pytest.fixture
def shop(project, events):
    """A small shop's traffic and plan."""
    purchase = EventDefinition.objects.create(
        project=project, name="purchase", description="An order is paid."
    )
    PropertyDefinition.objects.create(
        project=project, event=purchase, name="price", type="number", description="Price in EUR"
    )
    PropertyDefinition.objects.create(
        project=project, event=purchase, name="coupon", type="string", description="Code typed at checkout"
    )
    PropertyDefinition.objects.create(project=project, name="plan", type="string", description="Billing plan")
    for i in range(6):
        events.add(
            "purchase",
            f"u{i}",
            NOW - dt.timedelta(hours=i),
            {
                "price": 10 + i,
                "is_trial": i % 2 == 0,
                "$browser": "Chrome" if i < 4 else "Firefox",
                "$session_id": f"s{i}",
            },
        )
        events.add(
            "$pageview",
            f"u{i}",
            NOW - dt.timedelta(hours=i),
            {"$browser": "Chrome", "utm_source": "news", "$set": {"plan": "pro"}},
        )
    events.flush()
    for i in range(6):
        insert_person(
            project.id, events.person_for(f"u{i}"), {"plan": "pro" if i < 5 else "free", "age": 30 + i}
        )
    return project


def test_names_are_grouped_with_the_plans_type_and_description_first(alice_client, shop):
    groups = get_names(alice_client, shop)
    assert set(groups) == {"event", "person", "session", "cohort"}  # then the project's cohorts
    event, person, session = groups["event"], groups["person"], groups["session"]
    assert (event["price"]["type"], event["price"]["type_source"], event["price"]["description"]) == (
        "number",
        "plan",
        "Price in EUR",
    )
    assert event["price"]["volume_30d"] == 6 and event["price"]["planned"]
    assert (event["is_trial"]["type"], event["is_trial"]["type_source"]) == ("boolean", "observed")
    assert (event["$browser"]["type"], event["$browser"]["volume_30d"]) == ("string", 12)
    # planned, never seen: still offered (volume 0), with its description
    assert (event["coupon"]["volume_30d"], event["coupon"]["description"]) == (0, "Code typed at checkout")
    assert "$set" not in event  # a bag of person properties, not a filter
    assert set(session) == {"$session_id", "utm_source"} and session["utm_source"]["filter_type"] == "event"
    assert (person["plan"]["type_source"], person["plan"]["description"]) == ("plan", "Billing plan")
    assert (person["age"]["type"], person["age"]["filter_type"]) == ("number", "person")
    assert event["price"]["operators"] == [
        "exact",
        "is_not",
        "gt",
        "gte",
        "lt",
        "lte",
        "is_set",
        "is_not_set",
    ]
    assert event["is_trial"]["operators"] == ["exact", "is_not", "is_set", "is_not_set"]
    # planned names come first, then by volume
    assert list(event)[:2] == ["price", "coupon"]


def test_names_search_the_name_and_the_description_and_narrow_to_an_event(alice_client, shop):
    found = get_names(alice_client, shop, q="EUR")
    assert list(found["event"]) == ["price"] and found["person"] == {} and found["session"] == {}
    assert set(get_names(alice_client, shop, q="brow")["event"]) == {"$browser"}
    of_pageview = get_names(alice_client, shop, event="$pageview")
    assert set(of_pageview["event"]) == {"$browser"} and set(of_pageview["session"]) == {"utm_source"}
    assert set(of_pageview["person"]) == {"plan", "age"}  # person properties whatever the event


def test_names_cost_one_clickhouse_query_and_few_database_queries(
    alice_client, shop, django_assert_max_num_queries
):
    url, _ = names_url(shop)
    alice_client.get(url)  # the session and permission caches warm
    # the gate: session, user, two-factor check, project, two permission reads, PII keys; then the
    # plan and the project's cohorts
    with ch.counting() as log, django_assert_max_num_queries(9):
        response = alice_client.get(url, {"q": "p"})
    assert response.status_code == 200
    assert (
        log.count == 1 and "discovery_daily" in log.statements[0] and "FROM events" not in log.statements[0]
    )
    with ch.counting() as log:
        get_values(alice_client, shop, key="$browser")
    assert log.count == 1


def reference(rows, key, event=None, since=None):
    counts = Counter()
    for name, ts, props in rows:
        if (
            (event is None or name == event)
            and (since is None or ts >= since)
            and props.get(key) not in (None, "")
        ):
            value = props[key]
            counts["true" if value is True else "false" if value is False else str(value)] += 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:20]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_top_values_match_a_python_count(alice_client, project, events, seed):
    rnd = random.Random(seed)
    browsers = [f"B{i}" for i in range(30)]
    rows = []
    for i in range(400):
        name = rnd.choice(["$pageview", "click"])
        ts = NOW - dt.timedelta(days=rnd.choice([0, 1, 5, 29, 31, 45]), minutes=rnd.randint(0, 600))
        props = {}
        if rnd.random() < 0.9:
            props["$browser"] = rnd.choices(browsers, weights=range(30, 0, -1))[0]
        if rnd.random() < 0.7:
            props["tier"] = rnd.choice([1, 2, 3, 10])
        if rnd.random() < 0.5:
            props["trial"] = rnd.random() < 0.3
        rows.append((name, ts, props))
        events.add(name, f"d{i % 50}", ts, props)
    events.flush()
    since = dt.datetime.now(dt.UTC) - dt.timedelta(days=30)
    for key in ("$browser", "tier", "trial"):
        for event in (None, "click"):
            params = {"key": key} | ({"event": event} if event else {})
            body = get_values(alice_client, project, **params).json()
            got = [(v["value"], v["count"]) for v in body["values"]]
            assert got == reference(rows, key, event, since), (key, event)
            assert body["days"] == 30 and not body["masked"]
    body = get_values(alice_client, project, key="$browser", q="b1").json()
    expected = [(v, n) for v, n in reference(rows, "$browser", None, since) if "b1" in v.lower()]
    assert [(v["value"], v["count"]) for v in body["values"]][: len(expected)] == expected[:20]


def test_person_values_count_current_persons(alice_client, shop):
    body = get_values(alice_client, shop, key="plan", type="person").json()
    assert body["values"] == [{"value": "pro", "count": 5}, {"value": "free", "count": 1}]
    assert body["days"] is None
    # a newer version of a person counts once, with its latest properties
    insert_person(shop.id, uuid.uuid5(uuid.NAMESPACE_URL, f"{shop.id}/u0"), {"plan": "free"})
    body = get_values(alice_client, shop, key="plan", type="person").json()
    assert body["values"] == [{"value": "pro", "count": 4}, {"value": "free", "count": 2}]


@pytest.fixture
def classified(shop, events):
    """A custom event property and a person property classified in the plan."""
    purchase = EventDefinition.objects.get(project=shop, name="purchase")
    PropertyDefinition.objects.create(project=shop, event=purchase, name="voucher_holder", pii_class="pii")
    PropertyDefinition.objects.create(project=shop, name="nickname", pii_class="sensitive")
    events.add(
        "purchase",
        "u9",
        NOW,
        {
            "voucher_holder": "Holdername Qazwsx",
            "$current_url": "https://shop.example/a?token=tok9qq1",
            "contacts": [{"name": "Arrayname Ujm"}],
        },
    ).flush()
    insert_person(
        shop.id, events.person_for("u9"), {"nickname": "Nickname Plmokn", "email": "pers.qz@example.org"}
    )
    return shop


@pytest.mark.parametrize("role", ["pm", "exec", "support"])
def test_pii_values_are_not_suggested_to_roles_without_view_pii(client, classified, members, role):
    client.force_login(members[role])
    for key, ftype in (
        ("voucher_holder", "event"),
        ("nickname", "person"),
        ("email", "person"),
        ("$set.email", "event"),
    ):
        response = get_values(client, classified, key=key, type=ftype)
        assert response.status_code == 403, (key, response.content)
        assert "view-PII" in response.json()["error"]
        body = response.content.decode()
        assert "Holdername" not in body and "Plmokn" not in body and "pers.qz" not in body
    # other values: as the role sees them, grouped on the masked text
    urls = get_values(client, classified, key="$current_url").json()
    assert urls["masked"] and [v["value"] for v in urls["values"]] == [
        "https://shop.example/a?token=•••••••"
    ]  # the length of tok9qq1, as the Presenter shows it
    # objects and arrays may hold PII keys inside: not suggested to this role
    assert get_values(client, classified, key="contacts").json()["values"] == []
    # a value search may not probe the masked part of a value, nor an e-mail address
    assert get_values(client, classified, key="$current_url", q="tok9qq1").json()["values"] == []
    assert get_values(client, classified, key="$browser", q="x@example.org").status_code == 403
    names = get_names(client, classified)
    assert names["event"]["voucher_holder"]["masked"] and names["person"]["nickname"]["masked"]
    assert not names["event"]["price"]["masked"]


@pytest.mark.parametrize("role", ["admin", "analyst"])
def test_roles_with_view_pii_get_every_value(client, classified, members, alice, role):
    client.force_login(alice if role == "admin" else members["analyst"])
    assert get_values(client, classified, key="voucher_holder").json()["values"] == [
        {"value": "Holdername Qazwsx", "count": 1}
    ]
    assert (
        get_values(client, classified, key="nickname", type="person").json()["values"][0]["value"]
        == "Nickname Plmokn"
    )
    urls = get_values(client, classified, key="$current_url", q="tok9").json()
    assert [v["value"] for v in urls["values"]] == ["https://shop.example/a?token=tok9qq1"]
    assert "Arrayname Ujm" in get_values(client, classified, key="contacts").json()["values"][0]["value"]
    names = get_names(client, classified)
    assert names["event"]["voucher_holder"]["pii"] and not names["event"]["voucher_holder"]["masked"]


def test_another_projects_data_is_never_visible(alice_client, shop, other_project, client, charlie):
    from tests.conftest import EventBuilder  # noqa: PLC0415

    EventBuilder(other_project.id).add(
        "secret_event", "x", NOW, {"globex_key": "globex-value", "$browser": "Globexbrowser"}
    ).flush()
    PropertyDefinition.objects.create(project=other_project, name="globex_person", description="Globex only")
    names = get_names(alice_client, shop)
    every = {k for group in names.values() for k in group}
    assert "globex_key" not in every and "globex_person" not in every
    values = get_values(alice_client, shop, key="$browser").json()["values"]
    assert "Globexbrowser" not in {v["value"] for v in values}
    assert get_values(alice_client, shop, key="globex_key").json()["values"] == []
    # alice is no member of Globex: it does not exist for her
    url = reverse("api_property_values", kwargs={"project_id": other_project.pk})
    assert alice_client.get(url, {"key": "globex_key"}).status_code == 404
    assert (
        alice_client.get(reverse("api_property_names", kwargs={"project_id": other_project.pk})).status_code
        == 404
    )


def test_bad_requests_answer_400_with_the_reason(alice_client, shop):
    for params, field in (
        ({}, "key"),
        ({"key": "x" * 401}, "key"),
        ({"key": "$browser", "type": "cohort"}, "type"),
        ({"key": "$browser", "q": "x" * 201}, "q"),
    ):
        response = get_values(alice_client, shop, **params)
        assert response.status_code == 400 and field in response.json()["errors"], params
    url, _ = names_url(shop)
    assert alice_client.get(url, {"q": "y" * 201}).status_code == 400
    assert alice_client.post(url).status_code == 405


def test_anonymous_callers_get_401(client, shop):
    url, _ = names_url(shop)
    assert client.get(url).status_code == 401


def test_the_endpoints_are_in_the_openapi_schema(client):
    paths = client.get(reverse("api_schema")).json()["paths"]
    assert "/api/projects/{project_id}/properties/" in paths
    assert "/api/projects/{project_id}/properties/values/" in paths


def test_masked_values_are_counted_as_the_role_sees_them(client, project, events, members):
    """Different raw URLs that a pm sees as one masked URL are one suggestion with their summed
    count, as a Python count of the masked text says. The masked text is the filters' own
    (insights/blocks/filters.py, the SQL twin of governance.masking.mask_string: a fragment,
    a query value -> "•" × its length, an e-mail address -> "•" × its length, at most 12), so a
    suggested value picked as an `equals` filter matches exactly the events it counted."""
    from governance.masking import mask_string  # noqa: PLC0415

    rnd = random.Random(7)
    urls = []
    for i in range(120):
        url = rnd.choice(
            [
                f"https://shop.example/cart?token=t{rnd.randint(0, 9)}",
                f"https://shop.example/p/{rnd.randint(0, 3)}#frag{i}",
                "https://shop.example/",
                f"mailto:user{rnd.randint(0, 2)}@example.org",
            ]
        )
        urls.append(url)
        events.add("$pageview", f"d{i}", NOW - dt.timedelta(minutes=i), {"$current_url": url})
    events.flush()
    client.force_login(members["pm"])
    body = get_values(client, project, key="$current_url").json()
    expected = sorted(Counter(mask_string(u) for u in urls).items(), key=lambda kv: (-kv[1], kv[0]))[:20]
    assert [(v["value"], v["count"]) for v in body["values"]] == expected
    assert not any("token=t" in v["value"] or "@example.org" in v["value"] for v in body["values"])
    # picked as a filter by the same role, a suggestion matches the events it counted
    top = body["values"][0]
    spec = {
        "kind": "TrendsQuery",
        "date_from": "-7d",
        "display": "number",
        "series": [{"event": "$pageview"}],
        "properties": [{"key": "$current_url", "operator": "exact", "value": top["value"]}],
    }
    url = reverse("api_query", kwargs={"project_id": project.pk})
    result = client.post(url, json.dumps(spec), content_type="application/json").json()
    assert sum(result["results"][0]["data"]) == top["count"]
