"""The saved insights list: search by name, filter by kind, htmx partial."""

from dashboards.models import Insight
from tests.html import parse

from .conftest import url


def names(response) -> list[str]:
    """The insight names the list shows, in order."""
    return [tr.find("td").text for tr in parse(response).select("#insight-results tbody tr")]


def test_list_searches_by_name_and_filters_by_kind(alice_client, project, make_insight, alice):
    make_insight("Weekly signups")
    make_insight("Daily pageviews")
    Insight.objects.create(
        project=project, name="Signup funnel", kind="LegacyQuery", spec={}, created_by=alice
    )
    page = alice_client.get(url("insights", project))
    assert page.status_code == 200
    assert sorted(names(page)) == ["Daily pageviews", "Signup funnel", "Weekly signups"]
    found = alice_client.get(url("insights", project), {"search": "signup"})
    assert sorted(names(found)) == ["Signup funnel", "Weekly signups"]
    fake_only = alice_client.get(url("insights", project), {"search": "signup", "kind": "FakeQuery"})
    assert names(fake_only) == ["Weekly signups"]
    partial = alice_client.get(url("insights", project), {"search": "daily"}, headers={"HX-Request": "true"})
    assert partial.status_code == 200 and parse(partial).is_fragment
    assert [c.attrs.get("id") for c in parse(partial).children if not isinstance(c, str)] == [
        "insight-results"
    ]
    assert names(partial) == ["Daily pageviews"]


def test_list_shows_insights_without_an_author(alice_client, project, fake_kind):
    Insight.objects.create(
        project=project, name="Made by a command", kind="FakeQuery", spec={"n": 1}, created_by=None
    )
    page = alice_client.get(url("insights", project))
    assert page.status_code == 200 and names(page) == ["Made by a command"]


def test_unknown_kind_filter_is_400(alice_client, project, fake_kind):
    assert alice_client.get(url("insights", project), {"kind": "Nope"}).status_code == 400


def test_list_shows_only_this_projects_insights(client, charlie, project, other_project, make_insight):
    make_insight("Acme secret")
    client.force_login(charlie)
    assert client.get(url("insights", project)).status_code == 404
    page = client.get(url("insights", other_project))
    assert page.status_code == 200 and names(page) == []
    assert b"Acme secret" not in page.content  # nor anywhere else on the page


def test_exec_can_view_the_list(client, bob, project, make_insight):
    make_insight("Visible")
    client.force_login(bob)
    page = client.get(url("insights", project))
    assert page.status_code == 200 and names(page) == ["Visible"]
