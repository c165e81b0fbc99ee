"""Recording summaries against the Python reference, through the real ingestion path.

Chunks go through process_snapshots + write_jobs (the path /s/ and the Redis
consumer share), in a shuffled order and with redeliveries; the stored summary
(session_replay_summaries FINAL) must equal tests/replay/reference.py.
"""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from governance.roles import Role
from ingestion.processing import RequestContext
from ingestion.writer import write_jobs
from replay import summary as replay_summary
from replay import synthetic
from replay.format import compress_event, decompress_event
from replay.ingest import process_snapshots
from replay.queries import session_snapshots
from tests.clock import at_test_time
from tests.conftest import examples

from . import reference

BASE_MS = at_test_time(lambda now: int((now - dt.timedelta(days=1)).timestamp() * 1000))
SUMMARY_FIELDS = (
    "active_ms", "click_count", "keypress_count", "mouse_activity_count", "console_log_count", "console_warn_count",
    "console_error_count", "rage_click_count", "dead_click_count", "first_url", "urls", "event_count",
)  # fmt: skip
GAPS = [0, 0, 0, 0, 1, 500, 999, 1000, 1001, 2500, 2501, 4999, 5000, 5001, 12_000]


def click(x, y, node, kind=2):
    return {"type": 3, "data": {"source": 2, "type": kind, "id": node, "x": x, "y": y}}


EVENT_KINDS = st.one_of(
    st.builds(
        click, st.sampled_from([10, 20, 40, 300]), st.sampled_from([10, 28, 200]), st.sampled_from([0, 5, 6])
    ),
    st.builds(click, st.just(1), st.just(1), st.just(5), st.sampled_from([0, 1, 4])),  # mousedown/up/dblclick
    st.just({"type": 3, "data": {"source": 1, "positions": [{"x": 1, "y": 2, "id": 3, "timeOffset": 0}]}}),
    st.just({"type": 3, "data": {"source": 5, "text": "a", "isChecked": False, "id": 9}}),
    st.just({"type": 3, "data": {"source": 3, "id": 1, "x": 0, "y": 40}}),
    st.just({"type": 3, "data": {"source": 0, "texts": [], "attributes": [], "removes": [], "adds": []}}),
    st.just({"type": 3, "data": {"source": 4, "width": 800, "height": 600}}),  # viewport resize: neither
    st.builds(
        lambda u: {"type": 4, "data": {"href": u, "width": 1, "height": 1}},
        st.sampled_from(["https://a.test/", "https://a.test/b?q=1"]),
    ),
    st.builds(
        lambda u: {"type": 5, "data": {"tag": "$url_changed", "payload": {"href": u}}},
        st.sampled_from(["https://a.test/c", "https://a.test/"]),
    ),
    st.just({"type": 5, "data": {"tag": "other", "payload": {}}}),
    st.builds(
        lambda level: {
            "type": 6,
            "data": {
                "plugin": "rrweb/console@1",
                "payload": {"level": level, "trace": [], "payload": ['"x"']},
            },
        },
        st.sampled_from(["log", "info", "warn", "error", "assert", "debug"]),
    ),
    st.just(
        {
            "type": 2,
            "data": {"node": {"type": 0, "childNodes": [], "id": 1}, "initialOffset": {"left": 0, "top": 0}},
        }
    ),
)


@st.composite
def sessions(draw):
    kinds = draw(st.lists(EVENT_KINDS, min_size=1, max_size=40))
    t = BASE_MS
    events = []
    for kind in kinds:
        t += draw(st.sampled_from(GAPS))
        events.append({**kind, "timestamp": t})
    cuts = sorted(set(draw(st.lists(st.integers(1, max(1, len(events) - 1)), max_size=5))))
    bounds = [0, *[c for c in cuts if c < len(events)], len(events)]
    chunks = [events[a:b] for a, b in zip(bounds, bounds[1:], strict=False) if b > a]
    order = draw(st.permutations(range(len(chunks))))
    duplicates = draw(st.lists(st.integers(0, len(chunks) - 1), max_size=3))
    time_ordered_uuids = draw(st.booleans())
    return chunks, list(order), duplicates, time_ordered_uuids


def send(project, session_id, chunks_with_uuids, distinct_id="user-1"):
    ctx = RequestContext(now=dt.datetime.now(dt.UTC), user_agent=synthetic.USER_AGENT)
    payload = [
        {
            "uuid": str(chunk_uuid),
            "event": "$snapshot",
            "properties": {
                "$snapshot_data": [compress_event(e) for e in events],
                "$session_id": session_id,
                "$window_id": "w1",
                "distinct_id": distinct_id,
            },
        }
        for chunk_uuid, events in chunks_with_uuids
    ]
    job, rejected = process_snapshots(payload, project, ctx)
    assert rejected == []
    write_jobs([job])


