"""PII in path nodes: every label that leaves the server passes through the Presenter
(paths.masking). alice is an admin (VIEW_PII), bob an exec (no VIEW_PII)."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_app.models import PersonalAPIKey
from governance import presenter
from governance.masking import MASK_CHAR, mask_query_values
from governance.presenter import Presenter
from insights.registry import KINDS
from paths.masking import FULL_MASK, KIND_EVENT, KIND_PAGEVIEW, KIND_SCREEN, NodeMasker
from paths.queries import PathsQueryRunner
from tests.conftest import examples
from tests.lazy import with_lazy_parts

pytestmark = pytest.mark.django_db
URL = "https://shop.example.com"
JANE, JOE = "jane@example.com", "joe@example.com"


@pytest.fixture
def url_is_pii(monkeypatch):
    """The project's tracking plan classifies $current_url as PII."""
    monkeypatch.setattr(presenter, "_pii_sources", [lambda project: {"$current_url"}])


@pytest.fixture
def pii_paths(events):
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    journeys = {
        "s1": ["/", f"/users/{JANE}", "/pricing"],
        "s2": ["/", f"/users/{JANE}"],
        "s3": ["/", f"/users/{JOE}", "/pricing"],
        "s4": ["/", "/pricing"],
    }
    for sid, pages in journeys.items():
        for j, page in enumerate(pages):
            events.add(
                "$pageview",
                f"u-{sid}",
                now + dt.timedelta(seconds=10 * j),
                {"$current_url": URL + page},
                session_id=sid,
            )
        events.add("signup", f"u-{sid}", now + dt.timedelta(seconds=100), session_id=sid)
    # A screen whose name carries a query string with an email in it.
    events.add("$screen", "u-m1", now, {"$screen_name": "Home"}, session_id="m1")
    events.add(
        "$screen",
        "u-m1",
        now + dt.timedelta(seconds=5),
        {"$screen_name": f"Search?email={JANE}&page=2"},
        session_id="m1",
    )
    events.flush()
    return events


def page(client, project, name="", **params) -> str:
    response = client.get(
        f"/project/{project.pk}/paths/{name}?" + urlencode(params, doseq=True),
        headers={"HX-Request": "true"} if name else {},
    )
    assert response.status_code == 200, response.content[:500]
    return with_lazy_parts(client, response.content.decode())


def body(**extra) -> dict:
    return {"kind": "PathsQuery", "date_from": "-7d", **extra}


def test_admin_sees_raw_nodes(alice_client, project, pii_paths, url_is_pii):
    html = page(alice_client, project, date_from="-7d", point="/")
    assert f"/users/{JANE}" in html and f"/users/{JOE}" in html


def test_exec_sees_pii_urls_masked_everywhere_on_the_page(client, bob, project, pii_paths, url_is_pii):
    client.force_login(bob)
    html = page(client, project, date_from="-7d", point="/", event_type=["$pageview", "custom_event"])
    assert "Top complete paths" in html  # the part the page loads after the Sankey
    assert JANE not in html and JOE not in html and "/users/" not in html
    assert MASK_CHAR in html
    # Event names are not properties: `signup` stays readable.
    assert "signup" in html


def test_masked_nodes_keep_the_counts_and_never_merge(project, pii_paths, bob, url_is_pii):
    spec = KINDS["PathsQuery"].parse(body(start_point="/"), project)
    result = PathsQueryRunner(project, spec).run()
    raw = result.to_json(None)
    masked = result.to_json(Presenter(can_view_pii=False, pii=frozenset({"$current_url"})))
    # Same edges, same values, in the same order; only labels differ.
    assert [(e["value"], e["average_conversion_time_seconds"]) for e in raw["results"]] == [
        (e["value"], e["average_conversion_time_seconds"]) for e in masked["results"]
    ]
    assert [{k: v for k, v in d.items() if k != "node"} for d in raw["dropoff"]] == [
        {k: v for k, v in d.items() if k != "node"} for d in masked["dropoff"]
    ]
    # The mapping raw -> masked is a function and one-to-one (two emails: two labels).
    mapping: dict[str, str] = {}
    for r, m in zip(raw["results"], masked["results"], strict=True):
        for a, b in ((r["source"], m["source"]), (r["target"], m["target"])):
            assert mapping.setdefault(a, b) == b
    assert len(set(mapping.values())) == len(mapping)
    jane, joe = mapping[f"2_/users/{JANE}"], mapping[f"2_/users/{JOE}"]
    assert jane != joe and JANE not in jane and MASK_CHAR in jane
    # Stable: the same raw node gets the same label in another run.
    again = (
        PathsQueryRunner(project, spec)
        .run()
        .to_json(Presenter(can_view_pii=False, pii=frozenset({"$current_url"})))
    )
    assert (again["results"], again["dropoff"]) == (masked["results"], masked["dropoff"])


def test_without_classification_exec_sees_urls_but_query_values_are_masked(client, bob, project, pii_paths):
    client.force_login(bob)
    html = page(client, project, date_from="-7d", event_type="$screen")
    assert "Search?email=" in html and JANE not in html and "page=2" not in html
    html = page(client, project, date_from="-7d")
    # $current_url is not PII here, so the path shows; the e-mail address inside it is masked.
    assert "/users/" in html and JANE not in html


