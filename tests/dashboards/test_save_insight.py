"""Saving a builder state as an insight, reopening it, renaming and deleting it."""

import datetime as dt
import json
from urllib.parse import parse_qs, urlparse

import pytest
from django.template.loader import render_to_string
from django.test import RequestFactory

from dashboards.models import Insight
from governance.roles import ROLE_PERMISSIONS, Role
from tests.html import parse

from .conftest import url

HX = {"HX-Request": "true"}


def test_save_insight_via_htmx_stores_the_canonical_spec_and_offers_add_to_dashboard(
    alice_client, project, fake_kind, dashboard
):
    response = alice_client.post(
        url("insight_new", project),
        {
            "kind": "FakeQuery",
            "spec": json.dumps({"n": 3, "event": "$pageview"}),
            "name": "Pageviews x2",
            "description": "d",
        },
        headers=HX,
    )
    assert response.status_code == 200
    saved = Insight.objects.get(project=project)
    assert (saved.name, saved.kind, saved.spec, saved.created_by.email) == (
        "Pageviews x2",
        "FakeQuery",
        {"n": 3, "event": "$pageview"},
        "alice@example.com",
    )
    doc = parse(response)
    assert doc.is_fragment
    message = doc.one(".save-insight p.message.success")
    assert message.text.startswith("Saved") and message.find("a").attrs["href"] == url(
        "insight", project, insight_id=saved.pk
    )
    add = doc.one(".add-to-dashboard form")
    assert add.attrs["action"] == url("insight_add_to_dashboard", project, insight_id=saved.pk)
    assert [o.text for o in add.select("select[name=dashboard] option") if o.attrs.get("value")] == ["Growth"]


def test_save_insight_without_htmx_redirects_to_the_insight(alice_client, project, fake_kind):
    response = alice_client.post(
        url("insight_new", project), {"kind": "FakeQuery", "spec": '{"n": 1}', "name": "One"}
    )
    saved = Insight.objects.get(project=project)
    assert response.status_code == 302 and response.url == url("insight", project, insight_id=saved.pk)


@pytest.mark.parametrize(
    ("kind", "spec", "message"),
    [
        ("FakeQuery", '{"n": "three"}', "must be an integer"),
        ("FakeQuery", "{not json", "not valid JSON"),
        ("FakeQuery", "[1, 2]", "must be a JSON object"),
        ("NoSuchQuery", '{"n": 1}', "not an insight kind"),
    ],
)
def test_invalid_insight_is_a_form_error_not_a_500(alice_client, project, fake_kind, kind, spec, message):
    for headers in (HX, {}):
        response = alice_client.post(
            url("insight_new", project), {"kind": kind, "spec": spec, "name": "Bad"}, headers=headers
        )
        assert response.status_code == 400
        assert any(message in e for e in parse(response).texts(".form-error[role=alert]"))
    assert not Insight.objects.filter(project=project).exists()


def test_missing_name_is_a_form_error(alice_client, project, fake_kind):
    response = alice_client.post(
        url("insight_new", project), {"kind": "FakeQuery", "spec": '{"n": 1}', "name": ""}, headers=HX
    )
    assert response.status_code == 400
    assert parse(response).one("label.has-error").find("input").attrs["name"] == "name"


def test_exec_cannot_save_and_stranger_gets_404(client, bob, charlie, project, fake_kind):
    data = {"kind": "FakeQuery", "spec": '{"n": 1}', "name": "x"}
    client.force_login(bob)
    assert client.post(url("insight_new", project), data).status_code == 403
    client.force_login(charlie)
    assert client.post(url("insight_new", project), data).status_code == 404
    assert not Insight.objects.exists()


def test_reopen_url_is_the_builder_with_the_encoded_spec(alice_client, project, make_insight):
    insight = make_insight(n=5, event="signed_up")
    parsed = urlparse(insight.builder_url)
    assert parsed.path == f"/project/{project.pk}/"  # the fake kind's builder is the overview page
    assert json.loads(parse_qs(parsed.query)["q"][0]) == {"n": 5, "event": "signed_up"}
    page = alice_client.get(url("insight", project, insight_id=insight.pk))
    assert page.status_code == 200
    assert parse(page).find("a", text="Open in builder").attrs["href"] == insight.builder_url


