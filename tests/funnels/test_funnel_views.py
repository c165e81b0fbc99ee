"""Funnel builder page, its actors drill-down and the FunnelsQuery / FunnelsActorsQuery API."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import pytest
from django.urls import reverse

from analytics_app import clickhouse as ch
from analytics_app.query_api import REGISTRY
from insights.registry import KINDS
from tests.lazy import lazy_urls

pytestmark = pytest.mark.django_db

NOW = dt.datetime.now(dt.UTC)
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
    html = response.content.decode()
    assert "<html" in html and 'id="funnel-form"' in html and 'id="result"' in html
    assert "data-funnel-figure" in html and "plotly.min.js" in html and 'hx-push-url="true"' in html
    assert '<option value="signup">' in html  # autocomplete
    assert "How funnels are counted" in html
    assert "funnel-steps" in html and "33.3%" in html


def test_secondary_views_load_after_the_steps(alice_client, project, some_events):
    html = alice_client.get(url(project, q=json.dumps(SPEC))).content.decode()
    assert "converted · average" not in html and "Loading…" in html  # not run in the main request
    ttc_url, trend_url = lazy_urls(html)
    assert ttc_url.startswith(reverse("funnels:time_to_convert", kwargs={"project_id": project.pk}) + "?q=")
    assert trend_url.startswith(
        reverse("funnels:conversion_trend", kwargs={"project_id": project.pk}) + "?q="
    )
    ttc = alice_client.get(ttc_url, headers={"HX-Request": "true"})
    assert ttc.status_code == 200
    ttc_html = ttc.content.decode()
    # u0: signup, then pay an hour later
    assert "<html" not in ttc_html and "1 converted · average 1h · median 1h" in ttc_html
    assert "data-funnel-figure" in ttc_html
    trend = alice_client.get(trend_url, headers={"HX-Request": "true"})
    assert trend.status_code == 200
    entry_day = (NOW - dt.timedelta(hours=5)).astimezone(project.tz).date().isoformat()
    assert "data-funnel-figure" in trend.content.decode() and entry_day in trend.content.decode()


def test_secondary_view_of_an_empty_funnel_says_so(alice_client, project):
    ttc_url, _ = lazy_urls(alice_client.get(url(project, q=json.dumps(SPEC))).content.decode())
    assert "Nobody completed the funnel" in alice_client.get(ttc_url).content.decode()


@pytest.mark.parametrize("name", ["funnels:time_to_convert", "funnels:conversion_trend"])
def test_secondary_views_reject_bad_specs_and_strangers(alice_client, client, charlie, project, name):
    base = reverse(name, kwargs={"project_id": project.pk})
    response = alice_client.get(base + "?q=" + quote("{not json"))
    assert response.status_code == 400 and 'role="alert"' in response.content.decode()
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
    html = response.content.decode()
    assert "<html" not in html and 'id="funnel-form"' not in html
    assert html.strip().startswith('<section id="result"')
    assert ">3</a>" in html and ">1</a>" in html


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
    assert 'class="form-errors"' in response.content.decode() or "message error" in response.content.decode()


def test_actors_drill_down_partial(alice_client, project, some_events):
    drill = reverse("funnels:actors", kwargs={"project_id": project.pk})
    response = alice_client.get(
        drill + f"?q={quote(json.dumps(SPEC))}&step=1&status=dropped", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "<html" not in html and "funnel-actors" in html and "2 dropped off" in html
    converted = alice_client.get(
        drill + f"?q={quote(json.dumps(SPEC))}&step=1&status=converted"
    ).content.decode()
    at_ms = (NOW - dt.timedelta(hours=4) - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)) // dt.timedelta(
        milliseconds=1
    )  # u0's pay, the last step reached
    assert "1 converted" in converted and f"/project/{project.pk}/replay/s0?at={at_ms}" in converted
    assert "?t=" not in converted
    assert alice_client.get(drill + "?q=nope&step=1").status_code == 400


def test_bob_sees_masked_emails_in_the_drill_down(client, bob, project, some_events):
    client.force_login(bob)
    drill = reverse("funnels:actors", kwargs={"project_id": project.pk})
    html = client.get(drill + f"?q={quote(json.dumps(SPEC))}&step=0").content.decode()
    assert "3 converted" in html and "u0@example.com" not in html
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
