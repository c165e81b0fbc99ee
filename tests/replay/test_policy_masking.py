"""Replay masking by the PII policy (Project.replay_text_masking = "policy", the default),
on the real posthog-js recording of fixtures/ with PII planted in text, inputs, attributes,
console messages and URLs, stored through the real ingestion path and read through the
snapshots API and the player page.

Support (no view-PII) must find none of the planted values in what it receives, while the
page's headings, buttons, labels and error messages stay readable; "all" still masks all
text; the project's selectors mask an element's text, including children that mutations
add later; admins see everything as recorded."""

from __future__ import annotations

import copy
import datetime as dt
import html
import json

import pytest
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from analytics_app.models import Membership
from governance.masking import parse_selectors, selectors_match
from governance.models import AuditEntry, PropertyDefinition
from governance.roles import Role
from ingestion.config_views import project_config
from replay.masking import RecordingMasker, mask_events
from tests.conftest import examples

from .test_snapshots_api import recent_events, record

DISTINCT_ID = "cust-8812"
PERSON = {
    "email": "alice@example.com",
    "name": "Alice Smith",
    "first_name": "Alice",
    "loyalty_code": "LOY-99812-ZX",  # classified sensitive in the tracking plan below
    "plan": "pro",
}
# Everything personal in the recording: none may reach support.
PLANTED = [
    # the fixture's own
    "SECRETCOUPON42",  # Input events
    "leave at door 7",  # Input events (textarea)
    "initial note text",  # textarea value attribute
    "prefilled@example.com",  # input value attribute
    "changed@example.com",  # a value attribute mutation
    "alice@example.com",  # page text and console (e-mail detector; the person's e-mail)
    "Alice Smith",  # text added by mutations (the person's name)
    "Paid by Alice",  # texts[] change (the person's first name)
    "Thank you, Alice",  # second page's heading (first name)
    "abc123",  # a URL's query inside page text
    "alice%40example.com",  # URL query (Meta href, link href)
    # planted here
    "+44 20 7946 0958",  # phone in text
    "7946 0958",
    "(415) 555-2671",  # phone in a console error
    "4111 1111 1111 1111",  # card in a data attribute and the console
    "DE89 3704 0044 0532 0130 00",  # IBAN in a title attribute
    "3704 0044",
    "LOY-99812-ZX",  # the person's plan-classified property, in text
    "loy-99812-zx",  # ... in another case
    "gold-7731",  # inside a [data-sextant-mask] element
    "platinum-4410",  # a child added later to that element
    "diamond-5521",  # a texts[] change of a text node inside it
    "vip-secret",  # inside .ph-sensitive
    "bob.jones@corp.example",  # an e-mail in an alt attribute
    "token=s3cr3t",  # a URL query in an aria-label
    "s3cr3t",
    "Smith household",  # the name inside a placeholder (whole-word "Smith" is not a value: "Alice Smith" is)
]
# Not personal: support reads these.
READABLE = [
    "Checkout",
    "Buy now",
    "Coupon",
    "Not paid yet",
    "Standard shipping",
    "Your order 42 is on its way.",
    "Payment failed for ",
    "Call me at ",
    "Delivery notes",
    "Your coupon code",
    "Order summary added later",
    "Card declined, call ",
    "posthog-js 1.449.2",
]


def el(node_id, tag, attrs=None, children=()):
    return {"type": 2, "tagName": tag, "attributes": attrs or {}, "childNodes": list(children), "id": node_id}


def txt(node_id, text):
    return {"type": 3, "textContent": text, "id": node_id}


