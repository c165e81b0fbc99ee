"""replay.format.decompress_event: posthog-js cv-2024-10 events back to plain rrweb."""

from __future__ import annotations

import copy
import gzip
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from replay.format import compress_event, decompress_event, is_compressed

FULL = {
    "type": 2,
    "timestamp": 1_790_000_000_000,
    "data": {
        "node": {"type": 0, "id": 1, "childNodes": [{"type": 3, "id": 2, "textContent": "héllo ✓ wörld"}]},
        "initialOffset": {"top": 0, "left": 0},
    },
}
MUTATION = {
    "type": 3,
    "timestamp": 1_790_000_000_500,
    "data": {
        "source": 0,
        "texts": [{"id": 2, "value": "changed"}],
        "attributes": [{"id": 1, "attributes": {"value": "x"}}],
        "removes": [],
        "adds": [{"parentId": 1, "nextId": None, "node": {"type": 3, "id": 9, "textContent": "new"}}],
    },
}
STYLESHEET = {
    "type": 3,
    "timestamp": 1,
    "data": {"source": 8, "id": 4, "adds": [{"rule": "a{color:red}", "index": 0}]},
}


def packed(value) -> str:
    return gzip.compress(json.dumps(value).encode()).decode("latin-1")


@pytest.mark.parametrize("event", [FULL, MUTATION, STYLESHEET], ids=["full", "mutation", "stylesheet"])
def test_compressed_events_come_back_plain(event):
    compressed = compress_event(event)
    assert compressed["cv"] == "2024-10" and is_compressed(compressed)
    assert decompress_event(compressed) == event


def test_json_round_trip_of_the_binary_string_survives():
    """The row stores the event JSON as received; the latin-1 string survives json.dumps/loads."""
    stored = json.dumps(compress_event(FULL))
    assert decompress_event(json.loads(stored)) == FULL


def test_mutation_with_only_some_parts_compressed():
    event = copy.deepcopy(MUTATION)
    event["cv"] = "2024-10"
    event["data"]["adds"] = packed(MUTATION["data"]["adds"])
    out = decompress_event(event)
    assert out["data"] == MUTATION["data"] and "cv" not in out


@pytest.mark.parametrize(
    "event", [FULL, MUTATION, STYLESHEET, {"type": 4, "data": {"href": "https://x"}, "timestamp": 1}]
)
def test_plain_events_are_returned_unchanged(event):
    before = copy.deepcopy(event)
    assert decompress_event(event) is event
    assert event == before


def test_decompressing_twice_is_the_same_as_once():
    once = decompress_event(compress_event(MUTATION))
    assert decompress_event(once) == once == MUTATION


def test_input_is_not_mutated():
    compressed = compress_event(MUTATION)
    before = copy.deepcopy(compressed)
    decompress_event(compressed)
    assert compressed == before


@pytest.mark.parametrize(
    "event",
    [
        {"type": 2, "data": "\x1f\x8b compressed-ish", "cv": "2024-10", "timestamp": 1},
        {"type": 2, "data": "not gzip at all", "cv": "2024-10"},
        {"type": 2, "data": "ĀĀ wide chars", "cv": "2024-10"},
        {"type": 2, "data": packed([1, 2, 3]), "cv": "2024-10"},  # a list is not a full snapshot
        {
            "type": 3,
            "data": {"source": 0, "adds": "\x1f\x8bxx", "texts": [], "removes": [], "attributes": []},
            "cv": "2024-10",
        },
        {"type": 3, "data": "string data"},
        {"type": "2", "data": None},
        {"data": {}},
        {},
    ],
)
def test_garbage_is_left_as_it_is(event):
    before = copy.deepcopy(event)
    out = decompress_event(event)
    assert event == before
    if event.get("type") == 3 and isinstance(event.get("data"), dict):
        assert out["data"]["adds"] == "\x1f\x8bxx" and out["cv"] == "2024-10"
    else:
        assert out == event


@pytest.mark.parametrize("garbage", [None, 3, "text", [1, 2], 1.5])
def test_non_dict_input_never_raises(garbage):
    assert decompress_event(garbage) == garbage


def test_uncompressed_json_string_is_parsed():
    event = {"type": 2, "data": json.dumps(FULL["data"]), "timestamp": 1}
    assert decompress_event(event)["data"] == FULL["data"]


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=5), children, max_size=4)
    ),
    max_leaves=20,
)


@given(st.lists(json_values, max_size=4), st.dictionaries(st.text(max_size=5), json_values, max_size=4))
def test_round_trip_any_json(adds, node):
    event = {
        "type": 3,
        "timestamp": 5,
        "data": {"source": 0, "adds": adds, "texts": [], "removes": [], "attributes": []},
    }
    assert decompress_event(compress_event(event)) == event
    full = {"type": 2, "timestamp": 5, "data": node}
    assert decompress_event(json.loads(json.dumps(compress_event(full)))) == full


@given(st.binary(max_size=64))
def test_random_bytes_never_raise(raw):
    for data in (raw.decode("latin-1"), "\x1f\x8b" + raw.decode("latin-1")):
        decompress_event({"type": 2, "data": data, "cv": "2024-10"})
        decompress_event({"type": 3, "data": {"source": 0, "adds": data, "texts": data}, "cv": "2024-10"})
