"""The recordings list: GET /api/projects/<id>/recordings/ and the page.

Sessions are written through the ingestion path (so summaries are real), persons
through EventBuilder, once per module (the `recordings` fixture); every filter and
sort is checked against a Python filter over tests/replay/reference.py summaries.
"""

from __future__ import annotations

import copy
import datetime as dt
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from analytics_app.models import Membership, Project
from cohorts.models import Cohort
from governance.roles import Role
from tests.clock import at_test_time
from tests.conftest import EventBuilder, examples

from . import reference
from .test_summary import send

NOW = at_test_time(lambda now: now.replace(microsecond=0))


def session_events(
    start: dt.datetime, *, seconds: int, clicks: int, errors: int, rage: bool, url: str
) -> list[dict]:
    t = int(start.timestamp() * 1000)
    events = [{"type": 4, "data": {"href": url, "width": 1, "height": 1}, "timestamp": t}]
    for i in range(clicks):
        events.append(
            {
                "type": 3,
                "data": {"source": 2, "type": 2, "id": 10 + i, "x": 100 * i, "y": 5},
                "timestamp": t + 1000 + 700 * i,
            }
        )
    if rage:
        for k in range(3):
            events.append(
                {
                    "type": 3,
                    "data": {"source": 2, "type": 2, "id": 99, "x": 1, "y": 1},
                    "timestamp": t + 500 + 100 * k,
                }
            )
    for i in range(errors):
        events.append(
            {
                "type": 6,
                "data": {
                    "plugin": "rrweb/console@1",
                    "payload": {"level": "error", "trace": [], "payload": []},
                },
                "timestamp": t + 2000 + i,
            }
        )
    events.append(
        {"type": 3, "data": {"source": 3, "id": 1, "x": 0, "y": 1}, "timestamp": t + seconds * 1000}
    )
    return sorted(events, key=lambda e: e["timestamp"])


PEOPLE = {
    "ann": {"email": "ann@example.com", "name": "Ann"},
    "ben": {"email": "ben@example.com"},
    "cid": {},
}


@pytest.fixture(scope="module")
def recordings(ch_project):
    """12 sessions over 3 persons (ann also has an anonymous id merged into her), written
    once for the module into one ClickHouse project; the tests only read them."""
    project_id = ch_project().id
    project = Project(pk=project_id, name="Acme")  # never saved: ingestion only reads its settings
    builder = EventBuilder(project.id)
    builder.merge("anon-ann", into="ann")
    sessions = {}
    specs = [
        # distinct_id, hours ago, seconds, clicks, errors, rage, url
        ("ann", 1, 30, 2, 0, False, "https://shop.test/?email=ann@example.com"),
        ("ann", 3, 300, 5, 2, True, "https://shop.test/checkout"),
        ("anon-ann", 5, 8, 0, 0, False, "https://shop.test/products"),
        ("ben", 2, 120, 1, 1, False, "https://shop.test/products/blue"),
        ("ben", 30, 600, 9, 0, True, "https://shop.test/"),
        ("ben", 24 * 10, 50, 1, 0, False, "https://shop.test/old"),  # outside -7d
        ("cid", 4, 1, 0, 0, False, "https://shop.test/help"),
        ("cid", 6, 45, 3, 3, False, "https://shop.test/checkout?step=2"),
        ("cid", 48, 90, 0, 0, False, "https://shop.test/account"),
        ("unknown", 7, 10, 1, 0, True, "https://other.test/"),
        ("ann", 72, 200, 4, 0, False, "https://shop.test/products"),
        ("ben", 100, 75, 2, 1, False, "https://shop.test/cart"),
    ]
    for i, (did, hours, seconds, clicks, errors, rage, url) in enumerate(specs):
        start = NOW - dt.timedelta(hours=hours)
        session_id = f"s{i:02d}-{uuid.uuid4().hex[:8]}"
        events = session_events(start, seconds=seconds, clicks=clicks, errors=errors, rage=rage, url=url)
        chunk = uuid.uuid4()
        send(project, session_id, [(chunk, events)], distinct_id=did)
        sessions[session_id] = {"distinct_id": did, "index": i, **reference.summarize([(chunk, events)], did)}
        if i in (1, 3, 7):  # these sessions also did "purchase" (plan=pro only in 1 and 7)
            builder.add(
                "purchase",
                did,
                start + dt.timedelta(seconds=1),
                {"plan": "pro" if i != 3 else "free"},
                session_id=session_id,
            )
    for did in PEOPLE:
        builder.person_for(did)
    builder.add("$pageview", "cid", NOW - dt.timedelta(hours=1))
    builder.flush()
    ch.insert(
        "persons",
        {
            "project_id": [project.id] * len(PEOPLE),
            "id": [builder.person_for(d) for d in PEOPLE],
            "created_at": [NOW] * len(PEOPLE),
            "properties": [json.dumps(p) for p in PEOPLE.values()],
            "is_identified": [1] * len(PEOPLE),
            "is_deleted": [0] * len(PEOPLE),
            "version": [1] * len(PEOPLE),
        },
    )
    return {
        "project_id": project_id,
        "sessions": sessions,
        "persons": {d: builder.person_for(d) for d in PEOPLE},
    }