def test_screen_names_masked_when_screen_name_is_pii(client, bob, project, pii_paths, monkeypatch):
    monkeypatch.setattr(presenter, "_pii_sources", [lambda project: {"$screen_name"}])
    client.force_login(bob)
    html = page(client, project, date_from="-7d", event_type="$screen")
    assert "Home" not in html.split('id="result"', 1)[1] and "Search" not in html.split('id="result"', 1)[1]


def test_exec_drill_down_resolves_masked_labels_and_refuses_raw_ones(
    client, bob, project, pii_paths, url_is_pii
):
    spec = body(start_point="/")
    result = PathsQueryRunner(project, KINDS["PathsQuery"].parse(spec, project)).run()
    presenter = Presenter(can_view_pii=False, pii=frozenset({"$current_url"}))
    masked = result.masker(presenter).node(f"2_/users/{JANE}")
    client.force_login(bob)
    html = page(client, project, "sessions/", q=json.dumps(spec), node=masked)
    assert "/replay/" not in html  # an exec may not watch recordings; the sessions are listed
    assert "s1" in html and "s2" in html and "s3" not in html
    assert JANE not in html and masked.split("_", 1)[1] in html
    # A raw PII label (guessed) is not accepted from a user who may not see it.
    response = client.get(
        f"/project/{project.pk}/paths/sessions/?"
        + urlencode({"q": json.dumps(spec), "node": f"2_/users/{JANE}"})
    )
    assert response.status_code == 400


def test_json_api_masks_for_the_key_owner(client, bob, project, pii_paths, url_is_pii):
    _, key = PersonalAPIKey.issue(bob, "tests")
    response = client.post(
        f"/api/projects/{project.pk}/query/",
        data=json.dumps(body(start_point="/")),
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert response.status_code == 200
    text = response.content.decode()
    assert JANE not in text and JOE not in text and "/users/" not in text
    step2 = {e["target"] for e in response.json()["results"] if e["source"].startswith("1_")}
    assert len(step2) == 3  # /users/<jane>, /users/<joe> and /pricing stay three nodes


def test_dashboard_tile_masks_for_the_viewer(project, pii_paths, url_is_pii):
    kind = KINDS["PathsQuery"]
    spec = kind.parse(body(start_point="/"), project)
    html = kind.render_tile(None, project, spec, kind.run(project, spec))  # no request: no permissions
    assert JANE not in html and MASK_CHAR in html


# ------------------------------------------------------------------ the masker itself
names = st.text(alphabet="/abc?=&@.xe", min_size=1, max_size=12)


@settings(max_examples=examples(200), deadline=None)
@given(
    st.sets(names, min_size=1, max_size=40),
    st.sampled_from([0, KIND_PAGEVIEW, KIND_SCREEN, KIND_EVENT, KIND_PAGEVIEW | KIND_EVENT]),
)
def test_masker_is_one_to_one_and_stable(raw_names, bits):
    presenter = Presenter(can_view_pii=False, pii=frozenset({"$current_url"}))
    m = NodeMasker(presenter, 7, ("$pageview",), {n: bits for n in raw_names})
    labels = {n: m.name(n) for n in raw_names}
    assert len(set(labels.values())) == len(labels)  # two raw nodes never merge
    assert labels == {
        n: NodeMasker(presenter, 7, ("$pageview",), {n: bits for n in raw_names}).name(n) for n in raw_names
    }
    for n, label in labels.items():
        if bits & KIND_PAGEVIEW:
            assert (
                label.startswith(FULL_MASK + " ‹")
                and label.endswith("›")
                and len(label) == len(FULL_MASK) + 11
            )
        elif "?" in n and "=" in n.split("?", 1)[1]:
            assert label.startswith(mask_query_values(n))


def test_pii_viewer_and_no_presenter_see_raw():
    m = NodeMasker(
        Presenter(can_view_pii=True, pii=frozenset({"$current_url"})),
        7,
        ("$pageview",),
        {"/u/a@b.c": KIND_PAGEVIEW},
    )
    assert m.name("/u/a@b.c") == "/u/a@b.c" and m.node("2_/u/a@b.c") == "2_/u/a@b.c"
    assert NodeMasker(None, 7, ("$pageview",)).name("/x?e=1") == "/x?e=1"


def test_unknown_names_are_masked_conservatively():
    m = NodeMasker(
        Presenter(can_view_pii=False, pii=frozenset({"$current_url"})),
        7,
        ("$pageview", "signup"),
        {"signup": KIND_EVENT},
    )
    assert m.name("signup") == "signup"
    assert MASK_CHAR in m.name("/never-seen")


def test_exec_drill_down_without_pii_sources_takes_labels_as_they_are(client, bob, project, pii_paths):
    client.force_login(bob)
    spec = body(start_point="/")
    html = page(client, project, "sessions/", q=json.dumps(spec), node="2_/pricing")
    assert "s4" in html and "s1" not in html  # s1 reaches /pricing at step 3
    assert "s1" in page(client, project, "sessions/", q=json.dumps(spec), node="3_/pricing")