def stored(project, session_id) -> dict:
    row = replay_summary.summary(project, session_id)
    assert row is not None
    return {
        "distinct_id": row["distinct_id"],
        "start_ms": int(row["start_time"].timestamp() * 1000 + 0.5),
        "end_ms": int(row["end_time"].timestamp() * 1000 + 0.5),
        **{k: row[k] for k in SUMMARY_FIELDS},
    }


@settings(
    max_examples=examples(60),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(case=sessions())
def test_summary_matches_reference_whatever_the_chunk_order_and_redeliveries(project, case):
    chunks, order, duplicates, time_ordered = case
    session_id = uuid.uuid4().hex
    # posthog-js chunk uuids are time-ordered (UUIDv7): sorting by uuid keeps the send order;
    # other clients may send any uuid, and equal timestamps then follow the uuid text
    if time_ordered:
        with_uuids = [
            (uuid.UUID(int=(i + 1) << 64 | uuid.uuid4().int >> 68), e) for i, e in enumerate(chunks)
        ]
    else:
        with_uuids = [(uuid.uuid4(), events) for events in chunks]
    for i in order:
        send(project, session_id, [with_uuids[i]])
    for i in duplicates:
        send(project, session_id, [with_uuids[i]])
    assert stored(project, session_id) == reference.summarize(with_uuids, "user-1")


def test_hand_written_session_has_exact_numbers(project):
    t = BASE_MS
    events = [
        {"type": 4, "data": {"href": "https://shop.test/a", "width": 1, "height": 1}, "timestamp": t},
        {"type": 3, "data": {"source": 1, "positions": []}, "timestamp": t + 1000},
        {"type": 3, "data": {"source": 1, "positions": []}, "timestamp": t + 6000},  # gap exactly 5 s: idle
        {"type": 3, "data": {"source": 3, "id": 1, "x": 0, "y": 9}, "timestamp": t + 10_999},  # 4999: counts
        # three clicks within 1 s on the same node: one rage run, all dead (nothing reacts)
        {**click(100, 100, 7), "timestamp": t + 20_000},
        {**click(140, 100, 7), "timestamp": t + 20_400},
        {**click(100, 100, 7), "timestamp": t + 21_000},
        # three clicks within 1 s but 31 px apart on unknown nodes: no rage
        {**click(0, 0, 0), "timestamp": t + 30_000},
        {**click(31, 0, 0), "timestamp": t + 30_100},
        {**click(0, 0, 0), "timestamp": t + 30_200},
        {
            "type": 3,
            "data": {"source": 0, "texts": [], "attributes": [], "removes": [], "adds": []},
            "timestamp": t + 32_700,
        },
        {
            "type": 6,
            "data": {"plugin": "rrweb/console@1", "payload": {"level": "error", "trace": [], "payload": []}},
            "timestamp": t + 40_000,
        },
        {
            "type": 5,
            "data": {"tag": "$url_changed", "payload": {"href": "https://shop.test/b"}},
            "timestamp": t + 41_000,
        },
    ]
    session_id = uuid.uuid4().hex
    send(project, session_id, [(uuid.uuid4(), events)])
    row = replay_summary.summary(project, session_id)
    # counted gaps: 4999 (scroll after the mouse move) + 400 + 600 + 100 + 100 between clicks;
    # not counted: exactly 5000 ms, and the 9001 ms / 8800 ms idle gaps
    assert row["active_ms"] == 4999 + 400 + 600 + 100 + 100
    assert row["click_count"] == 6
    assert row["rage_click_count"] == 1
    # only the click at 30_200 has a reaction (the mutation at 32_700) in [t, t + 2500 ms]
    assert row["dead_click_count"] == 5
    assert row["console_error_count"] == 1
    assert row["first_url"] == "https://shop.test/a"
    assert row["urls"] == ["https://shop.test/a", "https://shop.test/b"]
    assert (row["end_time"] - row["start_time"]).total_seconds() == 41
    assert row["browser"] == "Chrome" and row["device_type"] == "Desktop"
    assert row["event_count"] == len(events)


def test_person_is_resolved_from_the_distinct_id(project):
    person = uuid.uuid4()
    ch.insert(
        "person_distinct_ids",
        {"project_id": [project.id], "distinct_id": ["known"], "person_id": [person], "version": [1]},
    )
    session_id = uuid.uuid4().hex
    send(
        project,
        session_id,
        [(uuid.uuid4(), [{"type": 4, "data": {"href": "x"}, "timestamp": BASE_MS}])],
        distinct_id="known",
    )
    assert replay_summary.summary(project, session_id)["person_id"] == person


def test_synthetic_sessions_match_the_reference(project):
    sessions = []
    for seed in range(5):
        events = synthetic.session_events(seed, BASE_MS + seed * 3_600_000)
        sessions.append((f"synthetic-{project.id}-{seed}", "w1", f"user-{seed}", events))
    synthetic.write_sessions(project, sessions)
    for session_id, _, distinct_id, events in sessions:
        payloads = synthetic.snapshot_payloads(project.api_token, session_id, "w1", distinct_id, events)
        chunks = [(uuid.UUID(p["uuid"]), p["properties"]["$snapshot_data"]) for p in payloads]
        plain = [(u, [decompress_event(e) for e in evs]) for u, evs in chunks]
        assert stored(project, session_id) == reference.summarize(plain, distinct_id)


@pytest.fixture
def project(make_project, alice, bob):
    return make_project("Replay", members={alice: Role.ADMIN, bob: Role.EXEC})


def test_equal_timestamps_across_chunks_follow_the_chunk_uuid_text(project):
    """ClickHouse orders UUIDs differently from their text; the store must use the text
    (the time order of posthog-js's UUIDv7 chunk ids)."""
    first, second = (
        uuid.UUID("00000000-0000-0000-0100-000000000000"),
        uuid.UUID("01000000-0000-0000-0000-000000000000"),
    )
    t = BASE_MS
    a = [{"type": 4, "data": {"href": "https://a.test/first"}, "timestamp": t}]
    b = [{"type": 4, "data": {"href": "https://a.test/second"}, "timestamp": t}]
    session_id = uuid.uuid4().hex
    send(project, session_id, [(second, b)])
    send(project, session_id, [(first, a)])
    row = replay_summary.summary(project, session_id)
    assert row["first_url"] == "https://a.test/first"
    assert row["urls"] == ["https://a.test/first", "https://a.test/second"]
    assert [e["data"]["href"] for e in session_snapshots(project, session_id)] == [
        "https://a.test/first",
        "https://a.test/second",
    ]


def test_real_posthog_js_recording_matches_the_reference(project):
    """The rrweb events posthog-js recorded in Chromium (tests/replay/fixtures, captured by
    test_replay_browser.py): a visitor types a coupon, clicks Buy (console error), navigates."""
    import json  # noqa: PLC0415
    from pathlib import Path  # noqa: PLC0415

    fixture = json.loads((Path(__file__).parent / "fixtures" / "posthog_js_session.json").read_text())
    events = fixture["events"]
    shift = BASE_MS - events[0]["timestamp"]  # keep it inside the retention window
    events = [{**e, "timestamp": e["timestamp"] + shift} for e in events]
    chunks = [(uuid.UUID(int=(i + 1) << 64), events[i : i + 20]) for i in range(0, len(events), 20)]
    session_id = uuid.uuid4().hex
    for chunk in reversed(chunks):
        send(project, session_id, [chunk])
    got = stored(project, session_id)
    assert got == reference.summarize(chunks, "user-1")
    typed = sum(1 for e in events if e["type"] == 3 and e["data"].get("source") == 5)
    assert got["keypress_count"] == typed > 0
    assert got["click_count"] >= 2 and got["console_error_count"] == 1 and got["console_log_count"] == 1
    assert (
        got["first_url"] == "http://shop.localhost/"
        and len(got["urls"]) == 2
        and "/thanks?" in got["urls"][1]
    )


def test_demo_recordings_follow_the_analytics_sessions(project):
    from tests.conftest import EventBuilder  # noqa: PLC0415

    builder = EventBuilder(project.id)
    start = dt.datetime.fromtimestamp(BASE_MS / 1000, dt.UTC)
    for i in range(3):
        for k, path in enumerate(["/", "/cart"]):
            props = {"$current_url": f"https://shop.example{path}", "$session_id": f"demo-{i}"}
            builder.add("$pageview", f"visitor-{i}", start + dt.timedelta(minutes=10 * i + 3 * k), props)
    builder.flush()
    assert synthetic.demo_recordings(project, count=10) == 3
    for i in range(3):
        row = replay_summary.summary(project, f"demo-{i}")
        assert row["distinct_id"] == f"visitor-{i}" and row["urls"][:2] == [
            "https://shop.example/",
            "https://shop.example/cart",
        ]
        assert row["start_time"] <= start + dt.timedelta(minutes=10 * i) and row[
            "end_time"
        ] >= start + dt.timedelta(minutes=10 * i + 3)
