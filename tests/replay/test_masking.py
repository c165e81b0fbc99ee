"""replay.masking on real rrweb data recorded from posthog-js in Chromium.

The fixture (tests/replay/fixtures/posthog_js_session.json, re-recorded by
test_replay_browser.py::test_capture_fixtures) is a visitor on a two-page shop:
text, a prefilled email input, a password, a textarea, a select, typing into a
coupon field and the textarea, a click that logs to the console, adds a
paragraph, changes a text node and an input's value attribute later, and a
navigation to a URL with an email in its query string.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from governance.presenter import Presenter
from replay.format import compress_event, decompress_event
from replay.masking import for_presenter, mask_events, mask_text, mask_url, mask_urls_in_text

FIXTURE = json.loads((Path(__file__).parent / "fixtures" / "posthog_js_session.json").read_text())
EVENTS = [decompress_event(e) for e in FIXTURE["events"]]
MASKED = mask_events(EVENTS)

# Everything the visitor typed or the page said about them: none may survive masking.
SECRETS = [
    "SECRETCOUPON42",  # Input events on #coupon
    "leave at door 7",  # Input events on the textarea
    "initial note text",  # the textarea's value in the full snapshot
    "prefilled@example.com",  # an input's value attribute in the full snapshot
    "changed@example.com",  # an attribute mutation of that value later
    "Order for Alice Smith confirmed",  # a text node added by a mutation later
    "Paid by Alice",  # a texts[] mutation of an existing text node
    "Shipped to Alice Smith",  # textContent replaced on the second page (removes + adds)
    "Signed in as alice@example.com",  # text in the full snapshot
    "Thank you, Alice",  # text in the second page's full snapshot
    "Express shipping",  # <option> text
    "Your coupon code",  # placeholder attribute
    "checkout for alice@example.com",  # console.log payload
    "Payment failed for alice@example.com",  # console.error payload
    "4111",  # console.log object payload
    "abc123",  # a URL's query inside page text
    "alice%40example.com",  # the navigation's query string (Meta href, link href)
]


def walk(value, path=()):
    """(path, leaf) pairs of a JSON value."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from walk(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from walk(v, (*path, i))
    else:
        yield path, value


def nodes(node):
    yield node
    for child in node.get("childNodes", []):
        yield from nodes(child)


def full_snapshots(events):
    return [e for e in events if e["type"] == 2]


def node_by_attr(events, index, attr, value):
    tree = full_snapshots(events)[index]["data"]["node"]
    return next(n for n in nodes(tree) if n.get("attributes", {}).get(attr) == value)


def text_of(node):
    return "".join(c.get("textContent", "") for c in node.get("childNodes", []))


def mutations(events):
    return [e for e in events if e["type"] == 3 and e["data"]["source"] == 0]


@pytest.mark.parametrize("secret", SECRETS)
def test_fixture_has_the_secret_and_masking_removes_it(secret):
    assert secret in json.dumps(FIXTURE["events"]), "fixture lost a path; re-record it"
    assert secret not in json.dumps(MASKED)


def test_masked_events_have_the_same_shape_and_lengths():
    """Only string characters change, only to '*', never whitespace: the replay lays out the same."""
    assert len(MASKED) == len(EVENTS)
    for original, masked in zip(EVENTS, MASKED, strict=True):
        pairs = list(zip(walk(original), walk(masked), strict=True))
        for (path, before), (path2, after) in pairs:
            assert path == path2
            if isinstance(before, str) and before != after:
                assert len(after) == len(before), path
                for b, a in zip(before, after, strict=True):
                    assert a == b or (a == "*" and not b.isspace()), (path, before, after)
            else:
                assert before == after, path


def test_full_snapshot_text_nodes_are_masked_keeping_whitespace():
    status = node_by_attr(MASKED, 0, "id", "status")
    assert text_of(status) == "*** **** ***"  # "Not paid yet"
    h1 = next(n for n in nodes(full_snapshots(MASKED)[1]["data"]["node"]) if n.get("tagName") == "h1")
    assert text_of(h1) == "***** **** *****"  # "Thank you, Alice"
    body_whitespace = [
        n for n in nodes(full_snapshots(MASKED)[0]["data"]["node"]) if n.get("textContent") == "\n  "
    ]
    assert body_whitespace  # whitespace-only text nodes are untouched


def test_input_textarea_select_values_options_and_placeholders_are_masked():
    assert node_by_attr(MASKED, 0, "id", "email")["attributes"]["value"] == "*" * len("prefilled@example.com")
    assert node_by_attr(MASKED, 0, "id", "note")["attributes"]["value"] == "******* **** ****"
    assert node_by_attr(MASKED, 0, "id", "coupon")["attributes"]["placeholder"] == "**** ****** ****"
    ship = node_by_attr(MASKED, 0, "id", "ship")
    assert [text_of(o) for o in ship["childNodes"]] == ["******** ********", "******* ********"]
    # the password was masked by posthog-js already; masking again changes nothing
    assert node_by_attr(MASKED, 0, "id", "pw")["attributes"]["value"] == "*********"


