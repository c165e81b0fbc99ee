"""The activity heatbar: marks from rrweb events, weighted buckets, smoothing, the SVG path.

Checked against a deliberately simple reference on generated marks, and on the real
posthog-js recording in fixtures/."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from replay.format import decompress_event
from replay.snapshots import WEIGHTS, Mark, activity_marks, heatbar, heatbar_path, rage_clicks

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "posthog_js_session.json").read_text())
EVENTS = [decompress_event(e) for e in FIXTURE["events"]]


def click(ts, x=10, y=10, node=7):
    return {"type": 3, "timestamp": ts, "data": {"source": 2, "type": 2, "id": node, "x": x, "y": y}}


def reference_buckets(marks, start, end, n):
    """Unsmoothed weights per bucket, the obvious way."""
    out = [0.0] * n
    for m in marks:
        if start <= m.ts <= end:
            # bucket i holds [start + i*span/n, start + (i+1)*span/n), in exact integers: a float
            # width puts a mark on a bucket boundary into the bucket before (20000 of 0..60000
            # in 9 buckets is 2.9999999999999996 widths)
            i = n - 1 if m.ts == end else (m.ts - start) * n // (end - start)
            out[min(i, n - 1)] += WEIGHTS[m.kind]
    return out


def test_weights_are_the_issue_s():
    assert WEIGHTS == {
        "rage_click": 5,
        "console_error": 3,
        "navigation": 2,
        "click": 1,
        "input": 0.8,
        "scroll": 0.3,
    }


def test_marks_of_the_real_recording():
    marks = activity_marks(EVENTS)
    kinds = [m.kind for m in marks]
    clicks = sum(1 for e in EVENTS if e["type"] == 3 and e["data"]["source"] == 2 and e["data"]["type"] == 2)
    inputs = sum(1 for e in EVENTS if e["type"] == 3 and e["data"]["source"] == 5)
    assert kinds.count("click") == clicks >= 7
    assert kinds.count("input") == inputs
    assert kinds.count("console_error") == 1  # console.log is not an error
    assert kinds.count("navigation") == 2  # two page loads (Meta events)
    assert kinds.count("rage_click") == 1  # four quick clicks on the heading count once
    assert [m.ts for m in marks] == sorted(m.ts for m in marks)


def test_rage_clicks_need_three_clicks_on_one_spot_within_a_second():
    assert rage_clicks([(0, 0, 0, 1), (400, 0, 0, 1)]) == []
    assert rage_clicks([(0, 0, 0, 1), (400, 0, 0, 1), (1000, 0, 0, 1)]) == [1000]
    assert rage_clicks([(0, 0, 0, 1), (400, 0, 0, 1), (1001, 0, 0, 1)]) == []
    # same spot by distance when the nodes differ
    assert rage_clicks([(0, 0, 0, 1), (100, 20, 0, 2), (200, 0, 20, 3)]) == [200]
    assert rage_clicks([(0, 0, 0, 1), (100, 31, 0, 2), (200, 0, 0, 3)]) == []
    # one run of six clicks is one rage click; a pause starts another
    run = [(i * 100, 0, 0, 1) for i in range(6)] + [(5000 + i * 100, 0, 0, 1) for i in range(3)]
    assert rage_clicks(run) == [200, 5200]


def test_scroll_input_and_url_changes_are_marked():
    events = [
        {"type": 3, "timestamp": 1, "data": {"source": 3, "id": 1, "x": 0, "y": 100}},
        {"type": 3, "timestamp": 2, "data": {"source": 5, "text": "a", "id": 4}},
        {"type": 5, "timestamp": 3, "data": {"tag": "$url_changed", "payload": {"href": "https://a.io/b"}}},
        {"type": 5, "timestamp": 4, "data": {"tag": "$remote_config_received", "payload": {}}},
        {
            "type": 6,
            "timestamp": 5,
            "data": {"plugin": "rrweb/console@1", "payload": {"level": "warn", "payload": []}},
        },
        {"type": 3, "timestamp": 6, "data": {"source": 1, "positions": []}},
        {"type": 3, "timestamp": "bad", "data": {"source": 2, "type": 2}},
        "garbage",
    ]
    assert [(m.ts, m.kind) for m in activity_marks([e for e in events if isinstance(e, dict)])] == [
        (1, "scroll"),
        (2, "input"),
        (3, "navigation"),
    ]


def test_heatbar_peaks_where_the_weight_is():
    marks = [
        Mark(100, "click"),
        Mark(5_000, "rage_click"),
        Mark(5_010, "console_error"),
        Mark(9_900, "scroll"),
    ]
    values = heatbar(marks, 0, 10_000, buckets=100)
    assert len(values) == 100
    assert max(values) == 1.0 and values.index(1.0) == 50
    assert values[1] > values[99] > 0  # a click outweighs a scroll
    assert values[25] == 0  # far from everything


def test_heatbar_of_nothing_is_flat_zero():
    assert heatbar([], 0, 1000, buckets=10) == [0.0] * 10
    assert heatbar([Mark(5000, "click")], 0, 1000, buckets=10) == [0.0] * 10  # outside the span
    assert heatbar([Mark(0, "click")], 0, 0, buckets=4)[0] == 1.0  # zero-length session
    assert heatbar([Mark(0, "click")], 0, 10, buckets=0) == []


marks_strategy = st.lists(
    st.builds(Mark, st.integers(0, 60_000), st.sampled_from(sorted(WEIGHTS))), max_size=60
)


@given(marks_strategy, st.integers(1, 50), st.floats(0.5, 4))
@example([Mark(20_000, "click")], 9, 1.0)  # a mark exactly on a bucket boundary
def test_heatbar_is_the_reference_smoothed_and_scaled(marks, n, sigma):
    values = heatbar(marks, 0, 60_000, buckets=n, sigma=sigma)
    raw = reference_buckets(marks, 0, 60_000, n)
    radius = max(1, math.ceil(3 * sigma))
    smooth = [
        sum(raw[j] * math.exp(-((i - j) ** 2) / (2 * sigma**2)) for j in range(n) if abs(i - j) <= radius)
        for i in range(n)
    ]
    top = max(smooth)
    expected = [v / top for v in smooth] if top else smooth
    assert values == pytest.approx(expected, abs=1e-3)
    assert all(0 <= v <= 1 for v in values)


def test_heatbar_path_is_a_closed_area_within_the_box():
    path = heatbar_path([0.0, 1.0, 0.5], width=300, height=40)
    assert path.startswith("M0,40 L0,40.0") and path.endswith("L300,40Z")
    numbers = [float(x) for x in __import__("re").findall(r"-?\d+(?:\.\d+)?", path)]
    assert all(0 <= x <= 300 for x in numbers)
    assert "150.0,0.0" in path  # the peak bucket's centre at the top
    assert heatbar_path([]) == ""
