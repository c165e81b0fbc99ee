"""The event explorer page: filters, keyset pages, the new-events poll, event detail."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from django.urls import reverse

from analytics_app import clickhouse as ch
from replay.summary import refresh_sessions

from .conftest import insert_events


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
    html = page.content.decode()
    assert "<html" in html and 'id="event-names"' in html
    assert html.index("https://a.example/pricing") < html.index("https://a.example/signup")
    assert "Safari" in html and "<code>old_event</code>" not in html  # outside the default -7d range
    assert '<option value="signed_up">' in html  # autocomplete datalist


def test_htmx_request_gets_only_the_results_partial(alice_client, project, sample):
    partial = alice_client.get(url(project), headers={"HX-Request": "true"})
    assert partial.status_code == 200
    html = partial.content.decode()
    assert "<html" not in html and 'id="results"' in html and "signed_up" in html
    assert 'id="filters"' not in html


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
    assert b"message error" in page.content


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
    html = alice_client.get(url(project, event="signed_up")).content.decode()
    assert "https://a.example/signup" in html and "https://a.example/pricing" not in html


def test_property_filter_rows_and_json(alice_client, project, sample):
    rows = alice_client.get(
        url(project, prop_key="plan", prop_op="exact", prop_value="free")
    ).content.decode()
    assert "https://a.example/pricing" in rows and "https://a.example/signup" not in rows
    as_json = alice_client.get(
        url(project, properties=json.dumps([{"key": "$browser", "operator": "icontains", "value": "chro"}]))
    ).content.decode()
    assert (
        "https://a.example/signup" in as_json and "https://a.example/" in as_json and "pricing" not in as_json
    )


def test_extra_property_columns(alice_client, project, sample):
    html = alice_client.get(url(project, columns="plan")).content.decode()
    assert "<th>plan</th>" in html and ">pro<" in html and ">free<" in html


def test_person_filter_by_distinct_id_and_person_id(alice_client, project, sample):
    by_did = alice_client.get(url(project, person="u2")).content.decode()
    assert "pricing" in by_did and "signup" not in by_did
    by_person = alice_client.get(url(project, person=str(sample.person_for("u1")))).content.decode()
    assert "signup" in by_person and "pricing" not in by_person


def test_load_more_renders_rows_after_the_cursor(alice_client, project, now):
    insert_events(project.id, 250, start=now)
    first = alice_client.get(url(project, limit=100))
    assert first.status_code == 200 and b'id="load-more"' in first.content
    more_url = (
        first.content.decode()
        .split('id="load-more"')[1]
        .split('hx-get="')[1]
        .split('"')[0]
        .replace("&amp;", "&")
    )
    more = alice_client.get(more_url, headers={"HX-Request": "true"})
    html = more.content.decode()
    assert more.status_code == 200 and "<html" not in html and "<table" not in html
    assert html.count("<tr>") == 100 and 'id="load-more"' in html


def test_new_events_poll_counts_events_newer_than_the_newest_shown(alice_client, project, sample, now):
    page = alice_client.get(url(project)).content.decode()
    poll = page.split('id="new-events"')[1].split('hx-get="')[1].split('"')[0].replace("&amp;", "&")
    assert 'hx-trigger="every 10s"' in page
    quiet = alice_client.get(poll, headers={"HX-Request": "true"})
    assert quiet.status_code == 200 and b"new event" not in quiet.content and b"<html" not in quiet.content
    sample.add(
        "$pageview", "u3", now + dt.timedelta(minutes=1), {"$current_url": "https://a.example/new"}
    ).flush()
    sample.add("signed_up", "u3", now + dt.timedelta(minutes=2), {}).flush()
    fresh = alice_client.get(poll, headers={"HX-Request": "true"}).content.decode()
    assert "2 new events" in fresh
    filtered_poll = (
        alice_client.get(url(project, event="signed_up"))
        .content.decode()
        .split('id="new-events"')[1]
        .split('hx-get="')[1]
        .split('"')[0]
        .replace("&amp;", "&")
    )
    # the filtered page already shows the newest signed_up, so nothing is new for it
    assert "new event" not in alice_client.get(filtered_poll, headers={"HX-Request": "true"}).content.decode()


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
    html = page.content.decode()
    assert page.status_code == 200
    assert "&quot;$browser&quot;: &quot;Chrome&quot;" in html
    assert (
        reverse("explorer:person", kwargs={"project_id": project.pk, "person_id": sample.person_for("u1")})
        in html
    )
    assert "s-1" in html and "recording-link" not in html
    partial = alice_client.get(
        reverse("explorer:event", kwargs={"project_id": project.pk, "event_uuid": event_uuid}),
        headers={"HX-Request": "true"},
    )
    assert partial.status_code == 200 and b"<html" not in partial.content
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
    html = alice_client.get(
        reverse("explorer:event", kwargs={"project_id": project.pk, "event_uuid": event_uuid})
    ).content.decode()
    event_ms = round(
        ch.query(
            "SELECT toUnixTimestamp64Milli(timestamp) FROM events WHERE uuid = {u:UUID} AND project_id = {project_id:UInt32}",
            {"u": event_uuid, "project_id": project.id},
        ).scalar()
    )
    assert f'href="/project/{project.pk}/replay/s-1?at={event_ms}"' in html
