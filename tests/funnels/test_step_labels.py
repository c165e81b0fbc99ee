"""Step labels: a step with filters is labelled with them ("$pageview · $browser =
Chrome"), so two steps of one event differ in the chart, the table and the JSON; filter
values pass through the viewer's Presenter like any property value."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import pytest
from django.test import Client
from django.urls import reverse

from cohorts.models import Cohort
from dashboards.models import Dashboard, DashboardTile, Insight
from funnels.charts import steps_figure
from funnels.queries.results import step_labels
from funnels.spec import FunnelSpec
from governance.presenter import Presenter
from tests.clock import at_test_time
from tests.html import parse

pytestmark = pytest.mark.django_db

NOW = at_test_time(lambda now: now)
EMAIL = "carol.secret@example.com"


def spec(*steps) -> FunnelSpec:
    return FunnelSpec.from_json({"kind": "FunnelsQuery", "date_from": "-7d", "steps": list(steps)})


def viewer(project, *, pii: bool) -> Presenter:
    return Presenter(can_view_pii=pii, pii=frozenset({"email"}), project_id=project.pk)


def test_labels_name_the_filters(project):
    cohort = Cohort.objects.create(project=project, name="Power users", definition={"groups": []})
    s = spec(
        {"event": "$pageview"},
        {"event": "$pageview", "properties": [{"key": "$browser", "value": "Chrome"}]},
        {"event": "$pageview", "properties": [{"key": "plan", "value": ["pro", "team"]}]},
        {"event": "purchase", "properties": [{"key": "amount", "operator": "gt", "value": 10}]},
        {"event": "purchase", "properties": [{"key": "coupon", "operator": "is_set"}]},
        {
            "event": "invite",
            "properties": [
                {"key": "id", "operator": "in", "value": cohort.pk, "type": "cohort"},
                {"key": "$os", "value": "Mac"},
                {"key": "$device_type", "value": "Mobile"},
                {"key": "referrer", "operator": "icontains", "value": "x" * 60},
            ],
        },
    )
    assert step_labels(s, viewer(project, pii=True)) == [
        "$pageview",
        "$pageview · $browser = Chrome",
        "$pageview · plan = pro, team",
        "purchase · amount > 10",
        "purchase · coupon is set",
        "invite · in cohort Power users · $os = Mac · +2 more",
    ]


def test_a_pii_value_is_masked_for_a_viewer_without_pii(project):
    s = spec(
        {"event": f"invited {EMAIL}"},  # an event name holding an address, as some trackers send
        {"event": "login", "properties": [{"key": "email", "value": EMAIL}]},
    )
    assert step_labels(s, viewer(project, pii=True)) == [f"invited {EMAIL}", f"login · email = {EMAIL}"]
    masked = step_labels(s, viewer(project, pii=False))
    assert masked[0].startswith("invited ") and masked[1].startswith("login · email = ")
    assert not any("carol" in label or "secret" in label for label in masked)


def test_the_chart_shows_labels_as_text():
    payload = {
        "results": [
            {
                "breakdown_value": None,
                "steps": [
                    {
                        "order": 0,
                        "event": "a",
                        "label": "a · k = <b>x</b> & y",
                        "count": 2,
                        "conversion_rate": 1.0,
                        "dropped": 0,
                    },
                    {
                        "order": 1,
                        "event": "a",
                        "label": "a",
                        "count": 1,
                        "conversion_rate": 0.5,
                        "dropped": 1,
                    },
                ],
            }
        ]
    }
    bars = steps_figure(payload).data[0]
    assert list(bars.y) == [
        "1. a · k = &lt;b&gt;x&lt;/b&gt; &amp; y",
        "2. a",
    ]  # plotly reads entities, not tags
    long = {"order": 0, "event": "signed_up", "label": "signed_up · email contains example.com · plan = pro"}
    payload["results"][0]["steps"][0].update(long)
    bars = steps_figure(payload).data[0]
    assert bars.y[0] == "1. signed_up · email co…"  # the axis: short (24 characters)
    assert bars.customdata[0][2] == "1. " + long["label"]  # the hover: whole


@pytest.fixture
def same_event_funnel(events):
    for i, browser in enumerate(["Chrome", "Chrome", "Safari"]):
        events.add("$pageview", f"u{i}", NOW - dt.timedelta(hours=5), {"$browser": "Firefox"})
        events.add(
            "$pageview", f"u{i}", NOW - dt.timedelta(hours=4), {"$browser": browser, "email": f"u{i}@x.io"}
        )
    events.add("$pageview", "u0", NOW - dt.timedelta(hours=3), {"$browser": "Chrome", "email": "u0@x.io"})
    events.flush()
    return {
        "kind": "FunnelsQuery",
        "date_from": "-7d",
        "steps": [
            {"event": "$pageview"},
            {"event": "$pageview", "properties": [{"key": "$browser", "value": "Chrome"}]},
            {"event": "$pageview", "properties": [{"key": "email", "value": "u0@x.io"}]},
        ],
    }


def _page(client, project, body):
    return client.get(
        reverse("funnels:funnel", kwargs={"project_id": project.pk}) + "?q=" + quote(json.dumps(body))
    )


def test_the_page_tells_two_steps_of_one_event_apart(alice_client, project, same_event_funnel):
    response = _page(alice_client, project, same_event_funnel)
    assert response.status_code == 200
    doc = parse(response)
    rows = [[td.text for td in tr.find_all("td")] for tr in doc.select("table.funnel-steps tbody tr")]
    assert [r[:2] for r in rows] == [
        ["1. $pageview", "3"],
        ["2. $pageview · $browser = Chrome", "2"],
        ["3. $pageview · email = u0@x.io", "1"],
    ]
    figure = json.loads(doc.one("[data-funnel-figure] script").text)
    assert figure["data"][0]["y"][1] == "2. $pageview · $browser…"  # the axis: short
    assert figure["data"][0]["customdata"][2][2] == "3. $pageview · email = u0@x.io"


def test_a_saved_pii_filter_shows_masked_on_a_tile_for_an_exec(alice, bob, project, same_event_funnel):
    """An admin saves the funnel (filtering on `email`, which only PII roles may type);
    the exec opens it as a dashboard tile and on its saved page: the step's label shows
    the value masked, in the table and the chart."""
    insight = Insight.objects.create(
        project=project, kind="FunnelsQuery", name="Same page twice", spec=same_event_funnel, created_by=alice
    )
    board = Dashboard.objects.create(project=project, name="Board", created_by=alice)
    tile = DashboardTile.objects.create(dashboard=board, insight=insight)
    client = Client()
    client.force_login(bob)  # exec: sees PII masked
    ids = {"project_id": project.pk}
    for path, result in (
        (reverse("dashboards:dashboard", kwargs={**ids, "dashboard_id": board.pk}), False),
        (reverse("dashboards:insights", kwargs=ids), False),
        (
            reverse(
                "dashboards:dashboard_tile", kwargs={**ids, "dashboard_id": board.pk, "tile_id": tile.pk}
            ),
            True,
        ),
        (reverse("dashboards:insight", kwargs={**ids, "insight_id": insight.pk}), True),
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        doc = parse(response)
        labels = [tr.find_all("td")[0].text for tr in doc.select("table.funnel-steps tbody tr")]
        if result:  # the tile and the saved insight's page
            assert labels[1] == "2. $pageview · $browser = Chrome"
            assert labels[2].startswith("3. $pageview · email = ") and "u0@x.io" not in labels[2]
        for shape in ("u0@x.io", "u0%40x.io", "u0\\u0040x.io"):  # as text, in a link, in JSON
            assert shape not in html, (path, shape)
    assert "Open in builder" not in html  # the saved page: its link would carry the value
    admin = Client()
    admin.force_login(alice)
    saved = admin.get(
        reverse("dashboards:insight", kwargs={**ids, "insight_id": insight.pk})
    ).content.decode()
    assert "Open in builder" in saved and "u0%40x.io" in saved and "3. $pageview · email = u0@x.io" in saved
