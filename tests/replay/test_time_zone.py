"""Recordings list and player header in the project's zone (issue 12, part 4): a project in
Pacific/Kiritimati (UTC+14) shows a recording's start as local time, labelled with the zone,
never the UTC wall time."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest

from governance.roles import Role

from .test_snapshots_api import recent_events, record

KIRI = "Pacific/Kiritimati"


@pytest.fixture
def kiri(make_project, alice):
    return make_project("Atoll", members={alice: Role.ADMIN}, time_zone=KIRI)


@pytest.fixture
def two_sessions(kiri):
    """Two recordings of one visitor (so the player lists the other one)."""
    first = recent_events()
    second = [{**e, "timestamp": e["timestamp"] + 60_000} for e in first]
    return [
        (record(kiri, events, distinct_id="visitor-1"), events[0]["timestamp"]) for events in (first, second)
    ]


def local(ms: int) -> dt.datetime:
    return dt.datetime.fromtimestamp(ms / 1000, dt.UTC).astimezone(ZoneInfo(KIRI))


def test_recordings_list_shows_local_start_times(alice_client, kiri, two_sessions):
    html = alice_client.get(f"/project/{kiri.pk}/replay/").content.decode()
    assert f"({KIRI})" in html
    for _, start_ms in two_sessions:
        start = local(start_ms)
        assert f'<time datetime="{start.isoformat()}"' in html
        assert f">{start:%b} {start.day}, {start:%H:%M}</time>" in html
    utc = dt.datetime.fromtimestamp(two_sessions[0][1] / 1000, dt.UTC)
    assert f">{utc:%b} {utc.day}, {utc:%H:%M}</time>" not in html  # 14 hours apart


def test_player_header_and_other_recordings_are_local(alice_client, kiri, two_sessions):
    (first, first_ms), (_, second_ms) = two_sessions
    html = alice_client.get(f"/project/{kiri.pk}/replay/{first}").content.decode()
    header = re.search(r'<div class="page-head">.*?</div>', html, re.S)
    head = header.group(0) if header else html
    assert f">{local(first_ms):%Y-%m-%d %H:%M:%S}</time> ({KIRI})" in head
    assert f">{local(second_ms):%Y-%m-%d %H:%M}</time>" in html  # the other recording
