"""Persons list, search, person page (merged identities, timeline, recordings), the persons API, PII."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest
from django.urls import reverse

from analytics_app import clickhouse as ch
from explorer.queries import RecordingsQueryRunner
from replay.summary import refresh_sessions
from tests.html import parse

from .conftest import insert_person


@pytest.fixture
def people(project, events, now):
    """ann: two distinct_ids merged into one person; ben: one distinct_id."""
    events.add(
        "$pageview",
        "anon-1",
        now - dt.timedelta(days=2),
        {"$current_url": "https://a.example/anon", "$session_id": "sess-a"},
    )
    events.merge("ann@id", into="anon-1")
    events.add(
        "signed_up", "ann@id", now - dt.timedelta(days=1), {"$current_url": "https://a.example/signup"}
    )
    events.add("$pageview", "ben", now - dt.timedelta(hours=1), {"$current_url": "https://a.example/ben"})
    events.flush()
    ann, ben = events.person_for("anon-1"), events.person_for("ben")
    insert_person(
        project.id,
        ann,
        {"email": "Ann@Example.com", "name": "Ann Example", "plan": "pro"},
        created_at=now - dt.timedelta(days=2),
    )
    insert_person(
        project.id, ben, {"email": "ben@example.com", "plan": "free"}, created_at=now - dt.timedelta(hours=1)
    )
    return {"ann": ann, "ben": ben}


def persons_url(project, **params):
    from urllib.parse import urlencode

    return reverse("explorer:persons", kwargs={"project_id": project.pk}) + (
        "?" + urlencode(params) if params else ""
    )


def person_url(project, person_id, **params):
    from urllib.parse import urlencode

    return reverse("explorer:person", kwargs={"project_id": project.pk, "person_id": person_id}) + (
        "?" + urlencode(params) if params else ""
    )


def person_rows(response) -> list[tuple[str, str, str]]:
    """(person link, name / email, distinct ids) per row of the persons list."""
    return [
        (tr.find("a").attrs["href"], tr.find_all("td")[1].text, tr.find_all("td")[2].text)
        for tr in parse(response).select("table tbody tr")
    ]


def timeline_urls(response) -> list[str]:
    """The URL column of a person page's timeline (or a load-more partial's rows)."""
    doc = parse(response)
    trs = doc.select("table#timeline tbody tr") if doc.has("table#timeline") else doc.find_all("tr")
    return [tr.find_all("td")[2].text for tr in trs if tr.attrs.get("id") != "load-more"]


def test_persons_page_lists_newest_first_with_counts(alice_client, project, people):
    page = alice_client.get(persons_url(project))
    assert page.status_code == 200 and not parse(page).is_fragment
    assert person_rows(page) == [
        (person_url(project, people["ben"]), "ben@example.com identified", "1"),
        (person_url(project, people["ann"]), "Ann Example identified", "2"),
    ]


def test_persons_htmx_partial_stranger_and_bad_params(client, alice, charlie, project, other_project, people):
    client.force_login(alice)
    partial = client.get(persons_url(project, search="ben"), headers={"HX-Request": "true"})
    assert partial.status_code == 200 and parse(partial).is_fragment
    assert [name for _, name, _ in person_rows(partial)] == ["ben@example.com identified"]
    assert client.get(persons_url(project, after="bogus")).status_code == 400
    assert client.get(persons_url(project, limit="0")).status_code == 400
    assert client.get(person_url(project, uuid.uuid4())).status_code == 404
    client.force_login(charlie)
    assert client.get(persons_url(project)).status_code == 404
    assert client.get(person_url(project, people["ann"])).status_code == 404


@pytest.mark.parametrize(
    ("search", "found"),
    [("ann@example", "ann"), ("ANN EXAMPLE", "ann"), ("anon-1", "ann"), ("ben", "ben"), ("free", "ben")],
)
def test_search_by_property_substring_or_exact_distinct_id(alice_client, project, people, search, found):
    body = alice_client.get(
        reverse("explorer:api_persons", kwargs={"project_id": project.pk}), {"search": search}
    ).json()
    assert [r["id"] for r in body["results"]] == [str(people[found])]


def test_search_by_distinct_id_is_exact(alice_client, project, people):
    api = reverse("explorer:api_persons", kwargs={"project_id": project.pk})
    assert alice_client.get(api, {"distinct_id": "anon"}).json()["results"] == []
    (ann,) = alice_client.get(api, {"distinct_id": "ann@id"}).json()["results"]
    assert ann["id"] == str(people["ann"]) and sorted(ann["distinct_ids"]) == ["ann@id", "anon-1"]
    assert set(ann) == {"id", "distinct_ids", "properties", "created_at", "is_identified"}


def test_persons_api_pages_with_a_cursor(alice_client, project, people):
    api = reverse("explorer:api_persons", kwargs={"project_id": project.pk})
    first = alice_client.get(api, {"limit": 1}).json()
    assert [r["id"] for r in first["results"]] == [str(people["ben"])] and first["next"]
    second = alice_client.get(api, {"limit": 1, "after": first["next"]}).json()
    assert [r["id"] for r in second["results"]] == [str(people["ann"])] and second["next"] is None
    assert alice_client.get(api, {"after": "x"}).status_code == 400


def test_person_api_one_person_and_404s(client, api_key, charlie, project, people):
    auth = {"HTTP_AUTHORIZATION": f"Bearer {api_key}"}
    one = client.get(
        reverse("explorer:api_person", kwargs={"project_id": project.pk, "person_id": people["ann"]}), **auth
    )
    assert one.status_code == 200 and one.json()["properties"]["email"] == "Ann@Example.com"
    for missing in (uuid.uuid4(), "not-a-uuid"):
        response = client.get(
            reverse("explorer:api_person", kwargs={"project_id": project.pk, "person_id": missing}), **auth
        )
        assert response.status_code == 404 and response.json()["error"]
    client.force_login(charlie)
    assert client.get(reverse("explorer:api_persons", kwargs={"project_id": project.pk})).status_code == 404


def test_merged_person_page_shows_both_distinct_ids_and_all_events(alice_client, project, people):
    page = alice_client.get(person_url(project, people["ann"]))
    assert page.status_code == 200
    doc = parse(page)
    assert sorted(doc.texts("code.distinct-id")) == ["ann@id", "anon-1"]
    assert timeline_urls(page) == ["https://a.example/signup", "https://a.example/anon"]
    # the snapshots table exists and holds no recording of it
    assert not doc.find_all("a", href=re.compile("/replay/sess-a"))


def test_person_sessions_come_from_events_without_a_snapshots_table(
    alice_client, project, people, monkeypatch
):
    monkeypatch.setattr(RecordingsQueryRunner, "available", staticmethod(lambda: False))
    doc = parse(alice_client.get(person_url(project, people["ann"])))
    assert doc.find("a", href=f"/project/{project.pk}/replay/sess-a") is not None


def test_person_timeline_loads_more_with_the_keyset_cursor(alice_client, project, events, now):
    for i in range(130):
        events.add("tick", "tim", now - dt.timedelta(minutes=i), {"$current_url": f"https://a.example/{i}"})
    events.flush()
    tim = events.person_for("tim")
    page = alice_client.get(person_url(project, tim))
    assert timeline_urls(page) == [f"https://a.example/{i}" for i in range(100)]
    more_url = parse(page).one("#load-more a").attrs["hx-get"]
    more = alice_client.get(more_url, headers={"HX-Request": "true"})
    assert parse(more).is_fragment and not parse(more).has("#load-more")
    assert timeline_urls(more) == [f"https://a.example/{i}" for i in range(100, 130)]


def test_person_recordings_come_from_recording_summaries_when_present(alice_client, project, people, now):
    ch.insert(
        "session_replay_snapshots",
        {
            "project_id": [project.id],
            "session_id": ["rec-1"],
            "window_id": ["w"],
            "distinct_id": ["ann@id"],
            "timestamp": [now - dt.timedelta(days=1)],
            "event_type": [2],
            "data": ["{}"],
            "uuid": [str(uuid.uuid4())],
        },
    )
    refresh_sessions({project.id: {"rec-1"}})  # what the ingestion writer does after storing chunks
    doc = parse(alice_client.get(person_url(project, people["ann"])))
    assert [a.attrs["href"] for a in doc.find_all("a", href=re.compile("/replay/.+"))] == [
        f"/project/{project.pk}/replay/rec-1"
    ]


def test_exec_sees_email_masked_and_admin_sees_it(client, alice, bob, project, people):
    api = reverse("explorer:api_persons", kwargs={"project_id": project.pk})
    client.force_login(bob)
    for body in (
        client.get(persons_url(project)).content.decode(),
        client.get(person_url(project, people["ann"])).content.decode(),
        str(client.get(api).json()),
    ):
        assert "Ann@Example.com" not in body and "ben@example.com" not in body and "Ann Example" not in body
        assert "•" in body
    assert (
        json.loads(parse(client.get(person_url(project, people["ann"]))).one("pre.code").text)["plan"]
        == "pro"
    )
    client.force_login(alice)
    assert "ben@example.com" in client.get(persons_url(project)).content.decode()
    assert "Ann@Example.com" in client.get(person_url(project, people["ann"])).content.decode()


def test_openapi_lists_the_persons_endpoints_and_events_query(client):
    schema = client.get(reverse("api_schema")).json()
    assert "/api/projects/{project_id}/persons/" in schema["paths"]
    assert "/api/projects/{project_id}/persons/{person_id}/" in schema["paths"]
    assert "EventsQuery" in schema["components"]["schemas"]
