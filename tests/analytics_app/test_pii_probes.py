"""Search boxes and filters cannot confirm a value the user sees masked (docs/access.md,
"Search and filters").

For each box a right guess and a wrong guess are sent by pm (PII masked, but exports and
recordings allowed): the two answers are indistinguishable, or both are a 403. The same
probe by admin tells them apart, so each probe is one that would work without the rule.
"""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest

from analytics_app.models import Membership
from governance.roles import ROLE_PERMISSIONS, Role
from tests.clock import at_test_time
from tests.conftest import EventBuilder
from tests.ingestion.conftest import fresh_ingestion_state  # noqa: F401 - autouse fixture
from tests.replay.test_list import session_events
from tests.replay.test_summary import send as send_recording

pytestmark = pytest.mark.django_db

JANE = "jane.probe@example.org"
WRONG = "joan.probe@example.org"
URL = "https://shop.example/checkout?token=secret42&step=2"
NOW = at_test_time(lambda now: now.replace(microsecond=0))
ROLE_PERMS_PM = ROLE_PERMISSIONS[Role.PM]


@pytest.fixture
def data(project, make_user):
    pm = make_user("pm@example.com")
    Membership.objects.create(user=pm, project=project, role=Role.PM)
    b = EventBuilder(project.id)
    b.merge("anon-jane", into=JANE)
    b.add(
        "$pageview",
        "anon-jane",
        NOW - dt.timedelta(minutes=20),
        {"$current_url": URL, "plan": "pro", "$session_id": "sess-probe"},
    )
    b.add(
        "$pageview",
        JANE,
        NOW - dt.timedelta(minutes=10),
        {
            "$current_url": f"https://shop.example/users/{JANE}",
            "email": JANE,
            "$set": {"name": "Jane Probe"},
            "$session_id": "sess-probe",
        },
    )
    b.add("signed_up", JANE, NOW - dt.timedelta(minutes=5), {"email": JANE, "$current_url": URL})
    b.flush()
    from analytics_app import clickhouse as ch  # noqa: PLC0415

    ch.insert(
        "persons",
        {
            "project_id": [project.id],
            "id": [b.person_for(JANE)],
            "created_at": [NOW],
            "properties": [json.dumps({"email": JANE, "name": "Jane Probe", "plan": "pro"})],
            "is_identified": [1],
            "is_deleted": [0],
            "version": [1],
        },
    )
    events = session_events(
        NOW - dt.timedelta(minutes=20), seconds=10, clicks=1, errors=0, rage=False, url=URL
    )
    send_recording(project, "sess-probe", [(uuid.uuid4(), events)], distinct_id=JANE)
    return {"pm": pm, "person": b.person_for(JANE)}


def query(client, project, body):
    return client.post(
        f"/api/projects/{project.pk}/query/", json.dumps(body), content_type="application/json"
    )


def answer(response):
    """What a prober learns from a response: the status, and for a 200 the result."""
    if response.status_code != 200:
        return response.status_code
    if response["Content-Type"].startswith("application/json"):
        body = response.json()
        return 200, json.dumps(body.get("results", body), sort_keys=True)
    context = response.context
    for key in ("persons", "rows"):
        if context is not None and key in context:
            return 200, len(context[key])
    # A partial rendered without a captured context: its text, the guesses blanked out.
    text = response.content.decode()
    for guess in (JANE, WRONG):
        text = text.replace(guess, "GUESS")
    return 200, text


def probe(client, user, right, wrong):
    """(answer to the right guess, answer to the wrong one) for this user."""
    client.force_login(user)
    return answer(right()), answer(wrong())


def assert_unprobeable(client, data, alice, right, wrong):
    pm_right, pm_wrong = probe(client, data["pm"], right, wrong)
    assert pm_right == pm_wrong, "pm can tell a right guess from a wrong one"
    admin_right, admin_wrong = probe(client, alice, right, wrong)
    assert admin_right != admin_wrong, "the probe would not distinguish the guesses even unmasked"
    return pm_right