def planted_events() -> list[dict]:
    """The fixture recording with PII planted on its first page and in later events."""
    events = recent_events()
    first = next(e for e in events if e["type"] == 2)
    body = next(
        n
        for n in first["data"]["node"]["childNodes"][-1]["childNodes"]
        if isinstance(n, dict) and n.get("tagName") == "body"
    )
    body["childNodes"] += [
        el(901, "p", {"id": "phone"}, [txt(902, "Call me at +44 20 7946 0958 after six")]),
        el(
            903,
            "div",
            {"data-sextant-mask": "", "id": "tier"},
            [el(904, "span", {}, [txt(905, "Tier gold-7731")])],
        ),
        el(906, "div", {"class": "box ph-sensitive"}, [txt(907, "Member note vip-secret")]),
        el(908, "p", {"class": "member"}, [txt(909, "Member LOY-99812-ZX, again loy-99812-zx")]),
        el(
            910,
            "img",
            {
                "alt": "Avatar of bob.jones@corp.example",
                "title": "Refund to DE89 3704 0044 0532 0130 00",
                "data-card": "4111 1111 1111 1111",
                "aria-label": "see https://shop.localhost/me?token=s3cr3t",
                "src": "/avatar.png?token=s3cr3t",
            },
        ),
        el(911, "h2", {}, [txt(912, "Delivery notes")]),
        el(913, "textarea", {"placeholder": "Notes for the Alice Smith household"}),
        el(914, "div", {"id": "summary-box"}),
        el(915, "p", {}, [txt(916, "posthog-js 1.449.2 at 2024-01-15 12:30:45")]),
    ]
    ts = first["timestamp"]
    later = [
        {
            "type": 3,
            "timestamp": ts + 1,
            "data": {
                "source": 0,
                "texts": [{"id": 905, "value": "Tier now diamond-5521"}],
                "attributes": [],
                "removes": [],
                "adds": [
                    {"parentId": 903, "nextId": None, "node": el(920, "span", {})},
                    {"parentId": 920, "nextId": None, "node": txt(921, "Upgraded to platinum-4410")},
                    {"parentId": 914, "nextId": None, "node": el(922, "h3", {})},
                    {"parentId": 922, "nextId": None, "node": txt(923, "Order summary added later")},
                ],
            },
        },
        {
            "type": 6,
            "timestamp": ts + 2,
            "data": {
                "plugin": "rrweb/console@1",
                "payload": {
                    "level": "error",
                    "trace": ["pay (https://shop.localhost/pay?card=4111111111111111:1:2)"],
                    "payload": [
                        json.dumps("Card declined, call (415) 555-2671 about 4111 1111 1111 1111"),
                        json.dumps({"customer": "Alice Smith", "code": "LOY-99812-ZX"}),
                    ],
                },
            },
        },
    ]
    index = events.index(first) + 1
    assert all(e["timestamp"] > ts + 2 for e in events[index:]), "room after the full snapshot"
    return events[:index] + later + events[index:]


@pytest.fixture
def shop(make_project, make_user, alice, events):
    """A project with the recorded person, their classified property, and the recording."""
    project = make_project("Policy shop", members={alice: Role.ADMIN})
    support = make_user("sam@example.com")
    Membership.objects.create(user=support, project=project, role=Role.SUPPORT)
    PropertyDefinition.objects.create(
        project=project, name="loyalty_code", type="string", pii_class="sensitive"
    )
    builder = type(events)(project.id)
    person_id = builder.person_for(DISTINCT_ID)
    builder.add("$identify", DISTINCT_ID, dt.datetime.now(dt.UTC) - dt.timedelta(hours=2))
    builder.flush()
    ch.insert(
        "persons",
        {
            "project_id": [project.id],
            "id": [person_id],
            "created_at": [dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)],
            "properties": [json.dumps(PERSON)],
            "is_identified": [1],
            "is_deleted": [0],
            "version": [1],
        },
    )
    recorded = planted_events()
    session_id = record(project, recorded, distinct_id=DISTINCT_ID)
    support_client, admin_client = Client(), Client()
    support_client.force_login(support)
    admin_client.force_login(alice)
    return project, session_id, recorded, support_client, admin_client


def snapshots_of(client, project, session_id) -> tuple[str, list[dict]]:
    response = client.get(f"/api/projects/{project.pk}/recordings/{session_id}/snapshots/")
    assert response.status_code == 200
    return response.content.decode(), response.json()["snapshots"]


def nodes(node):
    yield node
    for child in node.get("childNodes", []):
        yield from nodes(child)


def by_id(snapshots, node_id):
    first = next(e for e in snapshots if e["type"] == 2)
    return next(n for n in nodes(first["data"]["node"]) if n.get("id") == node_id)