def test_insight_page_renders_the_result_from_clickhouse(alice_client, project, make_insight, events):
    now = dt.datetime.now(dt.UTC)
    events.add("signed_up", "u1", now).add("signed_up", "u2", now).add("$pageview", "u1", now).flush()
    insight = make_insight(n=21, event="signed_up")
    page = alice_client.get(url("insight", project, insight_id=insight.pk))
    assert page.status_code == 200
    assert parse(page).one(".fake-tile").text.startswith("value=42 events=2 ")
    insight.refresh_from_db()
    assert insight.last_refresh_at is not None
    partial = alice_client.get(url("insight", project, insight_id=insight.pk), {"refresh": "1"}, headers=HX)
    assert partial.status_code == 200 and parse(partial).is_fragment
    assert parse(partial).one(".fake-tile").text.startswith("value=42 ")


def test_insight_of_an_unregistered_kind_shows_a_message(alice_client, project, alice):
    insight = Insight.objects.create(
        project=project, name="Old", kind="GoneQuery", spec={"a": 1}, created_by=alice
    )
    page = alice_client.get(url("insight", project, insight_id=insight.pk))
    assert page.status_code == 200 and b"not available" in page.content


def test_rename_and_delete_are_for_writers(client, alice, bob, project, make_insight):
    insight = make_insight()
    client.force_login(bob)
    assert client.get(url("insight", project, insight_id=insight.pk)).status_code == 200
    assert (
        client.post(url("insight", project, insight_id=insight.pk), {"name": "Hijacked"}).status_code == 403
    )
    assert client.post(url("insight_delete", project, insight_id=insight.pk)).status_code == 403
    client.force_login(alice)
    assert client.post(url("insight", project, insight_id=insight.pk), {"name": ""}).status_code == 400
    assert (
        client.post(
            url("insight", project, insight_id=insight.pk), {"name": "Renamed", "description": "x"}
        ).status_code
        == 302
    )
    insight.refresh_from_db()
    assert insight.name == "Renamed"
    assert client.post(url("insight_delete", project, insight_id=insight.pk)).status_code == 302
    assert not Insight.objects.filter(pk=insight.pk).exists()


def test_insight_of_another_project_is_404(client, charlie, project, other_project, make_insight):
    insight = make_insight()
    client.force_login(charlie)
    assert client.get(url("insight", project, insight_id=insight.pk)).status_code == 404
    assert client.get(url("insight", other_project, insight_id=insight.pk)).status_code == 404


def test_save_box_is_shown_to_writers_only(project, fake_kind):
    request = RequestFactory().get("/")
    context = {"project": project, "kind": "FakeQuery", "spec_json": '{"n":1}', "request": request}
    request.perms = ROLE_PERMISSIONS[Role.PM]
    form = parse(render_to_string("dashboards/_save_insight.html", context)).one(".save-insight form")
    assert form.attrs["action"] == url("insight_new", project)
    assert form.one("input[name=spec]").attrs["value"] == '{"n":1}'
    request.perms = ROLE_PERMISSIONS[Role.EXEC]
    assert not parse(render_to_string("dashboards/_save_insight.html", context)).has("form")


def test_save_form_as_a_page_is_prefilled_and_not_yet_validated(alice_client, project, fake_kind):
    page = alice_client.get(
        url("insight_new", project), {"kind": "FakeQuery", "spec": '{"n": 1}', "name": "Draft"}
    )
    doc = parse(page)
    assert page.status_code == 200 and not doc.has(".form-error")
    form = doc.find("form", action=url("insight_new", project))
    assert form.one("input[name=name]").attrs["value"] == "Draft"
    assert form.one("input[name=spec]").attrs["value"] == '{"n": 1}'