@pytest.mark.parametrize("api", [False, True])
def test_persons_search_for_an_email_is_refused(client, project, data, alice, api):
    path = f"/api/projects/{project.pk}/persons/" if api else f"/project/{project.pk}/persons/"
    got = assert_unprobeable(
        client,
        data,
        alice,
        lambda: client.get(path, {"search": JANE}),
        lambda: client.get(path, {"search": WRONG}),
    )
    assert got == 403


@pytest.mark.parametrize("api", [False, True])
def test_persons_search_matches_no_property_text_one_character_at_a_time(client, project, data, alice, api):
    """The ~160-request attack: grow a prefix of a masked value one character at a time."""
    path = f"/api/projects/{project.pk}/persons/" if api else f"/project/{project.pk}/persons/"
    got = assert_unprobeable(
        client,
        data,
        alice,
        lambda: client.get(path, {"search": "jane.pr"}),
        lambda: client.get(path, {"search": "jane.px"}),
    )
    assert got in ((200, "[]"), (200, 0))


def test_persons_search_still_finds_a_person_by_id_without_view_pii(client, project, data):
    client.force_login(data["pm"])
    response = client.get(f"/api/projects/{project.pk}/persons/", {"search": str(data["person"])})
    assert [p["id"] for p in response.json()["results"]] == [str(data["person"])]
    assert JANE not in response.content.decode()


def test_persons_api_distinct_id_lookup_by_email_is_refused(client, project, data, alice):
    path = f"/api/projects/{project.pk}/persons/"
    got = assert_unprobeable(
        client,
        data,
        alice,
        lambda: client.get(path, {"distinct_id": JANE}),
        lambda: client.get(path, {"distinct_id": WRONG}),
    )
    assert got == 403


def test_events_person_box_and_events_query_distinct_id_are_refused_for_emails(client, project, data, alice):
    page = f"/project/{project.pk}/events/"
    assert (
        assert_unprobeable(
            client,
            data,
            alice,
            lambda: client.get(page, {"person": JANE, "date_from": "-1d"}),
            lambda: client.get(page, {"person": WRONG, "date_from": "-1d"}),
        )
        == 403
    )
    got = assert_unprobeable(
        client,
        data,
        alice,
        lambda: query(client, project, {"kind": "EventsQuery", "distinct_id": JANE, "date_from": "-1d"}),
        lambda: query(client, project, {"kind": "EventsQuery", "distinct_id": WRONG, "date_from": "-1d"}),
    )
    assert got == 403


@pytest.mark.parametrize("api", [False, True])
def test_recordings_email_filter_is_refused(client, project, data, alice, api):
    path = f"/api/projects/{project.pk}/recordings/" if api else f"/project/{project.pk}/replay/"
    got = assert_unprobeable(
        client,
        data,
        alice,
        lambda: client.get(path, {"email": JANE}),
        lambda: client.get(path, {"email": WRONG}),
    )
    assert got == 403


def test_recordings_url_filter_sees_query_values_masked(client, project, data, alice):
    path = f"/api/projects/{project.pk}/recordings/"
    got = assert_unprobeable(
        client,
        data,
        alice,
        lambda: client.get(path, {"url": "token=secret42"}),
        lambda: client.get(path, {"url": "token=secret99"}),
    )
    assert got == (200, "[]")
    client.force_login(data["pm"])  # the path part of a URL still filters
    assert len(client.get(path, {"url": "/checkout"}).json()["results"]) == 1


FILTERED_KINDS = {
    "TrendsQuery": {"kind": "TrendsQuery", "date_from": "-1d", "series": [{"event": "$pageview"}]},
    "FunnelsQuery": {
        "kind": "FunnelsQuery",
        "date_from": "-1d",
        "steps": [{"event": "$pageview"}, {"event": "signed_up"}],
    },
    "RetentionQuery": {
        "kind": "RetentionQuery",
        "date_from": "-1d",
        "period": "day",
        "target_event": {"event": "$pageview"},
        "returning_event": {"event": "$pageview"},
    },
    "PathsQuery": {"kind": "PathsQuery", "date_from": "-1d"},
    "EventsQuery": {"kind": "EventsQuery", "date_from": "-1d"},
}


