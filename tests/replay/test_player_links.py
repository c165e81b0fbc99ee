"""Deep links into the player: the event page opens the recording at the event
(`?at=<epoch ms>`, turned into an offset by the player); links are shown only to
users who may watch recordings."""

from __future__ import annotations

import datetime as dt
import html
import re

from django.urls import reverse

from analytics_app import clickhouse as ch

from .test_player import config_of
from .test_snapshots_api import recent_events, record


def recorded_event(project, events):
    recorded = recent_events()
    session_id = record(project, recorded, distinct_id="visitor-1")
    start_ms = recorded[0]["timestamp"]
    when = dt.datetime.fromtimestamp((start_ms + 2345) / 1000, dt.UTC)
    events.add("checkout clicked", "visitor-1", when, {"$session_id": session_id}).flush()
    event_uuid = ch.query(
        "SELECT uuid FROM events WHERE project_id = {project_id:UInt32} AND event = 'checkout clicked'",
        {"project_id": project.id},
    ).scalar()
    return session_id, event_uuid


def test_event_page_links_the_moment_and_the_player_opens_there(alice_client, project, events):
    session_id, event_uuid = recorded_event(project, events)
    page = alice_client.get(
        reverse("explorer:event", kwargs={"project_id": project.pk, "event_uuid": event_uuid})
    )
    link = html.unescape(re.search(r'href="([^"]+)" id="recording-link"', page.content.decode()).group(1))
    assert re.fullmatch(rf"/project/{project.pk}/replay/{session_id}\?at=\d+", link)
    assert config_of(alice_client.get(link))["startOffset"] == 2345


def test_users_who_cannot_watch_get_no_recording_links(client, bob, project, events):
    session_id, event_uuid = recorded_event(project, events)
    client.force_login(bob)  # exec: views insights, not recordings
    page = client.get(reverse("explorer:event", kwargs={"project_id": project.pk, "event_uuid": event_uuid}))
    assert page.status_code == 200 and 'id="recording-link"' not in page.content.decode()
    person_id = events.person_for("visitor-1")
    person = client.get(
        reverse("explorer:person", kwargs={"project_id": project.pk, "person_id": person_id})
    ).content.decode()
    assert session_id in person and "recording-link" not in person


def test_person_page_links_each_recording(alice_client, project, events):
    session_id, _ = recorded_event(project, events)
    person_id = events.person_for("visitor-1")
    person = alice_client.get(
        reverse("explorer:person", kwargs={"project_id": project.pk, "person_id": person_id})
    )
    assert (
        f'href="/project/{project.pk}/replay/{session_id}" class="recording-link"' in person.content.decode()
    )
