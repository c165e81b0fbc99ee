"""Paths page, drill-down, cleaning-rule editor, preview and JSON API."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import pytest

from analytics_app.query_api import REGISTRY
from insights.registry import KINDS
from paths.models import PathCleaningRule
from tests.html import parse
from tests.lazy import lazy_urls

pytestmark = pytest.mark.django_db
URL = "https://shop.example.com"


@pytest.fixture
def some_paths(events):
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    for i, pages in enumerate([["/", "/product/12", "/buy"], ["/", "/product/7"], ["/", "/blog/x"]]):
        for j, page in enumerate(pages):
            events.add(
                "$pageview",
                f"u{i}",
                now + dt.timedelta(seconds=10 * j),
                {"$current_url": URL + page},
                session_id=f"s{i}",
            )
    events.flush()
    return events


def sankey(doc) -> dict:
    """The Sankey trace of the page's (or tile's) one paths figure."""
    (trace,) = json.loads(doc.one("[data-paths-figure] script").text)["data"]
    assert trace["type"] == "sankey"
    return trace


def url(project, name="", **params) -> str:
    return f"/project/{project.pk}/paths/{name}" + ("?" + urlencode(params, doseq=True) if params else "")


def test_full_page_renders_builder_sankey_and_tables(alice_client, project, some_paths):
    response = alice_client.get(
        url(project, date_from="-7d", rule_regex=r"/product/\d+", rule_alias="/product/:id")
    )
    assert response.status_code == 200
    html = response.content.decode()
    doc = parse(html)
    assert doc.has("form#paths-form") and "/product/:id" in " ".join(
        sankey(doc.one("section#result"))["node"]["label"]
    )
    assert doc.one("input[name=point]").attrs["list"] == "path-nodes"
    assert not doc.find("h3", text="Top complete paths")  # loaded after the Sankey
    assert not doc.select("datalist#path-nodes option")  # the picker too
    nodes_url, top_url = sorted(lazy_urls(html))  # /paths/nodes/, /paths/top/
    assert doc.one("datalist#path-nodes").attrs["hx-get"] == nodes_url
    nodes = alice_client.get(nodes_url, headers={"HX-Request": "true"})
    assert nodes.status_code == 200
    assert "/" in [o.attrs["value"] for o in parse(nodes).select("option")]
    top = alice_client.get(top_url, headers={"HX-Request": "true"})
    assert top.status_code == 200
    top_doc = parse(top)
    assert top_doc.is_fragment and top_doc.texts("h3") == ["Top complete paths"]
    paths = [tr.find("td").text for tr in top_doc.select("table.top-paths tbody tr")]
    assert "/ → /product/:id → /buy" in paths  # the query's own cleaning rule applies


@pytest.mark.parametrize("part", ["top/", "nodes/"])  # the top paths, the picker's nodes
def test_a_lazy_part_with_a_bad_spec_is_400_and_needs_the_gate(alice_client, client, charlie, project, part):
    assert alice_client.get(url(project, part, q="nope")).status_code == 400
    too_short = json.dumps({"kind": "PathsQuery", "step_limit": 1})
    assert alice_client.get(url(project, part, q=too_short)).status_code == 400
    client.force_login(charlie)
    assert client.get(url(project, part, q=json.dumps({"kind": "PathsQuery"}))).status_code == 404


def test_htmx_request_renders_only_the_result_partial(alice_client, project, some_paths):
    response = alice_client.get(url(project, date_from="-7d", point="/"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    doc = parse(response)
    assert [c for c in doc.children if not isinstance(c, str)] == [doc.one("section#result")]
    assert not doc.has("#paths-form") and sankey(doc)


def test_q_reopens_the_same_state(alice_client, project, some_paths):
    q = json.dumps(
        {
            "kind": "PathsQuery",
            "date_from": "-7d",
            "start_point": "/",
            "step_limit": 3,
            "exclude": ["/blog/x"],
        }
    )
    form = parse(alice_client.get(url(project, q=q))).one("form#paths-form")
    assert form.one("input[name=point]").attrs["value"] == "/"
    assert form.one("input[name=step_limit]").attrs["value"] == "3"
    assert form.one("textarea[name=exclude]").text == "/blog/x"


@pytest.mark.parametrize(
    "params, field",
    [
        ({"step_limit": "1"}, "step_limit"),
        ({"rule_regex": "(", "rule_alias": "x"}, "path_cleaning[0].regex"),
        ({"date_from": "custom", "custom_from": "nope"}, "date_from"),
    ],
)
def test_bad_params_are_400_with_form_errors(alice_client, project, params, field):
    response = alice_client.get(url(project, **params))
    assert response.status_code == 400
    assert parse(response).texts("[role=alert] .form-errors code") == [field]
    partial = alice_client.get(url(project, **params), headers={"HX-Request": "true"})
    assert partial.status_code == 400 and parse(partial).texts("[role=alert] .form-errors code") == [field]


def test_exec_can_view(client, bob, project, some_paths):
    client.force_login(bob)
    assert client.get(url(project)).status_code == 200


def test_stranger_gets_404(client, charlie, project):
    client.force_login(charlie)
    assert client.get(url(project)).status_code == 404
    assert client.get(url(project, "sessions/", node="1_/")).status_code == 404


def test_navigation_lists_paths(alice_client, project):
    page = parse(alice_client.get(f"/project/{project.pk}/"))
    assert page.find("a", href=f"/project/{project.pk}/paths/", text="Paths")


def test_drill_down_lists_sessions_with_person_and_replay_links(alice_client, project, some_paths):
    q = json.dumps({"kind": "PathsQuery", "date_from": "-7d"})
    response = alice_client.get(
        url(project, "sessions/", q=q, node="1_/", target="2_/product/12"), headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    person = some_paths.person_for("u0")
    (row,) = parse(response).select("table.paths-sessions tbody tr")
    assert row.find("a").attrs["href"] == f"/project/{project.pk}/persons/{person}/"
    assert row.one("a.replay-link").attrs["href"].startswith(f"/project/{project.pk}/replay/s0?at=")


def test_drill_down_bad_params_are_400(alice_client, project):
    assert alice_client.get(url(project, "sessions/", q="nope", node="1_/")).status_code == 400
    q = json.dumps({"kind": "PathsQuery"})
    assert alice_client.get(url(project, "sessions/", q=q, node="no-step")).status_code == 400


def test_cleaning_rules_editor_admin_adds_and_deletes(alice_client, project):
    response = alice_client.post(
        url(project, "cleaning/"),
        {"regex": r"/product/\d+", "alias": "/product/:id"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert [
        [td.text for td in tr.find_all("td")][1:3] for tr in parse(response).select("#rules tbody tr")
    ] == [[r"/product/\d+", "/product/:id"]]
    rule = PathCleaningRule.objects.get(project=project)
    assert alice_client.post(url(project, "cleaning/"), {"regex": "(", "alias": "x"}).status_code == 400
    assert alice_client.post(url(project, f"cleaning/{rule.pk}/delete/")).status_code == 200
    assert not PathCleaningRule.objects.filter(project=project).exists()


def test_exec_cannot_change_cleaning_rules(client, bob, project):
    client.force_login(bob)
    assert client.get(url(project, "cleaning/")).status_code == 200
    assert client.post(url(project, "cleaning/"), {"regex": "a+", "alias": "b"}).status_code == 403


def test_cleaning_preview_shows_what_a_rule_changes(alice_client, project, some_paths):
    PathCleaningRule.objects.create(project=project, regex="^/blog/.*$", alias="/blog/:post")
    response = alice_client.get(
        url(project, "cleaning/preview/", rule_regex=r"/product/\d+", rule_alias="/product/:id"),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    rows = {
        tr.find_all("td")[1].text: tr.find_all("td")[2].text
        for tr in parse(response).select("#preview tbody tr")
    }
    assert rows["/product/12"] == "/product/:id ✎" and rows["/blog/x"] == "/blog/:post ✎" and rows["/"] == "/"
    assert (
        alice_client.get(url(project, "cleaning/preview/", rule_regex="(", rule_alias="x")).status_code == 400
    )


def api(client, project, api_key, body):
    return client.post(
        f"/api/projects/{project.pk}/query/",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key}"},
    )


def test_json_api_runs_paths(client, project, api_key, some_paths):
    response = api(
        client,
        project,
        api_key,
        {
            "kind": "PathsQuery",
            "date_from": "-7d",
            "path_cleaning": [{"regex": r"/product/\d+", "alias": "/product/:id"}],
            "edge_limit": 2,
        },
    )
    assert response.status_code == 200
    body = response.json()
    assert body["results"][0] == {
        "source": "1_/",
        "target": "2_/product/:id",
        "value": 2,
        "average_conversion_time_seconds": 10.0,
    }
    assert len(body["results"]) == 2 and "dropoff" in body


def test_json_api_rejects_bad_specs(client, project, api_key):
    response = api(client, project, api_key, {"kind": "PathsQuery", "step_limit": 1})
    assert response.status_code == 400 and "step_limit" in response.json()["errors"]


def test_kinds_are_registered():
    assert "PathsQuery" in REGISTRY and KINDS["PathsQuery"].builder_url_name == "paths:paths"


def test_insight_kind_runs_and_renders_a_tile(project, some_paths):
    kind = KINDS["PathsQuery"]
    spec = kind.parse({"kind": "PathsQuery", "date_from": "-7d"}, project)
    assert kind.parse(kind.to_json(spec), project) == spec
    result = kind.run(project, kind.with_date_range(spec, "-30d"))
    html = kind.render_tile(None, project, spec, result)
    assert sankey(parse(html))