def test_support_sees_no_planted_pii_but_reads_the_page(shop):
    project, session_id, recorded, support_client, _ = shop
    assert project.replay_text_masking == "policy"  # the default
    body, snapshots = snapshots_of(support_client, project, session_id)
    leaked = [value for value in PLANTED if value.lower() in body.lower()]
    assert leaked == []
    missing = [text for text in READABLE if text not in body]
    assert missing == []
    assert len(snapshots) == len(recorded)
    # just the match is masked, same length
    assert by_id(snapshots, 902)["textContent"] == "Call me at *** ** **** **** after six"
    assert by_id(snapshots, 909)["textContent"] == "Member ************, again ************"
    assert by_id(snapshots, 19)["textContent"] == (
        "Signed in as *****************. Help: https://shop.localhost/help?token=******"
    )
    img = by_id(snapshots, 910)["attributes"]
    assert img["alt"] == "Avatar of **********************"
    assert img["title"] == "Refund to **** **** **** **** **** **"
    assert img["src"] == "/avatar.png?token=******"
    # inputs always, whatever they hold
    inputs = [e["data"]["text"] for e in snapshots if e["type"] == 3 and e["data"].get("source") == 5]
    assert inputs and all(set(t) <= {"*", " "} for t in inputs)
    assert by_id(snapshots, 32)["attributes"]["value"] == "*********************"
    # the selectors: the element's text, and what mutations add to it later
    assert by_id(snapshots, 905)["textContent"] == "**** *********"
    assert by_id(snapshots, 907)["textContent"] == "****** **** **********"
    mutation = next(e for e in snapshots if e["type"] == 3 and e["data"].get("source") == 0)
    assert mutation["data"]["texts"] == [{"id": 905, "value": "**** *** ************"}]
    added = {a["node"]["id"]: a["node"] for a in mutation["data"]["adds"]}
    assert added[921]["textContent"] == "******** ** *************"
    assert added[923]["textContent"] == "Order summary added later"  # outside: readable
    # console: the error stays readable, its PII masked
    console = [e["data"]["payload"] for e in snapshots if e["type"] == 6]
    planted_error = next(c for c in console if "Card declined" in c["payload"][0])
    assert (
        json.loads(planted_error["payload"][0])
        == "Card declined, call ***** ******** about **** **** **** ****"
    )
    assert json.loads(planted_error["payload"][1]) == {"customer": "***** *****", "code": "************"}


def test_the_player_page_console_and_pages_follow_the_policy(shop):
    project, session_id, _, support_client, admin_client = shop
    page = html.unescape(support_client.get(f"/project/{project.pk}/replay/{session_id}").content.decode())
    console = page.split('id="rp-console"')[1].split("</ol>")[0]
    assert "Payment failed for *****************" in console
    assert "Card declined, call ***** ******** about **** **** **** ****" in console
    for value in ("alice@example.com", "Alice Smith", "555-2671", "4111 1111", "LOY-99812-ZX"):
        assert value not in console
    assert "alice%40example.com" not in page
    admin_page = html.unescape(
        admin_client.get(f"/project/{project.pk}/replay/{session_id}").content.decode()
    )
    assert "Card declined, call (415) 555-2671 about 4111 1111 1111 1111" in admin_page


def test_all_mode_still_masks_every_text(shop):
    project, session_id, recorded, support_client, _ = shop
    project.replay_text_masking = "all"
    project.save(update_fields=["replay_text_masking"])
    body, snapshots = snapshots_of(support_client, project, session_id)
    assert snapshots == mask_events(recorded, "all", (), PERSON.values())
    for text in ("Checkout", "Buy now", "Delivery notes", "Payment failed", "Order summary added later"):
        assert text not in body
    assert [v for v in PLANTED if v.lower() in body.lower()] == []


def test_admin_sees_everything_as_recorded(shop):
    project, session_id, recorded, _, admin_client = shop
    body, snapshots = snapshots_of(admin_client, project, session_id)
    assert snapshots == recorded
    for value in ("gold-7731", "platinum-4410", "+44 20 7946 0958", "LOY-99812-ZX", "SECRETCOUPON42"):
        assert value in body