def test_input_events_are_masked():
    inputs = [e["data"] for e in MASKED if e["type"] == 3 and e["data"]["source"] == 5]
    originals = [e["data"] for e in EVENTS if e["type"] == 3 and e["data"]["source"] == 5]
    assert len(inputs) >= len("SECRETCOUPON42") + len(" leave at door 7")
    assert any(o["text"] == "SECRETCOUPON42" for o in originals)
    for before, after in zip(originals, inputs, strict=True):
        assert after["text"] == mask_text(before["text"]) and set(after["text"]) <= {"*", " "}
        assert after.get("selectedOptionIds") == before.get("selectedOptionIds")


def test_mutations_that_add_or_change_text_later_are_masked():
    later = mutations(MASKED)[0]["data"]
    added_texts = [a["node"]["textContent"] for a in later["adds"] if a["node"]["type"] == 3]
    assert added_texts == ["***** *** ***** ***** *********"]  # "Order for Alice Smith confirmed"
    assert [t["value"] for t in later["texts"]] == ["**** ** *****"]  # "Paid by Alice"
    assert later["attributes"][0]["attributes"] == {"value": "*" * len("changed@example.com")}
    # the new <p> keeps its id so the page script's selectors, and the replay, still work
    assert [a["node"].get("attributes") for a in later["adds"] if a["node"]["type"] == 2] == [{"id": "later"}]
    shipped = mutations(MASKED)[1]["data"]
    assert [a["node"]["textContent"] for a in shipped["adds"]] == ["******* ** ***** *****"]


def test_console_payloads_are_masked_and_trace_urls_lose_only_their_query():
    console = [e["data"]["payload"] for e in MASKED if e["type"] == 6]
    assert [c["level"] for c in console] == ["log", "error"]
    assert console[1]["payload"] == ['"******* ****** *** *****************"']
    assert console[0]["payload"][1] == "*" * len('{"card":"4111"}')
    originals = [e["data"]["payload"] for e in EVENTS if e["type"] == 6]
    assert console[0]["trace"] == originals[0]["trace"]  # no query string in it
    assert (
        mask_urls_in_text("at f (https://x.io/a.js?token=abc:1:2)")
        == "at f (https://x.io/a.js?token=*******)"
    )


def test_navigation_urls_keep_their_path_and_parameter_names():
    hrefs = [e["data"]["href"] for e in MASKED if e["type"] == 4]
    assert hrefs == [
        "http://shop.localhost/",
        "http://shop.localhost/thanks?order=**&email=*******************",
    ]
    link = node_by_attr(EVENTS, 0, "id", "thanks")
    masked_link = node_by_attr(MASKED, 0, "id", "thanks")
    assert masked_link["attributes"]["href"] == mask_url(link["attributes"]["href"])
    assert masked_link["attributes"]["href"].startswith("http://shop.localhost/thanks?order=**&email=")


def test_css_and_script_placeholders_are_kept():
    style = next(n for n in nodes(full_snapshots(EVENTS)[0]["data"]["node"]) if n.get("tagName") == "style")
    masked_style = next(
        n for n in nodes(full_snapshots(MASKED)[0]["data"]["node"]) if n.get("tagName") == "style"
    )
    assert masked_style == style and "#buy" in text_of(style)
    scripts = [
        n
        for n in nodes(full_snapshots(MASKED)[0]["data"]["node"])
        if n.get("textContent") == "SCRIPT_PLACEHOLDER"
    ]
    assert scripts


def test_css_added_later_to_a_style_element_is_kept():
    style_id = next(
        n for n in nodes(full_snapshots(EVENTS)[0]["data"]["node"]) if n.get("tagName") == "style"
    )["id"]
    css = "h1 { color: red }"
    later = {
        "type": 3,
        "timestamp": EVENTS[-1]["timestamp"] + 1,
        "data": {
            "source": 0,
            "texts": [{"id": 999, "value": "p { margin: 0 }"}],
            "attributes": [],
            "removes": [],
            "adds": [
                {"parentId": style_id, "nextId": None, "node": {"type": 3, "textContent": css, "id": 999}}
            ],
        },
    }
    # the added node is a child of <style>: its text (and later changes to it) stay CSS
    first_page = EVENTS[: EVENTS.index(full_snapshots(EVENTS)[1])]
    masked = mask_events([*first_page, later])[-1]["data"]
    assert masked["adds"][0]["node"]["textContent"] == css
    assert masked["texts"] == [{"id": 999, "value": "p { margin: 0 }"}]


