"""The event explorer page: filters, keyset pages, the new-events poll, event detail."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.urls import reverse

from analytics_app import clickhouse as ch
from replay.summary import refresh_sessions
from tests.html import parse

from .conftest import insert_events


def rows(response) -> list[list[str]]:
    """The events table's rows (a load-more partial is rows alone) as cell texts, without
    the load-more row."""
    doc = parse(response)
    trs = doc.select("table.events-table tbody tr") if doc.has("table.events-table") else doc.find_all("tr")
    return [[td.text for td in tr.find_all("td")] for tr in trs if tr.attrs.get("id") != "load-more"]


def urls(response) -> list[str]:
    """The URL column of the events table, newest first."""
    doc = parse(response)
    column = [th.text for th in doc.select("table.events-table thead th")].index("URL")
    return [r[column] for r in rows(response)]


def url(project, **params):
    from urllib.parse import urlencode

    base = reverse("explorer:events", kwargs={"project_id": project.pk})
    return f"{base}?{urlencode(params)}" if params else base


@pytest.fixture
def sample(events, now):
    events.add(
        "signed_up",
        "u1",
        now - dt.timedelta(hours=3),
        {"plan": "pro", "$current_url": "https://a.example/signup", "$browser": "Chrome"},
    )
    events.add(
        "$pageview",
        "u1",
        now - dt.timedelta(hours=2),
        {"$current_url": "https://a.example/", "$browser": "Chrome", "$session_id": "s-1"},
    )
    events.add(
        "$pageview",
        "u2",
        now - dt.timedelta(hours=1),
        {"$current_url": "https://a.example/pricing", "$browser": "Safari", "plan": "free"},
    )
    events.add("old_event", "u2", now - dt.timedelta(days=20), {})
    events.flush()
    return events


def test_events_page_lists_newest_first_with_default_columns(alice_client, project, sample):
    page = alice_client.get(url(project))
    assert page.status_code == 200
    doc = parse(page)
    assert not doc.is_fragment
    # newest first; old_event is outside the default -7d range
    assert [th.text for th in doc.select("table.events-table thead th")] == [
        "Event", "Person", "URL", "Browser", "Time (UTC)"
    ]  # fmt: skip
    assert [r[:4] for r in rows(page)] == [
        ["$pageview", "u2", "https://a.example/pricing", "Safari"],
        ["$pageview", "u1", "https://a.example/", "Chrome"],
        ["signed_up", "u1", "https://a.example/signup", "Chrome"],
    ]
    # the autocomplete datalist knows every event name, whatever the range
    assert [o.attrs["value"] for o in doc.select("datalist#event-names option")] == [
        "$pageview", "old_event", "signed_up"
    ]  # fmt: skip


def test_htmx_request_gets_only_the_results_partial(alice_client, project, sample):
    partial = alice_client.get(url(project), headers={"HX-Request": "true"})
    assert partial.status_code == 200
    doc = parse(partial)
    assert doc.is_fragment and [c for c in doc.children if not isinstance(c, str)] == [
        doc.one("section#results")
    ]
    assert [r[0] for r in rows(partial)] == ["$pageview", "$pageview", "signed_up"]
    assert not doc.has("#filters")


def test_stranger_gets_404(client, charlie, project, other_project, sample):
    client.force_login(charlie)
    assert client.get(url(project)).status_code == 404
    assert (
        client.get(
            reverse("explorer:event", kwargs={"project_id": project.pk, "event_uuid": uuid.uuid4()})
        ).status_code
        == 404
    )


@pytest.mark.parametrize(
    "params",
    [
        {"date_from": "yesterday-ish"},
        {"preset": "custom", "date_from": "2024-13-45"},
        {"after": "not-a-cursor"},
        {"properties": "{not json"},
        {"properties": json.dumps([{"key": "plan", "operator": "nope", "value": "x"}])},
        {"limit": "0"},
        {"limit": "abc"},
    ],
)
def test_bad_params_are_400(alice_client, project, params):
    page = alice_client.get(url(project, **params))
    assert page.status_code == 400
    assert parse(page).find_all(class_="message error")


def test_tampered_cursor_is_400(alice_client, project, sample):
    first = alice_client.post(
        reverse("api_query", kwargs={"project_id": project.pk}),
        {"kind": "EventsQuery", "limit": 1},
        content_type="application/json",
    ).json()
    cursor = first["next"]
    tampered = cursor[:-3] + ("AAA" if cursor[-3:] != "AAA" else "BBB")
    assert alice_client.get(url(project, after=cursor)).status_code == 200
    assert alice_client.get(url(project, after=tampered)).status_code == 400


def test_event_name_filter(alice_client, project, sample):
    assert urls(alice_client.get(url(project, event="signed_up"))) == ["https://a.example/signup"]


def test_property_filter_rows_and_json(alice_client, project, sample):
    by_fields = alice_client.get(url(project, prop_key="plan", prop_op="exact", prop_value="free"))
    assert urls(by_fields) == ["https://a.example/pricing"]
    as_json = alice_client.get(
        url(project, properties=json.dumps([{"key": "$browser", "operator": "icontains", "value": "chro"}]))
    )
    assert urls(as_json) == ["https://a.example/", "https://a.example/signup"]


def test_extra_property_columns(alice_client, project, sample):
    response = alice_client.get(url(project, columns="plan"))
    header = [th.text for th in parse(response).select("table.events-table thead th")]
    assert header == ["Event", "Person", "URL", "Browser", "plan", "Time (UTC)"]
    assert [r[4] for r in rows(response)] == ["free", "", "pro"]


def test_person_filter_by_distinct_id_and_person_id(alice_client, project, sample):
    by_did = alice_client.get(url(project, person="u2"))
    assert urls(by_did) == ["https://a.example/pricing"]
    by_person = alice_client.get(url(project, person=str(sample.person_for("u1"))))
    assert urls(by_person) == ["https://a.example/", "https://a.example/signup"]


def test_load_more_renders_rows_after_the_cursor(alice_client, project, now):
    insert_events(project.id, 250, start=now)
    first = alice_client.get(url(project, limit=100))
    assert first.status_code == 200 and len(rows(first)) == 100
    more_url = parse(first).one("#load-more a").attrs["hx-get"]
    more = alice_client.get(more_url, headers={"HX-Request": "true"})
    doc = parse(more)
    assert more.status_code == 200 and doc.is_fragment and not doc.has("table")
    assert len(rows(more)) == 100 and doc.has("#load-more")


def test_new_events_poll_counts_events_newer_than_the_newest_shown(alice_client, project, sample, now):
    poller = parse(alice_client.get(url(project))).one("#new-events")
    poll = poller.attrs["hx-get"]
    assert poller.attrs["hx-trigger"] == "every 10s"
    quiet = alice_client.get(poll, headers={"HX-Request": "true"})
    assert (
        quiet.status_code == 200 and parse(quiet).is_fragment and parse(quiet).one("#new-events").text == ""
    )
    sample.add(
        "$pageview", "u3", now + dt.timedelta(minutes=1), {"$current_url": "https://a.example/new"}
    ).flush()
    sample.add("signed_up", "u3", now + dt.timedelta(minutes=2), {}).flush()
    fresh = parse(alice_client.get(poll, headers={"HX-Request": "true"}))
    assert fresh.one("#new-events").text.startswith("2 new events")
    filtered_poll = (
        parse(alice_client.get(url(project, event="signed_up"))).one("#new-events").attrs["hx-get"]
    )
    # the filtered page already shows the newest signed_up, so nothing is new for it
    assert (
        parse(alice_client.get(filtered_poll, headers={"HX-Request": "true"})).one("#new-events").text == ""
    )


def test_event_detail_shows_properties_person_and_no_recording_link_without_snapshots(
    alice_client, project, sample
):
    event_uuid = ch.query(
        "SELECT uuid FROM events WHERE project_id = {project_id:UInt32} AND session_id = 's-1'",
        {"project_id": project.id},
    ).scalar()
    page = alice_client.get(
        reverse("explorer:event", kwargs={"project_id": project.pk, "event_uuid": event_uuid})
    )
    assert page.status_code == 200
    doc = parse(page)
    assert json.loads(doc.one("pre.code").text)["$browser"] == "Chrome"
    facts = dict(zip(doc.texts("dl.props dt"), doc.select("dl.props dd"), strict=False))
    person = reverse(
        "explorer:person", kwargs={"project_id": project.pk, "person_id": sample.person_for("u1")}
    )
    assert facts["Person"].find("a").attrs["href"] == person
    assert facts["Session"].text == "s-1 (no recording)" and not doc.has(".recording-link")
    partial = alice_client.get(
        reverse("explorer:event", kwargs={"project_id": project.pk, "event_uuid": event_uuid}),
        headers={"HX-Request": "true"},
    )
    assert partial.status_code == 200 and parse(partial).is_fragment and parse(partial).has("#event-detail")
    unknown = alice_client.get(
        reverse("explorer:event", kwargs={"project_id": project.pk, "event_uuid": uuid.uuid4()})
    )
    assert unknown.status_code == 404


def test_event_detail_links_the_recording_when_snapshots_exist(alice_client, project, sample, now):
    event_uuid = ch.query(
        "SELECT uuid FROM events WHERE project_id = {project_id:UInt32} AND session_id = 's-1'",
        {"project_id": project.id},
    ).scalar()
    start = now - dt.timedelta(hours=2, minutes=1)
    ch.insert(
        "session_replay_snapshots",
        {
            "project_id": [project.id],
            "session_id": ["s-1"],
            "window_id": ["w"],
            "distinct_id": ["u1"],
            "timestamp": [start],
            "event_type": [2],
            "data": ["{}"],
            "uuid": [str(uuid.uuid4())],
        },
    )
    refresh_sessions({project.id: {"s-1"}})  # what the ingestion writer does after storing chunks
    doc = parse(
        alice_client.get(
            reverse("explorer:event", kwargs={"project_id": project.pk, "event_uuid": event_uuid})
        )
    )
    event_ms = round(
        ch.query(
            "SELECT toUnixTimestamp64Milli(timestamp) FROM events WHERE uuid = {u:UUID} AND project_id = {project_id:UInt32}",
            {"u": event_uuid, "project_id": project.id},
        ).scalar()
    )
    assert doc.find("a", href=f"/project/{project.pk}/replay/s-1?at={event_ms}") is not None