def test_project_selectors_replace_the_defaults(shop):
    project, session_id, _, support_client, _ = shop
    project.replay_mask_selectors = "h2, #summary-box"
    project.save(update_fields=["replay_mask_selectors"])
    body, snapshots = snapshots_of(support_client, project, session_id)
    assert "Delivery notes" not in body  # h2
    assert "Order summary added later" not in body  # added later under #summary-box
    assert by_id(snapshots, 905)["textContent"] == "Tier gold-7731"  # [data-sextant-mask] no longer listed
    assert "Checkout" in body


def test_a_viewer_with_view_pii_but_not_admin_sees_the_text(shop, make_user):
    project, session_id, recorded, _, _ = shop
    analyst = make_user("ann@example.com")
    Membership.objects.create(user=analyst, project=project, role=Role.ANALYST)
    client = Client()
    client.force_login(analyst)
    assert snapshots_of(client, project, session_id)[1] == recorded


# ------------------------------------------------------------------ units of the policy


def test_a_class_added_later_masks_the_elements_text_from_then_on():
    masker = RecordingMasker("policy", parse_selectors(".ph-sensitive"))
    page = {
        "type": 2,
        "data": {"node": el(1, "div", {}, [el(2, "p", {"class": "x"}, [txt(3, "Hello there")])])},
    }
    change = {
        "type": 3,
        "data": {
            "source": 0,
            "attributes": [{"id": 2, "attributes": {"class": "x ph-sensitive"}}],
            "texts": [],
        },
    }
    text = {
        "type": 3,
        "data": {"source": 0, "texts": [], "adds": [{"parentId": 2, "node": txt(4, "Secret")}]},
    }
    out = [masker.event(e) for e in (page, change, text)]
    assert out[0]["data"]["node"]["childNodes"][0]["childNodes"][0]["textContent"] == "Hello there"
    assert out[2]["data"]["adds"][0]["node"]["textContent"] == "******"


def test_a_new_page_forgets_the_masked_nodes():
    masker = RecordingMasker("policy", parse_selectors("[data-sextant-mask]"))
    first = {"type": 2, "data": {"node": el(1, "div", {"data-sextant-mask": "1"}, [txt(2, "Hidden")])}}
    second = {"type": 2, "data": {"node": el(1, "div", {}, [txt(2, "Shown")])}}
    change = {"type": 3, "data": {"source": 0, "texts": [{"id": 2, "value": "Still shown"}]}}
    out = [masker.event(e) for e in (first, second, change)]
    assert out[0]["data"]["node"]["childNodes"][0]["textContent"] == "******"
    assert out[1]["data"]["node"]["childNodes"][0]["textContent"] == "Shown"
    assert out[2]["data"]["texts"][0]["value"] == "Still shown"


def test_button_inputs_keep_their_label_and_typed_inputs_do_not():
    masker = RecordingMasker("policy")
    node = el(
        1,
        "form",
        {},
        [
            el(2, "input", {"type": "submit", "value": "Place order"}),
            el(3, "input", {"type": "text", "value": "x1"}),
        ],
    )
    out = masker.node(node, None)
    assert [c["attributes"]["value"] for c in out["childNodes"]] == ["Place order", "**"]


def test_person_values_mask_whole_words_case_insensitively():
    masker = RecordingMasker("policy", (), ["Ann", "ann.lee@example.com", "Al", 42, None, True])
    assert masker.pii_text("Annual report for ANN, by ann, Ann's") == "Annual report for ***, by ***, ***'s"
    assert masker.pii_text("Mail ann.lee%40example.com or ann.lee@example.com") == (
        "Mail ********************* or *******************"
    )
    assert masker.pii_text("Al 42 Albert") == "Al 42 Albert"  # shorter than 3 characters: not searched


def test_policy_masking_is_idempotent_on_the_planted_recording():
    events = planted_events()
    masked = mask_events(
        events, "policy", parse_selectors("[data-sextant-mask], .ph-sensitive"), PERSON.values()
    )
    again = mask_events(
        masked, "policy", parse_selectors("[data-sextant-mask], .ph-sensitive"), PERSON.values()
    )
    assert again == masked
    assert copy.deepcopy(events) == events  # the input is not changed