@pytest.mark.parametrize("kind", sorted(FILTERED_KINDS))
@pytest.mark.parametrize(
    "guess",
    [
        {"key": "email", "operator": "exact", "value": "%s"},
        {"key": "email", "operator": "icontains", "value": "jane.pro"},
        {"key": "$set.name", "operator": "icontains", "value": "Jane"},
        {"key": "$set", "operator": "icontains", "value": "Jane"},
        {"key": "email", "operator": "exact", "value": "%s", "type": "person"},
        {"key": "$current_url", "operator": "icontains", "value": "%s"},
    ],
    ids=["email", "email-substring", "set-name", "set-bag", "person-email", "email-in-url"],
)
def test_filters_on_pii_are_refused_in_every_builder(client, project, data, alice, kind, guess):
    def body(value):
        f = {
            **guess,
            "value": guess["value"].replace("%s", value) if "%s" in guess["value"] else guess["value"],
        }
        if "%s" not in guess["value"] and value == WRONG:
            f["value"] = f["value"][:-1] + "~"
        return {**FILTERED_KINDS[kind], "properties": [f]}

    client.force_login(data["pm"])
    right = query(client, project, body(JANE))
    wrong = query(client, project, body(WRONG))
    assert (right.status_code, wrong.status_code) == (403, 403), (right.content, wrong.content)
    assert "view-PII" in right.json()["error"]


@pytest.mark.parametrize("operator", ["icontains", "regex", "exact"])
def test_url_filters_match_the_masked_url(client, project, data, alice, operator):
    values = {
        "icontains": ("token=secret42", "token=secret99"),
        "regex": ("secret4.", "secret9."),
        "exact": (URL, URL.replace("42", "99")),
    }[operator]

    def run(value):
        body = {
            **FILTERED_KINDS["TrendsQuery"],
            "series": [{"event": "signed_up"}],
            "properties": [{"key": "$current_url", "operator": operator, "value": value}],
        }
        return lambda: query(client, project, body)

    got = assert_unprobeable(client, data, alice, run(values[0]), run(values[1]))
    assert json.loads(got[1])[0]["total"] == 0
    client.force_login(data["pm"])  # what the user can read still filters
    body = {
        **FILTERED_KINDS["TrendsQuery"],
        "series": [{"event": "signed_up"}],
        "properties": [{"key": "$current_url", "operator": "icontains", "value": "/checkout?token="}],
    }
    assert query(client, project, body).json()["results"][0]["total"] == 1


def test_events_page_filter_rows_on_pii_are_refused(client, project, data):
    client.force_login(data["pm"])
    for value in (JANE, WRONG):
        response = client.get(
            f"/project/{project.pk}/events/",
            {"prop_key": "email", "prop_op": "exact", "prop_value": value, "date_from": "-1d"},
        )
        assert response.status_code == 403


def test_funnel_actors_breakdown_value_cannot_confirm_a_guess(client, project, data, alice):
    spec = {**FILTERED_KINDS["FunnelsQuery"], "breakdown": {"property": "email", "type": "person"}}
    actors = f"/project/{project.pk}/funnels/actors/"

    def drill(value):
        return lambda: client.get(actors, {"q": json.dumps(spec), "step": 0, "breakdown_value": value})

    assert assert_unprobeable(client, data, alice, drill(JANE), drill(WRONG)) == 403

    def api(value):
        body = {**spec, "kind": "FunnelsActorsQuery", "step": 0, "breakdown_value": value}
        return lambda: query(client, project, body)

    assert assert_unprobeable(client, data, alice, api(JANE), api(WRONG)) == 403
    # A URL breakdown: the raw URL with its query is refused; its masked label drills through a token.
    by_url = {**spec, "breakdown": {"property": "$current_url", "attribution": 1}}
    client.force_login(data["pm"])
    response = query(
        client, project, {**by_url, "kind": "FunnelsActorsQuery", "step": 0, "breakdown_value": URL}
    )
    assert response.status_code == 403
    results = query(client, project, by_url).json()["results"]
    masked = [
        r
        for r in results
        if r["breakdown_value"]
        and "secret42" not in r["breakdown_value"]
        and "token=" in r["breakdown_value"]
    ]
    assert masked and all(r["breakdown_key"].startswith("masked:") for r in masked)


