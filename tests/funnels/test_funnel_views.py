"""Funnel builder page, its actors drill-down and the FunnelsQuery / FunnelsActorsQuery API."""

from __future__ import annotations

import datetime as dt
import json
import re
from urllib.parse import quote

import pytest
from django.urls import reverse

from analytics_app import clickhouse as ch
from analytics_app.query_api import REGISTRY
from insights.registry import KINDS
from tests.clock import at_test_time
from tests.html import parse
from tests.lazy import lazy_urls

pytestmark = pytest.mark.django_db

NOW = at_test_time(lambda now: now)
SPEC = {"kind": "FunnelsQuery", "date_from": "-7d", "steps": [{"event": "signup"}, {"event": "pay"}]}


def url(project, **params):
    base = reverse("funnels:funnel", kwargs={"project_id": project.pk})
    return base + ("?" + "&".join(f"{k}={quote(str(v))}" for k, v in params.items()) if params else "")


@pytest.fixture
def some_events(events):
    for i in range(3):
        events.add(
            "signup", f"u{i}", NOW - dt.timedelta(hours=5), {"email": f"u{i}@example.com"}, session_id=f"s{i}"
        )
    events.add("pay", "u0", NOW - dt.timedelta(hours=4), session_id="s0")
    events.flush()
    ids = [str(events.person_for(f"u{i}")) for i in range(3)]
    ch.insert(
        "persons",
        {
            "project_id": [events.project_id] * 3,
            "id": ids,
            "created_at": [NOW] * 3,
            "properties": [json.dumps({"email": f"u{i}@example.com"}) for i in range(3)],
            "version": [1] * 3,
        },
    )
    return events


def test_kinds_are_registered():
    assert {"FunnelsQuery", "FunnelsActorsQuery"} <= set(REGISTRY)
    assert KINDS["FunnelsQuery"].builder_url_name == "funnels:funnel"


def test_full_page_renders_builder_and_bars(alice_client, project, some_events):
    response = alice_client.get(url(project, q=json.dumps(SPEC)))
    assert response.status_code == 200
    doc = parse(response)
    assert not doc.is_fragment and doc.has("section#result [data-funnel-figure]")
    assert doc.one("form#funnel-form").attrs["hx-push-url"] == "true"
    assert doc.find("script", src=re.compile(r"plotly\.min\.js$"))
    assert [o.attrs["value"] for o in doc.select("datalist#event-names option")] == ["signup", "pay"]
    assert doc.find("summary", text="How funnels are counted")
    rows = [[td.text for td in tr.find_all("td")] for tr in doc.select("table.funnel-steps tbody tr")]
    assert [r[:4] for r in rows] == [
        ["1. signup", "3", "100.0%", "100.0%"],
        ["2. pay", "1", "33.3%", "33.3%"],
    ]


def test_secondary_views_load_after_the_steps(alice_client, project, some_events):
    html = alice_client.get(url(project, q=json.dumps(SPEC))).content.decode()
    # not run in the main request
    doc = parse(html)
    assert doc.texts("#time-to-convert") == doc.texts("#conversion-trend") == ["Loading…"]
    ttc_url, trend_url = lazy_urls(html)
    assert ttc_url.startswith(reverse("funnels:time_to_convert", kwargs={"project_id": project.pk}) + "?q=")
    assert trend_url.startswith(
        reverse("funnels:conversion_trend", kwargs={"project_id": project.pk}) + "?q="
    )
    ttc = alice_client.get(ttc_url, headers={"HX-Request": "true"})
    assert ttc.status_code == 200
    ttc_doc = parse(ttc)
    # u0: signup, then pay an hour later
    assert ttc_doc.is_fragment and ttc_doc.texts("p.muted") == ["1 converted · average 1h · median 1h"]
    assert ttc_doc.has("[data-funnel-figure]")
    trend = alice_client.get(trend_url, headers={"HX-Request": "true"})
    assert trend.status_code == 200
    entry_day = (NOW - dt.timedelta(hours=5)).astimezone(project.tz).date().isoformat()
    figure = parse(trend).one("[data-funnel-figure]")
    assert entry_day in json.dumps(json.loads(figure.one("script").text)["data"])


def test_secondary_view_of_an_empty_funnel_says_so(alice_client, project):
    from governance.models import EventDefinition  # noqa: PLC0415

    # Planned events nobody has sent yet: a valid funnel with nobody in it.
    for name in ("signup", "pay"):
        EventDefinition.objects.create(project=project, name=name)
    page = parse(alice_client.get(url(project, q=json.dumps(SPEC))))
    # The page says so at once, with no table of zeros and no secondary views to load.
    assert page.texts("#result p.empty-state") == [
        "No events matched the first step (“signup”) in this range: nobody entered the funnel."
    ]
    assert not page.has("table.funnel-steps") and not page.has("#time-to-convert")
    ttc_url = (
        reverse("funnels:time_to_convert", kwargs={"project_id": project.pk})
        + "?q="
        + quote(json.dumps(SPEC))
    )
    assert parse(alice_client.get(ttc_url)).texts("p.muted") == ["Nobody completed the funnel in this range."]


@pytest.mark.parametrize("name", ["funnels:time_to_convert", "funnels:conversion_trend"])
def test_secondary_views_reject_bad_specs_and_strangers(alice_client, client, charlie, project, name):
    base = reverse(name, kwargs={"project_id": project.pk})
    response = alice_client.get(base + "?q=" + quote("{not json"))
    assert response.status_code == 400
    assert parse(response).texts("[role=alert] .form-errors code") == ["q"]
    bad = {**SPEC, "steps": [{"event": "signup"}]}
    assert alice_client.get(base + "?q=" + quote(json.dumps(bad))).status_code == 400
    client.force_login(charlie)
    assert client.get(base + "?q=" + quote(json.dumps(SPEC))).status_code == 404


