"""Annotations (create / list / delete, permissions, audit) and the trends page's formula
and display controls, through the views."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import quote

import pytest
from django.urls import reverse

from analytics_app.models import Membership
from governance.models import AuditEntry
from governance.roles import Role
from tests.clock import at_test_time
from tests.html import parse
from trends.models import Annotation

pytestmark = pytest.mark.django_db

NOW = at_test_time(lambda now: now)


def trends_url(project, **params):
    base = reverse("trends:trends", kwargs={"project_id": project.pk})
    return base + ("?" + "&".join(f"{k}={quote(str(v))}" for k, v in params.items()) if params else "")


def annotations_url(project):
    return reverse("trends:annotations", kwargs={"project_id": project.pk})


def delete_url(project, a):
    return reverse("trends:annotation_delete", kwargs={"project_id": project.pk, "annotation_id": a.pk})


@pytest.fixture
def some_events(events):
    for i in range(6):
        events.add("$pageview", f"u{i % 3}", NOW - dt.timedelta(hours=2 + 20 * i), {"$browser": "Chrome"})
        events.add("signup", f"u{i % 3}", NOW - dt.timedelta(hours=3 + 20 * i))
    events.flush()
    return events


def figure(response):
    doc = parse(response)
    return json.loads(doc.one("[data-trends-figure] script").text)


def test_create_from_the_chart_form_shows_on_the_chart_and_is_audited(alice_client, project, some_events):
    day = (NOW - dt.timedelta(days=2)).astimezone(project.tz).date()
    back = trends_url(project, series_event="$pageview", interval="day", date_from="-7d")
    response = alice_client.post(
        annotations_url(project), {"date": day.isoformat(), "content": "Launched <b>v2</b>", "next": back}
    )
    assert response.status_code == 302 and response.url == back
    a = Annotation.objects.get(project=project)
    assert a.date_marker.astimezone(project.tz).date() == day and a.created_by_label == "alice@example.com"
    entry = AuditEntry.objects.get(action="annotation.create")
    assert entry.project_id == project.pk and "Launched" in entry.target

    page = alice_client.get(back)
    fig = figure(page)
    (marker,) = [t for t in fig["data"] if t.get("name") == "Annotations"]
    assert marker["x"][0].startswith(day.isoformat())
    assert (
        "Launched &lt;b&gt;v2&lt;/b&gt;" in marker["hovertext"][0]
        and "alice@example.com" in marker["hovertext"][0]
    )
    assert any(s["type"] == "line" for s in fig["layout"]["shapes"])
    listed = parse(page).select("#annotations .annotation-list li")
    assert len(listed) == 1 and "Launched <b>v2</b>" in listed[0].text  # escaped by the template
    # Outside the charted range: not drawn, not listed under that chart.
    old = trends_url(
        project,
        series_event="$pageview",
        date_from="custom",
        custom_from="2020-01-01",
        custom_to="2020-01-05",
    )
    # (no events there either: the empty state, no chart to draw the annotation on)
    old_page = parse(alice_client.get(old))
    assert old_page.has("#result .empty-state") and not old_page.has("[data-trends-figure]")
    assert not old_page.select("#annotations .annotation-list li")


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"date": "yesterday", "content": "x"}, "date"),
        ({"date": "2026-13-01", "content": "x"}, "date"),
        ({"date": "2026-05-01", "content": "  "}, "content"),
        ({"date": "2026-05-01", "content": "x" * 401}, "content"),
    ],
)
def test_bad_input_is_a_400_with_the_reason(alice_client, project, data, field):
    response = alice_client.post(annotations_url(project), data)
    assert response.status_code == 400
    assert f"<code>{field}</code>" in response.content.decode()
    assert not Annotation.objects.exists()


def test_hour_precision_and_foreign_next_is_ignored(alice_client, project):
    response = alice_client.post(
        annotations_url(project),
        {"date": "2026-05-01T14:30", "content": "Deploy", "next": "https://evil.example/"},
    )
    assert response.status_code == 302 and response.url == annotations_url(project)
    a = Annotation.objects.get()
    assert a.date_marker == dt.datetime(2026, 5, 1, 14, 30, tzinfo=project.tz)


def test_viewers_see_editors_create_authors_or_editors_delete(client, alice, bob, make_user, project):
    # bob is an exec: VIEW_INSIGHTS only.
    client.force_login(bob)
    assert client.get(annotations_url(project)).status_code == 200
    assert client.post(annotations_url(project), {"date": "2026-05-01", "content": "x"}).status_code == 403
    assert not Annotation.objects.exists()

    pm = make_user("pm@example.com")
    Membership.objects.create(user=pm, project=project, role=Role.PM)
    client.force_login(pm)
    client.post(annotations_url(project), {"date": "2026-05-01", "content": "by pm"})
    mine = Annotation.objects.get(content="by pm")
    page = parse(client.get(annotations_url(project)))
    assert page.has(f'form[action="{delete_url(project, mine)}"]')

    client.force_login(bob)
    assert not parse(client.get(annotations_url(project))).has(f'form[action="{delete_url(project, mine)}"]')
    assert client.post(delete_url(project, mine)).status_code == 403
    assert Annotation.objects.filter(pk=mine.pk).exists()

    # The author keeps the right to delete their own after losing EDIT_INSIGHTS.
    Membership.objects.filter(user=pm, project=project).update(role=Role.EXEC)
    client.force_login(pm)
    assert client.post(delete_url(project, mine)).status_code == 302
    assert not Annotation.objects.filter(pk=mine.pk).exists()
    assert AuditEntry.objects.filter(action="annotation.delete", project=project).count() == 1

    # An editor deletes anyone's.
    other = Annotation.objects.create(project=project, date_marker=NOW, content="pm note", created_by=pm)
    client.force_login(alice)
    assert client.post(delete_url(project, other)).status_code == 302
    assert not Annotation.objects.exists()
    assert client.get(annotations_url(project)).status_code == 200


def test_other_projects_annotations_are_invisible(client, alice, charlie, project, other_project):
    a = Annotation.objects.create(project=project, date_marker=NOW, content="secret")
    client.force_login(charlie)
    assert client.post(delete_url(other_project, a)).status_code == 404
    assert "secret" not in client.get(annotations_url(other_project)).content.decode()
    assert Annotation.objects.filter(pk=a.pk).exists()


def test_formula_and_displays_on_the_page(alice_client, project, some_events):
    params = {
        "series_event": ["$pageview", "signup"],
        "formula": "A/B",
        "interval": "day",
        "date_from": "-7d",
    }
    base = reverse("trends:trends", kwargs={"project_id": project.pk})
    response = alice_client.get(base, params)
    assert response.status_code == 200
    doc = parse(response)
    assert [b.text for b in doc.select("#series-rows [data-row-letter]")] == ["A", "B"]
    names = [t["name"] for t in figure(response)["data"] if t.get("showlegend") is not False]
    assert names == ["ƒ A/B"]
    with_series = alice_client.get(base, {**params, "show_series": "on"})
    names = [t["name"] for t in figure(with_series)["data"] if t.get("showlegend") is not False]
    assert names == ["ƒ A/B", "A · $pageview", "B · signup"]
    for display in ("cumulative", "moving_average", "pie", "area", "bar"):
        assert alice_client.get(base, {**params, "display": display, "window": "3"}).status_code == 200
    number = parse(alice_client.get(base, {**params, "display": "number"}))
    assert number.one(".big-numbers .stat-value").text == "1"  # 6 pageviews / 6 signups
    table = parse(alice_client.get(base, {**params, "display": "table", "show_series": "on"}))
    assert [r.find("td").text for r in table.select("table.trends-table tbody tr")] == [
        "ƒ A/B",
        "A · $pageview",
        "B · signup",
    ]
    bad = alice_client.get(base, {**params, "formula": "A/C"})
    assert bad.status_code == 400 and "C at position 3 is not a series (use A to B)" in bad.content.decode()
    bad_window = alice_client.get(base, {**params, "display": "moving_average", "window": "0"})
    assert bad_window.status_code == 400 and "window" in bad_window.content.decode()


def test_query_api_takes_a_formula(alice_client, project, some_events):
    body = {
        "kind": "TrendsQuery",
        "series": [{"event": "$pageview"}, {"event": "signup"}],
        "formula": "A-B",
        "date_from": "-7d",
    }
    response = alice_client.post(
        reverse("api_query", kwargs={"project_id": project.pk}), body, "application/json"
    )
    assert response.status_code == 200, response.content
    payload = response.json()
    assert [r["series_index"] for r in payload["results"]] == [0, 1]
    assert payload["formula_results"][0]["total"] == 0
    bad = alice_client.post(
        reverse("api_query", kwargs={"project_id": project.pk}), {**body, "formula": "A/"}, "application/json"
    )
    assert bad.status_code == 400 and "ends too early" in bad.content.decode()


def test_funnel_conversion_over_time_shows_annotations(alice_client, project, events):
    for i in range(3):
        events.add("signup", f"u{i}", NOW - dt.timedelta(hours=5))
    events.add("pay", "u0", NOW - dt.timedelta(hours=4))
    events.flush()
    Annotation.objects.create(
        project=project, date_marker=NOW - dt.timedelta(hours=6), content="Pricing change"
    )
    spec = {"kind": "FunnelsQuery", "date_from": "-7d", "steps": [{"event": "signup"}, {"event": "pay"}]}
    path = reverse("funnels:conversion_trend", kwargs={"project_id": project.pk})
    response = alice_client.get(path, {"q": json.dumps(spec)}, headers={"HX-Request": "true"})
    assert response.status_code == 200
    fig = json.loads(parse(response).one("[data-funnel-figure] script").text)
    (marker,) = [t for t in fig["data"] if t.get("name") == "Annotations"]
    assert "Pricing change" in marker["hovertext"][0]