def test_paths_points_cannot_probe_masked_parts(client, project, data, alice):
    def run(point):
        return lambda: query(
            client, project, {**FILTERED_KINDS["PathsQuery"], "end_point": f"/users/{point}"}
        )

    assert assert_unprobeable(client, data, alice, run(JANE), run(WRONG)) == 403

    def rule(regex):
        body = {**FILTERED_KINDS["PathsQuery"], "path_cleaning": [{"regex": regex, "alias": "/HIT"}]}
        return lambda: query(client, project, body)

    assert_unprobeable(client, data, alice, rule("^/users/jane.*"), rule("^/users/joan.*"))


def test_a_masked_filter_stays_masked_when_saved_and_reopened(project, data):
    """A pm cannot save `$current_url icontains "token=secret42"` and read the answer off the
    saved insight (stored specs parse unchecked, so the flag travels with the spec)."""
    from governance import presenter  # noqa: PLC0415
    from trends.queries import TrendsQueryRunner  # noqa: PLC0415
    from trends.spec import TrendsSpec  # noqa: PLC0415

    body = {
        **FILTERED_KINDS["TrendsQuery"],
        "series": [{"event": "signed_up"}],
        "properties": [{"key": "$current_url", "operator": "icontains", "value": "token=secret42"}],
    }
    pm_view = presenter.Presenter.for_request(project, ROLE_PERMS_PM)
    with presenter.viewing(pm_view):
        saved = TrendsSpec.from_json(body, project).to_json()
    assert saved["properties"][0]["masked"] is True
    with presenter.stored():
        reopened = TrendsSpec.from_json(saved, project)
    assert TrendsQueryRunner(project, reopened).run().to_json(pm_view)["results"][0]["total"] == 0
    with presenter.stored():  # the same filter saved by an analyst is evaluated on the raw URL
        raw = TrendsSpec.from_json(body, project)
    assert TrendsQueryRunner(project, raw).run().to_json(pm_view)["results"][0]["total"] == 1


def test_masked_funnel_breakdowns_drill_down_through_a_token(client, project, data):
    """A masked breakdown label's drill-down key is a server-side token, not the value."""
    spec = {**FILTERED_KINDS["FunnelsQuery"], "breakdown": {"property": "email", "type": "person"}}
    client.force_login(data["pm"])
    results = query(client, project, spec).json()["results"]
    (jane,) = [r for r in results if r["breakdown_key"] and r["breakdown_key"].startswith("masked:")]
    assert JANE not in json.dumps(results) and jane["breakdown_value"].endswith(
        jane["breakdown_key"][7:] + "›"
    )
    body = {**spec, "kind": "FunnelsActorsQuery", "step": 1, "breakdown_value": jane["breakdown_key"]}
    actors = query(client, project, body).json()
    assert actors["total"] == 1 and actors["results"][0]["person_id"] == str(data["person"])
    page = client.get(
        f"/project/{project.pk}/funnels/actors/",
        {"q": json.dumps(spec), "step": 1, "breakdown_value": jane["breakdown_key"]},
    )
    assert (
        page.status_code == 200
        and JANE not in page.content.decode()
        and "1 converted" in page.content.decode()
    )
    forged = query(client, project, {**body, "breakdown_value": "masked:00000000"})
    assert forged.status_code == 400 and "breakdown_value" in forged.json()["errors"]