@pytest.fixture
def project(request, make_project, alice, bob):
    """alice is admin, bob an exec, as in tests/conftest.py. A test that reads `data` gets
    the project the module's recordings are in (its database row made again for the
    test); any other test gets a fresh, empty project it may write to."""
    pk = request.getfixturevalue("recordings")["project_id"] if "data" in request.fixturenames else None
    return make_project("Acme", members={alice: Role.ADMIN, bob: Role.EXEC}, pk=pk)


@pytest.fixture
def data(recordings, project):
    return copy.deepcopy(recordings)


def api(client, project, **params):
    return client.get(f"/api/projects/{project.id}/recordings/", params)


def expected(data, *, keep=lambda s: True, order="-start_time", days=7):
    rows = [
        (sid, s)
        for sid, s in data["sessions"].items()
        if s["start_ms"] >= (NOW - dt.timedelta(days=days)).timestamp() * 1000 and keep(s)
    ]
    primary = {
        "-start_time": lambda s: -s["start_ms"],
        "start_time": lambda s: s["start_ms"],
        "-duration": lambda s: -(s["end_ms"] - s["start_ms"]),
        "duration": lambda s: s["end_ms"] - s["start_ms"],
        "-active": lambda s: -s["active_ms"],
        "-errors": lambda s: (-s["console_error_count"], -s["start_ms"]),
    }[order]
    # ties break on session_id, in the direction of the order
    rows.sort(key=lambda r: r[0], reverse=order.startswith("-"))
    rows.sort(key=lambda r: primary(r[1]))
    return [sid for sid, _ in rows]


def ids(response) -> list[str]:
    assert response.status_code == 200, response.content
    return [r["session_id"] for r in response.json()["results"]]


def person_of(data, did):
    return data["persons"].get("ann" if did == "anon-ann" else did)


@pytest.mark.parametrize(
    "order", ["-start_time", "start_time", "-duration", "duration", "-active", "-errors"]
)
def test_sorts_match_the_reference(alice_client, project, data, order):
    assert ids(api(alice_client, project, order=order)) == expected(data, order=order)


@pytest.mark.parametrize(
    ("params", "keep"),
    [
        ({"min_duration": "45"}, lambda s: s["end_ms"] - s["start_ms"] >= 45_000),
        ({"max_duration": "45"}, lambda s: s["end_ms"] - s["start_ms"] <= 45_000),
        (
            {"min_duration": "10", "max_duration": "120"},
            lambda s: 10_000 <= s["end_ms"] - s["start_ms"] <= 120_000,
        ),
        ({"min_active": "2"}, lambda s: s["active_ms"] >= 2000),
        ({"has_errors": "true"}, lambda s: s["console_error_count"] > 0),
        ({"has_rage_clicks": "1"}, lambda s: s["rage_click_count"] > 0),
        ({"url": "CHECKOUT"}, lambda s: any("checkout" in u for u in s["urls"])),
        ({"distinct_id": "ben"}, lambda s: s["distinct_id"] == "ben"),
        ({"email": "ANN@example.com"}, lambda s: s["distinct_id"] in ("ann", "anon-ann")),
        (
            {"has_errors": "true", "url": "shop.test"},
            lambda s: s["console_error_count"] > 0 and "shop.test" in s["first_url"],
        ),
        ({"event": "purchase"}, lambda s: s["index"] in (1, 3, 7)),
        (
            {"event": "purchase", "event_properties": json.dumps([{"key": "plan", "value": "pro"}])},
            lambda s: s["index"] in (1, 7),
        ),
    ],
)
def test_filters_match_the_reference(alice_client, project, data, params, keep):
    assert ids(api(alice_client, project, **params)) == expected(data, keep=keep)


