"""The correlation section of the funnel page, its people lists, its exports and the
FunnelCorrelationQuery API."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import parse_qs, urlencode, urlparse

import pytest
from django.urls import reverse

from analytics_app import clickhouse as ch
from analytics_app.query_api import REGISTRY
from governance.roles import Role
from tests.clock import at_test_time
from tests.html import parse

pytestmark = pytest.mark.django_db

NOW = at_test_time(lambda now: now.replace(microsecond=0))
SPEC = {"kind": "FunnelsQuery", "date_from": "-7d", "steps": [{"event": "signup"}, {"event": "pay"}]}


@pytest.fixture
def data(events):
    """u0..u5 sign up; u0, u1, u2 read the FAQ; u0, u1, u3 pay. u0 read the FAQ as an
    anonymous distinct_id later merged into u0."""
    t = NOW - dt.timedelta(hours=5)
    for i in range(6):
        events.add("signup", f"u{i}", t)
    events.add("viewed_pricing_faq", "anon0", t + dt.timedelta(minutes=1))
    events.merge("anon0", "u0")
    for i in (1, 2):
        events.add("viewed_pricing_faq", f"u{i}", t + dt.timedelta(minutes=1))
    for i in (0, 1, 3):
        events.add("pay", f"u{i}", t + dt.timedelta(minutes=2))
    events.flush()
    ids = [str(events.person_for(f"u{i}")) for i in range(6)]
    ch.insert(
        "persons",
        {
            "project_id": [events.project_id] * 6,
            "id": ids,
            "created_at": [NOW] * 6,
            "properties": [
                json.dumps({"email": f"u{i}@example.com", "plan": "pro" if i < 2 else "free"})
                for i in range(6)
            ],
            "version": [1] * 6,
        },
    )
    return events


def corr_url(project, **params):
    base = reverse("funnels:correlation", kwargs={"project_id": project.pk})
    return base + "?" + urlencode({"q": json.dumps(SPEC), **params})


@pytest.fixture
def pm_client(client, make_user, project):
    from analytics_app.models import Membership  # noqa: PLC0415

    pm = make_user("pm@example.com")
    Membership.objects.create(user=pm, project=project, role=Role.PM)
    client.force_login(pm)
    return client


def _rows(doc, kind):
    return [
        [td.text.strip() for td in tr.find_all("td")]
        for tr in doc.select(f"table[data-correlation-table={kind}] tbody tr")
    ]


def test_the_funnel_page_loads_the_section_after_the_result(alice_client, project, data):
    page = (
        reverse("funnels:funnel", kwargs={"project_id": project.pk})
        + "?"
        + urlencode({"q": json.dumps(SPEC)})
    )
    doc = parse(alice_client.get(page))
    loader = doc.one("#correlation[data-correlation-loader]")
    assert loader.attrs["hx-trigger"] == "intersect once"  # not run with the first numbers
    assert loader.attrs["hx-get"].startswith(
        reverse("funnels:correlation", kwargs={"project_id": project.pk})
    )
    assert doc.texts("#correlation p") == ["Loading…"]


def test_event_correlation_section(alice_client, project, data):
    response = alice_client.get(corr_url(project), headers={"HX-Request": "true"})
    assert response.status_code == 200
    doc = parse(response)
    assert doc.is_fragment
    rows = _rows(doc, "positive")
    # FAQ: 2 of 3 payers, 1 of 3 droppers -> ((2+1)/(1+1)) / ((1+1)/(2+1)) = 2.25
    assert rows[0][:4] == ["viewed_pricing_faq", "2", "1", "2.2× more likely"]
    assert "3 converted · 3 dropped" in doc.one("[data-correlation-summary]").text
    # the analysis as CSV, from the section's export link
    csv_link = doc.one("[data-export-result=csv]").attrs["href"]
    lines = alice_client.get(csv_link).getvalue().decode().splitlines()
    assert lines[0].startswith("correlation,candidate,converted_with,dropped_with,odds_ratio")
    assert lines[1].startswith("positive,viewed_pricing_faq,2,1,2.25")


def test_people_links_list_the_right_persons(alice_client, project, data):
    doc = parse(alice_client.get(corr_url(project), headers={"HX-Request": "true"}))
    link = doc.one("table[data-correlation-table=positive] a[data-drill=converted]").attrs["href"]
    people = parse(alice_client.get(link, headers={"HX-Request": "true"}))
    assert sorted(people.texts("table.correlation-people .person-name")) == [
        "u0@example.com",
        "u1@example.com",
    ]
    # saved as a static cohort of those two persons
    converted = parse(alice_client.get(link, headers={"HX-Request": "true"}))
    form = converted.one("form.people-cohort")
    fields = {i.attrs["name"]: i.attrs.get("value", "") for i in form.select("input[type=hidden]")}
    fields["name"] = "FAQ converters"
    saved = alice_client.post(form.attrs["action"], fields)
    assert saved.status_code in (200, 302)
    from cohorts.models import Cohort  # noqa: PLC0415

    cohort = Cohort.objects.get(project=project, name="FAQ converters")
    assert sorted(cohort.definition["person_ids"]) == sorted(str(data.person_for(f"u{i}")) for i in (0, 1))
    # their recordings: the list filtered by the same people
    recordings = converted.one("[data-watch-recordings]").attrs["href"]
    assert alice_client.get(recordings).status_code == 200
    assert people.has("[data-people-actions] [data-save-cohort]")
    dropped = doc.one("table[data-correlation-table=positive] a[data-drill=dropped]").attrs["href"]
    people = parse(alice_client.get(dropped, headers={"HX-Request": "true"}))
    assert people.texts("table.correlation-people .person-name") == ["u2@example.com"]
    # the same list as CSV through the act-on-people machinery
    query = urlparse(link).query
    csv_url = reverse(
        "insights:people_export", kwargs={"project_id": project.pk, "kind": "funnel_correlation"}
    )
    body = alice_client.get(csv_url + "?" + query).getvalue().decode()
    assert sorted(line.split(",")[0] for line in body.splitlines()[1:]) == [
        "u0@example.com",
        "u1@example.com",
    ]


def test_property_correlation_and_pii_masked_for_a_pm(alice_client, pm_client, project, data):
    params = {"correlation_type": "properties", "property": "plan", "property_type": "person"}
    doc = parse(alice_client.get(corr_url(project, **params), headers={"HX-Request": "true"}))
    assert _rows(doc, "positive")[0][:3] == ["pro", "2", "0"]
    # email is PII: the PM sees masked labels, and the link carries a token, not the value
    params["property"] = "email"
    response = pm_client.get(corr_url(project, **params), headers={"HX-Request": "true"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "@example.com" not in html
    doc = parse(response)
    link = doc.select("table[data-correlation-table=positive] a[data-drill=converted]")[0].attrs["href"]
    candidate = parse_qs(urlparse(link).query)["candidate"][0]
    assert candidate.startswith("masked:")
    people = pm_client.get(link, headers={"HX-Request": "true"})
    assert people.status_code == 200
    assert "@example.com" not in people.content.decode()
    assert len(parse(people).select("table.correlation-people tbody tr")) == 1
    # a raw PII value typed into the link is refused
    query = {k: v[0] for k, v in parse_qs(urlparse(link).query).items()}
    raw = urlparse(link).path + "?" + urlencode({**query, "candidate": "u0@example.com"})
    assert pm_client.get(raw, headers={"HX-Request": "true"}).status_code == 403
    forged = urlparse(link).path + "?" + urlencode({**query, "candidate": "masked:00000000"})
    assert pm_client.get(forged, headers={"HX-Request": "true"}).status_code == 400


def test_an_event_name_holding_an_email_is_masked_for_a_pm(pm_client, project, data):
    t = NOW - dt.timedelta(hours=5)
    data.add("clicked bob@example.com", "u0", t + dt.timedelta(minutes=1)).flush()
    response = pm_client.get(corr_url(project), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert "bob@example.com" not in response.content.decode()
    doc = parse(response)
    row = next(tr for tr in doc.select("tr[data-candidate]") if "clicked" in tr.attrs["data-candidate"])
    link = row.select("a[data-drill=converted]")[0].attrs["href"]
    assert parse_qs(urlparse(link).query)["candidate"][0].startswith("masked:")
    people = parse(pm_client.get(link, headers={"HX-Request": "true"}))
    assert len(people.select("table.correlation-people tbody tr")) == 1


def test_stranger_gets_404_and_bad_params_400(client, charlie, alice_client, project, data):
    assert (
        alice_client.get(corr_url(project, target_step="x"), headers={"HX-Request": "true"}).status_code
        == 400
    )
    bad = alice_client.get(
        corr_url(project, correlation_type="properties", property="plan", property_type="group"),
        headers={"HX-Request": "true"},
    )
    assert bad.status_code == 400
    assert parse(bad).has("[role=alert]")
    # the Properties tab before a property is picked: a hint, nothing run
    tab = alice_client.get(corr_url(project, correlation_type="properties"), headers={"HX-Request": "true"})
    assert tab.status_code == 200 and parse(tab).has("[data-correlation-hint]")
    client.force_login(charlie)
    assert client.get(corr_url(project)).status_code == 404
    people = reverse("funnels:correlation_actors", kwargs={"project_id": project.pk})
    assert client.get(people + "?" + urlencode({"q": json.dumps(SPEC), "candidate": "x"})).status_code == 404


def test_correlation_query_api(client, project, data, api_key):
    assert "FunnelCorrelationQuery" in REGISTRY
    response = client.post(
        f"/api/projects/{project.pk}/query/",
        data=json.dumps({**SPEC, "kind": "FunnelCorrelationQuery"}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 200, response.content
    result = response.json()
    assert (result["success_total"], result["failure_total"]) == (3, 3)
    assert result["positive"][0]["candidate"] == "viewed_pricing_faq"
    assert result["positive"][0]["odds_ratio"] == pytest.approx(2.25)


def test_correlation_query_api_refuses_bad_input_and_is_in_the_schema(
    client, alice_client, project, data, api_key
):
    response = client.post(
        f"/api/projects/{project.pk}/query/",
        data=json.dumps(
            {**SPEC, "kind": "FunnelCorrelationQuery", "target_step": 0, "aggregate_by": "session"}
        ),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 400
    assert "target_step" in response.content.decode() and "aggregate_by" in response.content.decode()
    schema = alice_client.get("/api/schema/")
    assert schema.status_code == 200
    assert "FunnelCorrelationQuery" in schema.content.decode()


def test_a_funnel_counting_sessions_says_correlation_needs_persons(alice_client, project, data):
    data.add("signup", "u9", NOW - dt.timedelta(hours=1), session_id="s9").flush()  # a session entered
    spec = {**SPEC, "aggregate_by": "session"}
    page = (
        reverse("funnels:funnel", kwargs={"project_id": project.pk})
        + "?"
        + urlencode({"q": json.dumps(spec)})
    )
    doc = parse(alice_client.get(page))
    assert not doc.has("#correlation")
    assert "available for funnels counting persons" in doc.one(".correlation-section").text
