"""Cohorts in the builders' UI: the picker's "Cohorts" group, cohort filter rows that
round-trip through each builder's query string and saved spec (showing the cohort's
name), cohort breakdowns from the trends and funnel forms, and a deleted cohort answering
with a form error."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.urls import reverse

from cohorts.definitions import parse_csv
from cohorts.models import Cohort
from tests.clock import at_test_time
from tests.cohorts.test_cohorts import make_cohort
from tests.html import parse

pytestmark = pytest.mark.django_db

NOW = at_test_time(lambda now: now)


@pytest.fixture
def world(project, events):
    day = NOW - dt.timedelta(hours=3)
    for did in ("a", "b", "c"):
        events.add("$pageview", did, day).add("signup", did, day)
    events.add("pay", "a", day + dt.timedelta(minutes=5)).add("pay", "b", day + dt.timedelta(minutes=6))
    events.flush()
    vips = make_cohort(project, parse_csv(b"distinct_id\na\n"), kind="static", name="VIP customers", now=NOW)
    pair = make_cohort(project, parse_csv(b"distinct_id\na\nb\n"), kind="static", name="Pair", now=NOW)
    return {"vips": vips, "pair": pair}


def page(name, project, params):
    return reverse(name, kwargs={"project_id": project.pk}) + "?" + urlencode(params, doseq=True)


def test_the_picker_lists_cohorts_with_their_person_count(alice_client, project, world):
    url = reverse("api_property_names", kwargs={"project_id": project.pk})
    groups = {g["group"]: g for g in alice_client.get(url, {"q": "vip"}).json()["groups"]}
    cohorts = groups["cohort"]
    assert cohorts["label"] == "Cohorts"
    assert [
        (p["key"], p["cohort_id"], p["count"], p["filter_type"], p["operators"])
        for p in cohorts["properties"]
    ] == [("VIP customers", world["vips"].pk, 1, "cohort", ["in", "not_in"])]
    everything = {g["group"]: g for g in alice_client.get(url).json()["groups"]}["cohort"]
    assert [p["key"] for p in everything["properties"]] == ["Pair", "VIP customers"]


def test_trends_cohort_filter_round_trips_and_shows_the_name(alice_client, project, world):
    vips = world["vips"]
    params = {
        "series_event": "$pageview",
        "series_math": "total",
        "date_from": "-7d",
        "interval": "day",
        "filter_scope": "all",
        "filter_type": "cohort",
        "filter_key": "VIP customers",
        "filter_operator": "in",
        "filter_value": str(vips.pk),
    }
    response = alice_client.get(page("trends:trends", project, params))
    assert response.status_code == 200
    doc = parse(response)
    spec = json.loads(response.context["spec_json"])
    assert spec["properties"] == [{"key": "id", "operator": "in", "value": vips.pk, "type": "cohort"}]
    assert [t["total"] for t in response.context["totals"]] == ["1"]
    row = doc.select(".filter-row")[0]
    assert row.one("input[name=filter_key]").attrs["value"] == "VIP customers"
    assert row.one("input[name=filter_value]").attrs.__contains__("hidden")
    assert row.one("select[name=filter_type] option[selected]").attrs["value"] == "cohort"
    # the saved form (?q=) reopens the same row
    again = alice_client.get(page("trends:trends", project, {"q": response.context["spec_json"]}))
    assert again.status_code == 200 and json.loads(again.context["spec_json"]) == spec
    assert (
        parse(again).select(".filter-row")[0].one("input[name=filter_key]").attrs["value"] == "VIP customers"
    )
    not_in = alice_client.get(page("trends:trends", project, {**params, "filter_operator": "not_in"}))
    assert [t["total"] for t in not_in.context["totals"]] == ["2"]


def test_a_deleted_cohort_is_a_form_error(alice_client, project, world):
    gone = world["vips"].pk
    Cohort.objects.filter(pk=gone).delete()
    params = {
        "series_event": "$pageview",
        "date_from": "-7d",
        "interval": "day",
        "filter_scope": "all",
        "filter_type": "cohort",
        "filter_key": "VIP customers",
        "filter_operator": "in",
        "filter_value": str(gone),
    }
    response = alice_client.get(page("trends:trends", project, params))
    assert response.status_code == 400
    assert f"there is no cohort {gone}" in response.content.decode()
    assert (
        parse(response).select(".filter-row")[0].one("input[name=filter_key]").attrs["value"]
        == f"deleted cohort {gone}"
    )
    saved = json.dumps(
        {"series": [{"event": "$pageview"}], "properties": [{"type": "cohort", "value": gone}]}
    )
    response = alice_client.get(page("trends:trends", project, {"q": saved}))
    assert response.status_code == 400 and f"there is no cohort {gone}" in response.content.decode()
    breakdown = {
        "series_event": "$pageview",
        "date_from": "-7d",
        "breakdown_type": "cohort",
        "breakdown_cohort": [gone],
    }
    response = alice_client.get(page("trends:trends", project, breakdown))
    assert response.status_code == 400 and f"there is no cohort {gone}" in response.content.decode()


def test_funnel_cohort_filter_and_breakdown_from_the_form(alice_client, project, world):
    vips, pair = world["vips"], world["pair"]
    params = {
        "step_event": ["signup", "pay"],
        "date_from": "-7d",
        "filter_type": "cohort",
        "filter_key": "Pair",
        "filter_operator": "in",
        "filter_value": str(pair.pk),
    }
    response = alice_client.get(page("funnels:funnel", project, params))
    assert response.status_code == 200
    spec = json.loads(response.context["spec_json"])
    assert spec["properties"] == [{"key": "id", "operator": "in", "value": pair.pk, "type": "cohort"}]
    assert [s["count"] for s in response.context["payload"]["results"][0]["steps"]] == [2, 2]
    assert parse(response).select(".filter-row")[0].one("input[name=filter_key]").attrs["value"] == "Pair"

    breakdown = {
        "step_event": ["signup", "pay"],
        "date_from": "-7d",
        "breakdown_type": "cohort",
        "breakdown_cohort": [str(vips.pk), str(pair.pk), "all"],
    }
    response = alice_client.get(page("funnels:funnel", project, breakdown))
    assert response.status_code == 200
    rows = [
        (r["breakdown_value"], [s["count"] for s in r["steps"]])
        for r in response.context["payload"]["results"]
    ]
    assert rows == [("VIP customers", [1, 1]), ("Pair", [2, 2]), ("All users", [3, 2])]
    spec = json.loads(response.context["spec_json"])
    assert spec["breakdown"] == {"type": "cohort", "cohorts": [vips.pk, pair.pk, "all"]}
    doc = parse(response)
    checked = [i.attrs["value"] for i in doc.select("[data-cohort-breakdown] input[checked]")]
    assert checked == ["all", str(vips.pk), str(pair.pk)] or sorted(checked) == sorted(
        ["all", str(vips.pk), str(pair.pk)]
    )
    assert not doc.one("[data-cohort-breakdown]").attrs.__contains__("hidden")
    again = alice_client.get(page("funnels:funnel", project, {"q": response.context["spec_json"]}))
    assert json.loads(again.context["spec_json"]) == spec
    empty = alice_client.get(page("funnels:funnel", project, {**breakdown, "breakdown_cohort": []}))
    assert empty.status_code == 400 and "pick one or more cohorts" in empty.content.decode()


def test_trends_cohort_breakdown_from_the_form(alice_client, project, world):
    vips, pair = world["vips"], world["pair"]
    params = {
        "series_event": "$pageview",
        "series_math": "dau",
        "date_from": "-7d",
        "interval": "day",
        "breakdown_type": "cohort",
        "breakdown_cohort": [str(pair.pk), str(vips.pk)],
    }
    response = alice_client.get(page("trends:trends", project, params))
    assert response.status_code == 200
    assert [(t["label"], t["total"]) for t in response.context["totals"]] == [
        ("$pageview (dau) · Pair", "2"),
        ("$pageview (dau) · VIP customers", "1"),
    ]
    spec = json.loads(response.context["spec_json"])
    again = alice_client.get(page("trends:trends", project, {"q": response.context["spec_json"]}))
    assert json.loads(again.context["spec_json"]) == spec
    assert {i.attrs["value"] for i in parse(again).select("[data-cohort-breakdown] input[checked]")} == {
        str(pair.pk),
        str(vips.pk),
    }


def test_paths_and_retention_take_a_cohort_filter_row(alice_client, project, world):
    from paths import forms as path_forms
    from retention import forms as retention_forms

    pair = world["pair"]
    query = QueryDict(mutable=True)
    query.update(
        {
            "filter_type": "cohort",
            "filter_key": "Pair",
            "filter_operator": "not_in",
            "filter_value": str(pair.pk),
        }
    )
    body = path_forms.body_from_query(query)
    assert {"type": "cohort", "operator": "not_in", "value": str(pair.pk)}.items() <= body["properties"][
        0
    ].items()
    response = alice_client.get(page("paths:paths", project, query))
    assert response.status_code == 200
    spec = json.loads(response.context["spec_json"])
    assert spec["properties"] == [{"key": "id", "operator": "not_in", "value": pair.pk, "type": "cohort"}]
    assert parse(response).select(".filter-row")[0].one("input[name=filter_key]").attrs["value"] == "Pair"

    query = QueryDict(mutable=True)
    query.update(
        {
            "target_event": "signup",
            "filter_type": "cohort",
            "filter_key": "Pair",
            "filter_operator": "in",
            "filter_value": str(pair.pk),
        }
    )
    body = retention_forms.body_from_query(query)
    assert body["properties"][0]["value"] == pair.pk
    response = alice_client.get(page("retention:retention", project, query))
    assert response.status_code == 200
    assert 'value="Pair"' in response.content.decode()


# ---------------------------------------------------------------- the cohort builder and page
def test_builder_rows_show_only_the_fields_of_their_type(alice_client, project):
    url = reverse("cohorts:cohorts", kwargs={"project_id": project.pk})
    doc = parse(alice_client.get(url))
    intro = doc.one(".page-head").text
    assert '{"type"' not in intro and "in cohort" in intro  # no raw JSON in the intro
    row = doc.select("[data-criterion-row]")[0]
    assert all("hidden" in box.attrs for box in row.select("[data-criterion-fields]"))  # no type yet
    options = {
        o.attrs["value"]: o.attrs.get("data-fields") for o in row.select("[data-criterion-type] option")
    }
    assert options["performed_event"] == "event count" and options["person_property"] == "property"
    assert "open" not in doc.one("details.cohort-json").attrs  # the JSON is behind a disclosure
    bad = alice_client.post(
        url,
        {
            "name": "x",
            "kind": "behavioral",
            "g0_c0_type": "person_property",
            "g0_c0_key": "",
            "g0_c0_prop_operator": "exact",
        },
    )
    assert bad.status_code == 400
    row = parse(bad).select("[data-criterion-row]")[0]
    shown = [
        box.attrs["data-criterion-fields"]
        for box in row.select("[data-criterion-fields]")
        if "hidden" not in box.attrs
    ]
    assert shown == ["property"]


def test_cohort_page_polls_while_computing_and_stops_when_ready(
    alice_client, project, events, django_capture_on_commit_callbacks
):
    from cohorts.tasks import refresh_cohort

    events.add("buy", "u1", NOW - dt.timedelta(hours=1)).flush()
    url = reverse("cohorts:cohorts", kwargs={"project_id": project.pk})
    fields = {
        "name": "Buyers",
        "kind": "behavioral",
        "g0_c0_type": "performed_event",
        "g0_c0_event": "buy",
        "g0_c0_operator": "gte",
        "g0_c0_count": "1",
        "g0_c0_days": "7",
    }
    with django_capture_on_commit_callbacks(execute=False):
        response = alice_client.post(url, fields)
    assert response.status_code == 302
    cohort = Cohort.objects.get(project=project, name="Buyers")
    page_url = response["Location"]
    doc = parse(alice_client.get(page_url))
    live = doc.one("#live")
    assert live.attrs["hx-trigger"] == "every 2s" and "calculating" in live.text
    assert "did buy at least 1 time in the last 7 days" in doc.one(".cohort-criteria").text
    refresh_cohort(cohort.pk)
    partial = parse(alice_client.get(page_url, headers={"HX-Request": "true"}))
    assert partial.is_fragment
    live = partial.one("#live")
    assert "hx-trigger" not in live.attrs  # ready: the polling stops
    assert live.one("[data-cohort-count]").text.strip() == "1"
    assert live.one("[data-cohort-status]").attrs["data-cohort-status"] == "ready"


def test_events_explorer_takes_a_cohort_filter_row(alice_client, project, world):
    vips = world["vips"]
    params = {
        "event": "$pageview",
        "prop_type": ["cohort", "event"],
        "prop_key": ["VIP customers", ""],
        "prop_op": ["in", "exact"],
        "prop_value": [str(vips.pk), ""],
    }
    response = alice_client.get(page("explorer:events", project, params))
    assert response.status_code == 200
    doc = parse(response)
    assert len(response.context["rows"]) == 1 and response.context["rows"][0]["row"].distinct_id == "a"
    rows = doc.select("#filters tr[data-picker-scope]")
    assert rows[0].one("input[name=prop_key]").attrs["value"] == "VIP customers"
    assert rows[0].one("select[name=prop_type] option[selected]").attrs["value"] == "cohort"
    assert "hidden" in rows[0].one("input[name=prop_value]").attrs


def test_drill_downs_of_a_cohort_breakdown_name_the_cohort(alice_client, project, world):
    pair = world["pair"]
    trends = json.dumps(
        {
            "series": [{"event": "$pageview", "math": "total"}],
            "date_from": "-7d",
            "interval": "day",
            "breakdown": {"type": "cohort", "cohorts": [pair.pk]},
        }
    )
    result = alice_client.get(page("trends:trends", project, {"q": trends}))
    point = result.context["payload"]["results"][0]["dates"][-1]
    drill = alice_client.get(
        page(
            "trends:trends_persons", project, {"q": trends, "series": 0, "date": point, "breakdown_index": 0}
        ),
        headers={"HX-Request": "true"},
    )
    assert drill.status_code == 200 and drill.context["drill_breakdown"] == "Pair"
    assert {p.distinct_id for p in drill.context["drill"].persons} <= {"a", "b"}
    funnel = json.dumps(
        {
            "steps": [{"event": "signup"}, {"event": "pay"}],
            "date_from": "-7d",
            "breakdown": {"type": "cohort", "cohorts": [pair.pk, "all"]},
        }
    )
    actors = alice_client.get(
        page(
            "funnels:actors",
            project,
            {"q": funnel, "step": 0, "status": "converted", "breakdown_value": "all"},
        ),
        headers={"HX-Request": "true"},
    )
    assert actors.status_code == 200 and actors.context["drill_breakdown"] == "All users"
    assert actors.context["drill"].total == 3