def test_person_id_filter_includes_merged_distinct_ids(alice_client, project, data):
    got = ids(api(alice_client, project, person_id=str(data["persons"]["ann"])))
    assert got == expected(data, keep=lambda s: s["distinct_id"] in ("ann", "anon-ann"))
    rows = api(alice_client, project, person_id=str(data["persons"]["ann"])).json()["results"]
    assert {r["person_id"] for r in rows} == {str(data["persons"]["ann"])}


def test_cohort_filter(alice_client, project, data):
    cohort = Cohort.objects.create(
        project=project, name="Buyers", kind=Cohort.Kind.STATIC, version=1, status=Cohort.Status.READY
    )
    ch.insert(
        "cohort_people",
        {
            "project_id": [project.id],
            "cohort_id": [cohort.pk],
            "version": [1],
            "person_id": [data["persons"]["ben"]],
        },
    )
    assert ids(api(alice_client, project, cohort=str(cohort.pk))) == expected(
        data, keep=lambda s: s["distinct_id"] == "ben"
    )
    assert api(alice_client, project, cohort="999999").status_code == 400


def test_date_range_and_pagination(alice_client, project, data):
    everything = expected(data, days=30)
    assert ids(api(alice_client, project, date_from="-30d")) == everything
    first = api(alice_client, project, date_from="-30d", limit="5").json()
    assert [r["session_id"] for r in first["results"]] == everything[:5] and first["has_more"]
    second = alice_client.get(first["next"]).json()
    assert [r["session_id"] for r in second["results"]] == everything[5:10]
    day = (NOW - dt.timedelta(days=10)).date().isoformat()
    assert len(ids(api(alice_client, project, date_from=day, date_to=day))) == 1


def test_result_fields(alice_client, project, data):
    row = api(alice_client, project, distinct_id="ann", order="-duration").json()["results"][0]
    s = data["sessions"][row["session_id"]]
    assert row["duration_seconds"] == 300 and row["first_url"] == "https://shop.test/checkout"
    assert row["click_count"] == s["click_count"] == 8 and row["console_error_count"] == 2
    assert row["active_seconds"] == s["active_ms"] / 1000 and row["event_count"] == s["event_count"]
    assert row["keypress_count"] == 0 and row["rage_click_count"] == 1 and row["person_name"] == "Ann"
    assert set(row) >= {
        "session_id",
        "person_id",
        "distinct_id",
        "start_time",
        "end_time",
        "duration_seconds",
        "active_seconds",
        "click_count",
        "keypress_count",
        "console_error_count",
        "first_url",
        "event_count",
    }
    assert row["player_url"] == f"/project/{project.id}/replay/{row['session_id']}"


def test_support_role_sees_masked_email_and_url_query(client, project, data, make_user):
    sam = make_user("sam@example.com")
    Membership.objects.create(user=sam, project=project, role=Role.SUPPORT)
    client.force_login(sam)
    rows = api(client, project, distinct_id="ann", order="duration").json()["results"]
    assert rows[0]["first_url"].startswith("https://shop.test/?email=•") and "ann@" not in json.dumps(rows)
    page = client.get(f"/project/{project.id}/replay/", {"distinct_id": "ann"}).content.decode()
    assert "ann@example.com" not in page and "Ann" not in page and "https://shop.test/?email=•" in page


def test_email_filter_is_offered_only_to_roles_that_may_use_it(client, project, make_user):
    # a role without view-PII gets a 403 for ?email=, so its form has no email box
    for email, role, offered in (
        ("sue@example.com", Role.SUPPORT, False),
        ("al@example.com", Role.ANALYST, True),
    ):
        user = make_user(email)
        Membership.objects.create(user=user, project=project, role=role)
        client.force_login(user)
        page = client.get(f"/project/{project.id}/replay/").content.decode()
        assert ('name="email"' in page) is offered, role


# ---- auth and bad input ----


def test_api_needs_credentials(client, project):
    assert api(client, project).status_code == 401


def test_api_stranger_404_exec_403(client, project, charlie, bob, other_project):
    client.force_login(charlie)
    assert api(client, project).status_code == 404
    client.force_login(bob)  # exec: no VIEW_RECORDINGS
    assert api(client, project).status_code == 403


