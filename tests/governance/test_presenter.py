"""The Presenter's masking rules (docs/access.md, "Masking rules")."""

from __future__ import annotations

import json

import pytest

from governance.masking import MASK_CHAR, mask_string, mask_url
from governance.presenter import DEFAULT_PII_KEYS, Presenter

MASKED = Presenter(can_view_pii=False, pii=DEFAULT_PII_KEYS, project_id=7)
OPEN = Presenter(can_view_pii=True, pii=DEFAULT_PII_KEYS, project_id=7)


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("https://x.io/a?email=jane%40x.io&p=2#top", "https://x.io/a?email=•••••••••••&p=•#•••"),
        ("/search?q=abc", "/search?q=•••"),
        ("/a?flag", "/a?••••"),
        ("?utm_source=news&ref=abc", "?utm_source=••••&ref=•••"),
        ("plain text, no url", "plain text, no url"),
        ("see https://x.io/?t=s3cret now", "see https://x.io/?t=•••••• now"),
        ("write to jane@example.org today", "write to •••••••••••• today"),
        ("https://x.io/users/jane@example.org", "https://x.io/users/••••••••••••"),
        ("issue #12 is open", "issue #12 is open"),
    ],
)
def test_strings_mask_query_values_fragments_and_emails(raw, shown):
    assert mask_string(raw) == shown
    assert MASKED.text(raw) == shown and OPEN.text(raw) == raw


def test_mask_url_keeps_the_length():
    url = "https://x.io/a?email=jane@x.io&p=22#frag"
    assert len(mask_url(url)) == len(url) and "jane" not in mask_url(url)


def test_properties_are_walked_at_every_depth():
    props = {
        "email": "jane@x.io",
        "plan": "pro",
        "$set": {"name": "Jane Doe", "Email": "j@x.io", "age": 40},
        "$set_once": {"first_name": "Jane", "$initial_current_url": "https://x.io/?ref=abc"},
        "account": {"owner": {"phone": "555-1234"}, "tier": 2},
        "contacts": [{"last_name": "Doe"}, "call jane@x.io"],
        "name": {"given": "Jane"},
        "$current_url": "https://x.io/p?token=t0k",
    }
    shown = MASKED.properties(props)
    text = json.dumps(shown)
    for secret in ("jane@x.io", "Jane", "Doe", "j@x.io", "555-1234", "abc", "t0k"):
        assert secret not in text, secret
    assert shown["plan"] == "pro" and shown["$set"]["age"] == 40 and shown["account"]["tier"] == 2
    assert shown["$current_url"] == "https://x.io/p?token=•••"
    assert OPEN.properties(props) == props


def test_email_distinct_ids_are_masked_others_kept():
    assert MASKED.distinct_id("jane@x.io") == MASK_CHAR * 9
    assert MASKED.distinct_id("user-42") == "user-42"
    assert OPEN.distinct_id("jane@x.io") == "jane@x.io"


def test_labels_of_different_values_stay_different_and_stable():
    a = MASKED.label("email", "jane@x.io")
    b = MASKED.label("email", "joan@x.io")
    assert a != b and "jane" not in a and a == MASKED.label("email", "jane@x.io")
    assert MASKED.label("$browser", "Chrome") == "Chrome"


def test_json_text_masks_parsed_and_unparseable_documents():
    doc = json.dumps({"distinct_id": "x", "properties": {"name": "Jane Doe", "u": "/p?e=jane@x.io"}})
    shown = MASKED.json_text(doc)
    assert "Jane" not in shown and "jane@x.io" not in shown and json.loads(shown)["distinct_id"] == "x"
    truncated = doc[:-5]
    assert "Jane" not in MASKED.json_text(truncated) and "jane@x.io" not in MASKED.json_text(truncated)
    assert OPEN.json_text(doc) == doc


def test_present_masks_result_objects_field_by_field():
    from explorer.queries import PersonRow  # noqa: PLC0415

    row = PersonRow(
        id="p",
        properties={"email": "jane@x.io"},
        created_at=None,
        is_identified=True,
        distinct_ids=["jane@x.io", "anon-1"],
    )
    shown = MASKED.present(row)
    assert shown.distinct_ids == [MASK_CHAR * 9, "anon-1"] and shown.properties["email"].startswith(MASK_CHAR)
    assert OPEN.present(row) is row


def test_a_definition_reveals_what_a_role_without_view_pii_sees_masked():
    masked = Presenter(can_view_pii=False, pii=frozenset({"email"}))
    step = {
        "event": "login",
        "properties": [{"key": "email", "operator": "exact", "value": "ann@example.com"}],
    }
    assert masked.reveals({"kind": "FunnelsQuery", "steps": [{"event": "signup"}, step]})
    assert masked.reveals(
        {"properties": [{"key": "$set.email", "value": ["a", "b"]}]}
    )  # a path through a PII key
    assert masked.reveals(
        {"properties": [{"key": "referrer", "value": "ann@example.com"}]}
    )  # found by a detector
    assert not masked.reveals({"properties": [{"key": "email", "operator": "is_set", "value": None}]})
    assert not masked.reveals({"properties": [{"key": "$browser", "value": "Chrome"}], "date_from": "-7d"})
    assert not masked.reveals({"breakdown": {"property": "email"}})  # a key is not a value
    assert not Presenter(can_view_pii=True, pii=frozenset({"email"})).reveals({"key": "email", "value": "x"})
