"""The demo's recordings play in real time: the replay spans the session's events, and
each page view is a navigation in the recording at the page view's own time."""

from __future__ import annotations

import datetime as dt

import pytest

from governance.presenter import Presenter
from governance.roles import Permission
from replay import synthetic
from replay.snapshots import session_snapshots, session_timeline
from tests.conftest import EventBuilder

pytestmark = pytest.mark.django_db

# A 10:11 session: three page views (a reload among them), clicks in between.
OFFSETS = [
    ("$autocapture", "/", 0),
    ("$pageview", "/", 2),
    ("$autocapture", "/", 40),
    ("$pageview", "/products", 95),
    ("$pageview", "/products", 97),  # a reload 2 s later
    ("$autocapture", "/products", 300),
    ("$pageview", "/cart", 480),
    ("purchase", "/cart", 611),
]


def test_a_demo_recording_spans_its_session_and_navigates_at_each_page_view(project):
    start = dt.datetime.now(dt.UTC).replace(microsecond=0) - dt.timedelta(hours=3)
    builder = EventBuilder(project.id)
    for event, path, seconds in OFFSETS:
        props = {"$current_url": f"https://shop.example{path}", "$session_id": "demo-real-time"}
        builder.add(event, "visitor", start + dt.timedelta(seconds=seconds), props)
    builder.flush()
    assert synthetic.demo_recordings(project, count=5) == 1

    snapshots = session_snapshots(project, "demo-real-time")
    stamps = [e["timestamp"] for e in snapshots]
    assert stamps == sorted(stamps)
    timeline = session_timeline(
        project, "demo-real-time", Presenter.for_request(project, [Permission.VIEW_PII])
    )
    assert timeline.duration_ms == stamps[-1] - stamps[0]
    first_ms, last_ms = int(start.timestamp() * 1000), int(start.timestamp() * 1000) + 611_000
    # the replay starts with the session and lasts (at least) its 10:11, not a minute and a half
    assert timeline.start_ms == first_ms and timeline.end_ms >= last_ms
    assert timeline.duration_ms >= 611_000
    for event, path, seconds in OFFSETS:
        if event != "$pageview":
            continue
        at = first_ms + seconds * 1000
        assert timeline.start_ms <= at <= timeline.end_ms
        matches = [ms for ms, href in timeline.navigations if href == f"https://shop.example{path}"]
        assert any(abs(ms - at) <= 1000 for ms in matches), (path, seconds, matches)
    # activity fills the pages, not only the first minute and a half
    assert sum(1 for ms in stamps if ms > first_ms + 300_000) >= 5


def test_visits_are_the_page_views_or_the_url_changes():
    t0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)

    def at(s):
        return t0 + dt.timedelta(seconds=s)

    ms0 = int(t0.timestamp() * 1000)
    with_views = [(at(0), "u/a", "click"), (at(5), "u/a", "$pageview"), (at(9), "u/a", "$pageview")]
    assert synthetic._visits(ms0, with_views) == [(ms0, "u/a"), (ms0 + 5000, "u/a"), (ms0 + 9000, "u/a")]
    without = [(at(0), "u/a", "x"), (at(3), "u/a", "y"), (at(7), "u/b", "z"), (at(8), "", "w")]
    assert synthetic._visits(ms0, without) == [(ms0, "u/a"), (ms0 + 7000, "u/b")]