def test_htmx_request_renders_only_the_result_partial(alice_client, project, some_events):
    response = alice_client.get(
        url(project, step_event="signup", step_event__="x", order="ordered", date_from="-7d").replace(
            "step_event__=x", "step_event=pay"
        ),
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    doc = parse(response)
    assert doc.is_fragment and not doc.has("#funnel-form")
    assert [c for c in doc.children if not isinstance(c, str)] == [doc.one("section#result")]
    assert doc.texts("table.funnel-steps a[data-drill=converted]") == ["3", "1"]


def test_stranger_gets_404(client, charlie, project):
    client.force_login(charlie)
    assert client.get(url(project)).status_code == 404
    assert client.get(reverse("funnels:actors", kwargs={"project_id": project.pk})).status_code == 404


@pytest.mark.parametrize(
    "params",
    [
        {"step_event": "signup", "order": "sideways"},
        {"step_event": "signup", "order": "ordered"},  # one step only
        {"step_event": "signup", "window_value": "0", "order": "ordered"},
        {"q": "{not json"},
        {"q": json.dumps({**SPEC, "window": {"value": 1, "unit": "fortnight"}})},
        {"q": json.dumps({**SPEC, "exclusions": [{"event": "x", "from_step": 1, "to_step": 1}]})},
    ],
)
def test_bad_params_are_400_with_the_errors_on_the_page(alice_client, project, params):
    response = alice_client.get(url(project, **params))
    assert response.status_code == 400
    assert parse(response).find_all(class_="message error", role="alert")


def test_actors_drill_down_partial(alice_client, project, some_events):
    drill = reverse("funnels:actors", kwargs={"project_id": project.pk})
    response = alice_client.get(
        drill + f"?q={quote(json.dumps(SPEC))}&step=1&status=dropped", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    doc = parse(response)
    assert doc.is_fragment and doc.texts("h3.drill-title") == ["2 dropped off before step 2 (pay)"]
    assert sorted(tr.find_all("td")[1].text for tr in doc.select("table.funnel-actors tbody tr")) == [
        "u1",
        "u2",
    ]
    converted = parse(alice_client.get(drill + f"?q={quote(json.dumps(SPEC))}&step=1&status=converted"))
    at_ms = (NOW - dt.timedelta(hours=4) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(
        milliseconds=1
    )  # u0's pay, the last step reached
    assert converted.texts("h3.drill-title") == ["1 converted at step 2 (pay)"]
    assert [a.attrs["href"] for a in converted.find_all("a", text="Watch")] == [
        f"/project/{project.pk}/replay/s0?at={at_ms}"
    ]
    assert alice_client.get(drill + "?q=nope&step=1").status_code == 400


def test_bob_sees_masked_emails_in_the_drill_down(client, bob, project, some_events):
    client.force_login(bob)
    drill = reverse("funnels:actors", kwargs={"project_id": project.pk})
    html = client.get(drill + f"?q={quote(json.dumps(SPEC))}&step=0").content.decode()
    assert parse(html).texts("h3.drill-title")[0].startswith("3 converted")
    assert "u0@example.com" not in html  # a leak scan: anywhere on the page
    assert "u0@example.com" in alice_client_html(project)


def alice_client_html(project):
    from django.contrib.auth import get_user_model  # noqa: PLC0415
    from django.test import Client  # noqa: PLC0415

    c = Client()
    c.force_login(get_user_model().objects.get(username="alice@example.com"))
    drill = reverse("funnels:actors", kwargs={"project_id": project.pk})
    return c.get(drill + f"?q={quote(json.dumps(SPEC))}&step=0").content.decode()


def api(client, project, body, api_key):
    return client.post(
        f"/api/projects/{project.pk}/query/",
        data=json.dumps(body),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key}"},
    )


def test_api_funnels_query(client, project, some_events, api_key):
    response = api(client, project, SPEC, api_key)
    assert response.status_code == 200, response.content
    steps = response.json()["results"][0]["steps"]
    assert [s["count"] for s in steps] == [3, 1]
    assert steps[1]["conversion_rate"] == pytest.approx(1 / 3) and steps[1]["dropped"] == 2
    assert steps[0]["average_conversion_time_seconds"] is None
    assert steps[1]["average_conversion_time_seconds"] == pytest.approx(3600, abs=1)
    assert response.json()["results"][0]["breakdown_value"] is None


def test_api_funnels_actors_query(client, project, some_events, api_key):
    response = api(
        client, project, {**SPEC, "kind": "FunnelsActorsQuery", "step": 1, "status": "dropped"}, api_key
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["total"] == 2 and {r["reached_step"] for r in body["results"]} == {0}
    assert all(
        r["session_ids"] and r["properties"]["email"].endswith("@example.com") for r in body["results"]
    )


def test_api_rejects_bad_funnels_with_reasons(client, project, api_key):
    response = api(client, project, {**SPEC, "steps": [{"event": "a"}], "order": "nope"}, api_key)
    assert response.status_code == 400
    assert {"steps", "order"} <= set(response.json()["errors"])
    response = api(
        client, project, {**SPEC, "kind": "FunnelsActorsQuery", "step": 0, "status": "dropped"}, api_key
    )
    assert response.status_code == 400 and "step" in response.json()["errors"]
