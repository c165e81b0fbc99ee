"""The saved insights list: search by name, filter by kind, htmx partial."""

from dashboards.models import Insight

from .conftest import url


def test_list_searches_by_name_and_filters_by_kind(alice_client, project, make_insight, alice):
    make_insight("Weekly signups")
    make_insight("Daily pageviews")
    Insight.objects.create(
        project=project, name="Signup funnel", kind="LegacyQuery", spec={}, created_by=alice
    )
    page = alice_client.get(url("insights", project))
    assert page.status_code == 200
    assert all(n in page.content for n in (b"Weekly signups", b"Daily pageviews", b"Signup funnel"))
    found = alice_client.get(url("insights", project), {"search": "signup"})
    assert (
        b"Weekly signups" in found.content
        and b"Signup funnel" in found.content
        and b"Daily pageviews" not in found.content
    )
    fake_only = alice_client.get(url("insights", project), {"search": "signup", "kind": "FakeQuery"})
    assert b"Weekly signups" in fake_only.content and b"Signup funnel" not in fake_only.content
    partial = alice_client.get(url("insights", project), {"search": "daily"}, headers={"HX-Request": "true"})
    assert (
        partial.status_code == 200
        and b"<html" not in partial.content
        and b'id="insight-results"' in partial.content
    )
    assert b"Daily pageviews" in partial.content and b"Weekly signups" not in partial.content


def test_list_shows_insights_without_an_author(alice_client, project, fake_kind):
    Insight.objects.create(
        project=project, name="Made by a command", kind="FakeQuery", spec={"n": 1}, created_by=None
    )
    page = alice_client.get(url("insights", project))
    assert page.status_code == 200 and b"Made by a command" in page.content


def test_unknown_kind_filter_is_400(alice_client, project, fake_kind):
    assert alice_client.get(url("insights", project), {"kind": "Nope"}).status_code == 400


def test_list_shows_only_this_projects_insights(client, charlie, project, other_project, make_insight):
    make_insight("Acme secret")
    client.force_login(charlie)
    assert client.get(url("insights", project)).status_code == 404
    page = client.get(url("insights", other_project))
    assert page.status_code == 200 and b"Acme secret" not in page.content


def test_exec_can_view_the_list(client, bob, project, make_insight):
    make_insight("Visible")
    client.force_login(bob)
    page = client.get(url("insights", project))
    assert page.status_code == 200 and b"Visible" in page.content