def test_api_bearer_key(client, project, api_key, data):
    response = client.get(f"/api/projects/{project.id}/recordings/", HTTP_AUTHORIZATION=f"Bearer {api_key}")
    assert response.status_code == 200 and response.json()["results"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"min_duration": "abc"}, "min_duration"),
        ({"min_duration": "-1"}, "min_duration"),
        ({"min_duration": "nan"}, "min_duration"),
        ({"min_duration": "50", "max_duration": "10"}, "max_duration"),
        ({"order": "session_id; DROP"}, "order"),
        ({"date_from": "yesterday-ish"}, "date_from"),
        ({"person_id": "not-a-uuid"}, "person_id"),
        ({"limit": "0"}, "limit"),
        ({"offset": "x"}, "offset"),
        ({"has_errors": "maybe"}, "has_errors"),
        ({"event": "x", "event_properties": "{not json"}, "event_properties"),
        ({"event_properties": json.dumps([{"key": "plan", "value": "pro"}])}, "event"),
        ({"cohort": "abc"}, "cohort"),
    ],
)
def test_api_bad_params_are_400_with_the_field(alice_client, project, params, field):
    response = api(alice_client, project, **params)
    assert response.status_code == 400
    assert field in json.dumps(response.json().get("errors", {}))


# ---- the page ----