def test_nested_nodes_added_by_a_mutation_are_masked():
    tree = {
        "type": 2,
        "tagName": "div",
        "attributes": {"title": "Alice's card", "class": "card"},
        "id": 500,
        "childNodes": [
            {
                "type": 2,
                "tagName": "span",
                "attributes": {},
                "id": 501,
                "childNodes": [{"type": 3, "textContent": "Alice Smith", "id": 502}],
            },
            {
                "type": 2,
                "tagName": "input",
                "attributes": {"value": "typed", "type": "text"},
                "id": 503,
                "childNodes": [],
            },
            {"type": 5, "textContent": " a comment ", "id": 504},
        ],
    }
    event = {
        "type": 3,
        "timestamp": 1,
        "data": {
            "source": 0,
            "texts": [],
            "attributes": [],
            "removes": [],
            "adds": [{"parentId": 13, "nextId": None, "node": tree}],
        },
    }
    node = mask_events([event])[0]["data"]["adds"][0]["node"]
    assert node["attributes"] == {"title": "******* ****", "class": "card"}
    assert node["childNodes"][0]["childNodes"][0]["textContent"] == "***** *****"
    assert node["childNodes"][1]["attributes"] == {"value": "*****", "type": "text"}
    assert node["childNodes"][2]["textContent"] == " * ******* "


def test_masking_is_deterministic_and_idempotent():
    assert mask_events(EVENTS) == MASKED
    assert mask_events(MASKED) == MASKED


def test_input_is_not_mutated():
    before = copy.deepcopy(EVENTS)
    mask_events(EVENTS)
    assert EVENTS == before


def test_compressed_parts_that_could_not_be_decoded_do_not_leak():
    full = compress_event(full_snapshots(EVENTS)[0])
    full["data"] = "\x1f\x8b" + "Signed in as alice@example.com"  # corrupt: decompress leaves it
    mutation = compress_event(mutations(EVENTS)[0])
    mutation["data"]["adds"] = "garbage Alice Smith"
    out = json.dumps(mask_events([decompress_event(full), decompress_event(mutation)]))
    assert "alice" not in out and "Alice" not in out


def test_presenter_decides():
    admin = Presenter(can_view_pii=True, pii=frozenset())
    support = Presenter(can_view_pii=False, pii=frozenset())
    assert for_presenter(admin, EVENTS) is EVENTS
    assert for_presenter(support, EVENTS) == MASKED


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("https://a.io/p", "https://a.io/p"),
        ("https://a.io/p?", "https://a.io/p?"),
        ("https://a.io/p?q=abc&n=1", "https://a.io/p?q=***&n=*"),
        ("https://a.io/p?flag&x=", "https://a.io/p?****&x="),
        ("https://a.io/p#token=xyz", "https://a.io/p#*********"),
        ("/search?q=alice smith", "/search?q=***** *****"),
    ],
)
def test_mask_url(url, masked):
    assert mask_url(url) == masked
    assert len(mask_url(url)) == len(url)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(
                [
                    "type",
                    "data",
                    "source",
                    "node",
                    "adds",
                    "texts",
                    "attributes",
                    "childNodes",
                    "textContent",
                    "payload",
                    "plugin",
                    "href",
                    "id",
                    "parentId",
                    "value",
                    "text",
                    "x",
                ]
            ),
            children,
            max_size=5,
        )
    ),
    max_leaves=25,
)


@given(st.lists(json_values, max_size=5))
def test_arbitrary_events_never_raise(events):
    masked = mask_events(events)
    assert len(masked) == len(events)
    assert mask_events(masked) == masked


def test_a_new_page_does_not_inherit_stylesheet_ids():
    """rrweb ids restart on every full snapshot: id N was <style> text on page 1, is text on page 2."""
    style_page = {
        "type": 2,
        "timestamp": 1,
        "data": {
            "node": {
                "type": 0,
                "id": 1,
                "childNodes": [
                    {
                        "type": 2,
                        "tagName": "style",
                        "attributes": {},
                        "id": 2,
                        "childNodes": [{"type": 3, "textContent": "a{}", "id": 3, "isStyle": True}],
                    },
                ],
            }
        },
    }
    text_page = {
        "type": 2,
        "timestamp": 2,
        "data": {
            "node": {
                "type": 0,
                "id": 1,
                "childNodes": [
                    {
                        "type": 2,
                        "tagName": "p",
                        "attributes": {},
                        "id": 2,
                        "childNodes": [{"type": 3, "textContent": "Alice", "id": 3}],
                    },
                ],
            }
        },
    }
    change = {
        "type": 3,
        "timestamp": 3,
        "data": {
            "source": 0,
            "texts": [{"id": 3, "value": "Bob"}],
            "attributes": [],
            "removes": [],
            "adds": [],
        },
    }
    masked = mask_events([style_page, text_page, change])
    assert masked[1]["data"]["node"]["childNodes"][0]["childNodes"][0]["textContent"] == "*****"
    assert masked[2]["data"]["texts"] == [{"id": 3, "value": "***"}]


@given(st.text())
def test_mask_text_keeps_length_and_whitespace(text):
    masked = mask_text(text)
    assert len(masked) == len(text)
    assert all((m == c) if c.isspace() else m == "*" for c, m in zip(text, masked, strict=True))