@pytest.mark.parametrize(
    "text, error",
    [
        ("div p", "combinators"),
        ("a > b", "combinators"),
        (":hover", "not a simple selector"),
        ("[x=", "not a simple selector"),
    ],
)
def test_selector_grammar_refuses_what_it_does_not_support(text, error):
    with pytest.raises(ValueError, match=error):
        parse_selectors(text)


def test_selector_grammar_matches():
    sel = parse_selectors('input.card[name=cc], #tier, [data-sextant-mask], [role="note"], *.x')
    assert selectors_match(sel, "input", {"class": "a card", "name": "cc"})
    assert not selectors_match(sel, "input", {"class": "card", "name": "c"})
    assert not selectors_match(sel, "div", {"class": "card", "name": "cc"})
    assert selectors_match(sel, "div", {"id": "tier"})
    assert selectors_match(sel, "span", {"data-sextant-mask": ""})
    assert selectors_match(sel, "p", {"role": "note"})
    assert selectors_match(sel, "p", {"class": "x"})
    assert not selectors_match(sel, "p", {"class": "xx"})


# ------------------------------------------------------------------ settings
def test_settings_page_edits_both_settings_audited_and_validates(shop):
    project, _, _, _, admin_client = shop
    url = f"/project/{project.pk}/settings/"
    page = admin_client.get(url).content.decode()
    assert 'name="replay_text_masking"' in page and 'name="replay_mask_selectors"' in page
    data = {
        "name": project.name,
        "time_zone": "UTC",
        "recording_enabled": "on",
        "recording_retention_days": 30,
        "replay_resources": "origin",
        "replay_text_masking": "all",
        "replay_mask_selectors": ".secret ,  [data-x=1]",
    }
    assert admin_client.post(url, data).status_code == 302
    project.refresh_from_db()
    assert (project.replay_text_masking, project.replay_mask_selectors) == ("all", ".secret, [data-x=1]")
    entry = AuditEntry.objects.filter(project=project, action="project.settings").latest("id")
    assert entry.after["replay_text_masking"] == "all"
    assert entry.after["replay_mask_selectors"] == ".secret, [data-x=1]"
    bad = admin_client.post(url, {**data, "replay_mask_selectors": ".account span"})
    assert bad.status_code == 400
    assert "combinators" in bad.content.decode()
    bad = admin_client.post(url, {**data, "replay_text_masking": "some"})
    assert bad.status_code == 400


def test_capture_config_does_not_change_with_the_viewing_policy(make_project):
    """replay_text_masking decides what roles without view-PII see of what was captured;
    what posthog-js captures stays the capture setting's (inputs always masked, all text only
    with recording_mask_all_text), so admins can still read what support sees masked."""
    project = make_project("Config shop")
    policy = project_config(project)["sessionRecording"]["masking"]
    project.replay_text_masking = "all"
    assert (
        project_config(project)["sessionRecording"]["masking"]
        == policy
        == {
            "maskAllInputs": True,
            "maskTextSelector": None,
        }
    )
    project.recording_mask_all_text = True
    assert project_config(project)["sessionRecording"]["masking"]["maskTextSelector"] == "*"


@settings(max_examples=examples(200), deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "Alice",
                "Smith",
                "alice@example.com",
                "+44 20 7946 0958",
                "4111 1111 1111 1111",
                "Buy",
                " ",
                ", ",
            ]
        )
        | st.text(max_size=12),
        max_size=12,
    )
)
def test_policy_text_masks_in_place_keeping_length_and_is_idempotent(parts):
    masker = RecordingMasker("policy", (), PERSON.values())
    text = "".join(parts)
    shown = masker.pii_text(text)
    assert len(shown) == len(text)
    assert all(a == b or b == "*" for a, b in zip(text, shown, strict=True))  # only masks, in place
    assert masker.pii_text(shown) == shown
    if "alice@example.com" in parts:
        assert "alice@example.com" not in shown.lower()