def test_page_lists_recordings_with_links(alice_client, project, data):
    response = alice_client.get(f"/project/{project.id}/replay/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" in html and 'id="filters"' in html
    for session_id in expected(data):
        assert f"/project/{project.id}/replay/{session_id}" in html


def test_page_htmx_renders_only_the_results(alice_client, project, data):
    response = alice_client.get(
        f"/project/{project.id}/replay/", {"has_errors": "true"}, HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert (
        response.status_code == 200
        and "<html" not in html
        and html.lstrip().startswith('<section id="results"')
    )
    assert html.count("data-session=") == len(expected(data, keep=lambda s: s["console_error_count"] > 0))


def test_page_bad_params_show_form_errors_with_400(alice_client, project):
    response = alice_client.get(f"/project/{project.id}/replay/", {"min_duration": "abc"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "min_duration" in html and "must be a number of seconds" in html and 'id="filters"' in html


def test_page_stranger_404_exec_403(client, project, charlie, bob):
    client.force_login(charlie)
    assert client.get(f"/project/{project.id}/replay/").status_code == 404
    client.force_login(bob)
    assert client.get(f"/project/{project.id}/replay/").status_code == 403


def test_page_anonymous_redirects_to_login(client, project):
    assert client.get(f"/project/{project.id}/replay/").status_code == 302


def test_openapi_describes_the_recordings_api(client):
    schema = client.get("/api/schema/").json()
    operation = schema["paths"]["/api/projects/{project_id}/recordings/"]["get"]
    assert {p["name"] for p in operation["parameters"]} >= {
        "person_id",
        "distinct_id",
        "date_from",
        "date_to",
        "min_duration",
        "has_errors",
    }


def test_filters_see_only_the_latest_summary_of_a_session(alice_client, project):
    """A late chunk makes the session longer: the older summary row (5 s) must not match."""
    start = NOW - dt.timedelta(hours=1)
    first = session_events(start, seconds=5, clicks=1, errors=0, rage=False, url="https://shop.test/")
    send(project, "growing", [(uuid.uuid4(), first)])
    assert ids(api(alice_client, project, max_duration="10")) == ["growing"]
    later = [
        {
            "type": 3,
            "data": {"source": 3, "id": 1, "x": 0, "y": 9},
            "timestamp": int(start.timestamp() * 1000) + 100_000,
        }
    ]
    send(project, "growing", [(uuid.uuid4(), later)])
    assert ids(api(alice_client, project, max_duration="10")) == []
    assert [r["duration_seconds"] for r in api(alice_client, project).json()["results"]] == [100]


FILTER_CHOICES = {
    "min_duration": st.sampled_from([None, "0", "8", "45", "120.5"]),
    "max_duration": st.sampled_from([None, "30", "300", "1000"]),
    "min_active": st.sampled_from([None, "0", "0.1", "3"]),
    "has_errors": st.sampled_from([None, "true", "false"]),
    "has_rage_clicks": st.sampled_from([None, "true"]),
    "url": st.sampled_from([None, "checkout", "SHOP.test/p", "/", "nothing-like-this"]),
    "distinct_id": st.sampled_from([None, "ann", "cid", "nobody"]),
    "order": st.sampled_from(["-start_time", "start_time", "-duration", "duration", "-active", "-errors"]),
    "date_from": st.sampled_from(["-7d", "-30d", "-24h"]),
}


def keep_for(params: dict):
    def keep(s) -> bool:
        duration = s["end_ms"] - s["start_ms"]
        checks = [
            params.get("min_duration") is None or duration >= round(float(params["min_duration"]) * 1000),
            params.get("max_duration") is None or duration <= round(float(params["max_duration"]) * 1000),
            params.get("min_active") is None or s["active_ms"] >= round(float(params["min_active"]) * 1000),
            params.get("has_errors") != "true" or s["console_error_count"] > 0,
            params.get("has_rage_clicks") != "true" or s["rage_click_count"] > 0,
            params.get("url") is None or any(params["url"].lower() in u.lower() for u in s["urls"]),
            params.get("distinct_id") is None or s["distinct_id"] == params["distinct_id"],
        ]
        return all(checks)

    return keep


@settings(
    max_examples=examples(40),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(choice=st.fixed_dictionaries(FILTER_CHOICES))
def test_random_filter_combinations_match_the_reference(alice_client, project, data, choice):
    params = {k: v for k, v in choice.items() if v is not None}
    if (
        "min_duration" in params
        and "max_duration" in params
        and float(params["min_duration"]) > float(params["max_duration"])
    ):
        assert api(alice_client, project, **params).status_code == 400
        return
    got = ids(api(alice_client, project, **params))
    # -7d/-30d start at a midnight, -24h at a moment; no fixture session is near either edge
    days = {"-7d": 7, "-30d": 30, "-24h": 1}[params["date_from"]]
    assert got == expected(data, keep=keep_for(params), order=params["order"], days=days)


def test_page_links_persons_for_roles_that_see_insights(alice_client, project, data):
    html = alice_client.get(f"/project/{project.id}/replay/", {"distinct_id": "ann"}).content.decode()
    assert f"/project/{project.id}/persons/{data['persons']['ann']}/" in html


def test_email_distinct_ids_are_masked_without_view_pii(client, project, make_user):
    send(
        project,
        "by-email",
        [
            (
                uuid.uuid4(),
                session_events(
                    NOW - dt.timedelta(hours=1),
                    seconds=5,
                    clicks=1,
                    errors=0,
                    rage=False,
                    url="https://a.test/",
                ),
            )
        ],
        distinct_id="zoe@example.com",
    )
    sam = make_user("sam@example.com")
    Membership.objects.create(user=sam, project=project, role=Role.SUPPORT)
    client.force_login(sam)
    row = api(client, project).json()["results"][0]
    assert "zoe" not in json.dumps(row) and row["person_name"].startswith("•")
    assert "zoe@example.com" not in client.get(f"/project/{project.id}/replay/").content.decode()


def test_people_filter_keeps_the_recordings_of_a_drill_downs_people(alice_client, client, bob, project, data):
    """`?people=<kind>&people_q=<drill-down query>`: the recordings of exactly the persons of
    that list (an insight's "Watch recordings" link), re-resolved for this project."""
    from urllib.parse import urlencode  # noqa: PLC0415

    funnel = json.dumps(
        {"kind": "FunnelsQuery", "date_from": "-7d", "steps": [{"event": "purchase"}, {"event": "$pageview"}]}
    )
    buyers = urlencode({"q": funnel, "step": "0", "status": "converted"})
    then_viewed = urlencode({"q": funnel, "step": "1", "status": "converted"})
    assert ids(api(alice_client, project, people="funnels", people_q=buyers)) == expected(
        data, keep=lambda s: s["distinct_id"] in ("ann", "anon-ann", "ben", "cid")
    )
    assert ids(api(alice_client, project, people="funnels", people_q=then_viewed)) == expected(
        data, keep=lambda s: s["distinct_id"] == "cid"
    )
    page = alice_client.get(f"/project/{project.id}/replay/", {"people": "funnels", "people_q": then_viewed})
    assert page.status_code == 200 and "People of" in page.content.decode()
    assert api(alice_client, project, people="nope", people_q=buyers).status_code == 400
    assert api(alice_client, project, people="funnels", people_q="q={").status_code == 400
