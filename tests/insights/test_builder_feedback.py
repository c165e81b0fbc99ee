"""Builders answer bad input with a form error in the result area (never the previous
result), and a valid event with nothing in the range with an empty state."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import pytest

from governance.models import EventDefinition
from tests.clock import at_test_time
from tests.html import parse

pytestmark = pytest.mark.django_db

NOW = at_test_time(lambda now: now)
HTMX = {"HX-Request": "true"}
SPECS = {
    "trends": (
        "insights/trends",
        lambda e: {"kind": "TrendsQuery", "date_from": "-7d", "series": [{"event": e}]},
    ),
    "funnels": (
        "funnels",
        lambda e: {"kind": "FunnelsQuery", "date_from": "-7d", "steps": [{"event": "signup"}, {"event": e}]},
    ),
    "retention": (
        "retention",
        lambda e: {"kind": "RetentionQuery", "date_from": "-7d", "target_event": {"event": e}},
    ),
    "paths": ("paths", lambda e: {"kind": "PathsQuery", "date_from": "-7d", "include_event_types": [e]}),
}


def page(project, app, **params):
    return f"/project/{project.pk}/{app}/?" + urlencode(params, doseq=True)


@pytest.fixture
def signups(events):
    for i in range(3):
        events.add("signup", f"u{i}", NOW - dt.timedelta(hours=3), session_id=f"s{i}")
    events.flush()
    return events


@pytest.mark.parametrize("kind", list(SPECS))
def test_an_unknown_event_is_a_form_error_in_the_result_with_a_suggestion(
    alice_client, project, signups, kind
):
    app, spec = SPECS[kind]
    response = alice_client.get(page(project, app, q=json.dumps(spec("sigunp"))), headers=HTMX)
    assert response.status_code == 400
    doc = parse(response)
    result = doc.one("#result")  # the partial replaces the result area: no chart left
    assert not result.has("[data-trends-figure]") and not result.has("[data-funnel-figure]")
    problem = result.one("[role=alert]").text
    assert "no event “sigunp”" in problem and "did you mean “signup”" in problem


@pytest.mark.parametrize("kind", ["trends", "funnels", "retention"])
def test_a_planned_event_is_not_unknown(alice_client, project, signups, kind):
    EventDefinition.objects.create(project=project, name="upgrade")
    app, spec = SPECS[kind]
    assert (
        alice_client.get(page(project, app, q=json.dumps(spec("upgrade"))), headers=HTMX).status_code == 200
    )


def test_sdk_events_are_never_unknown(alice_client, project):
    """A new project has no events yet: the default $pageview builder opens without an error."""
    assert (
        alice_client.get(
            page(project, "insights/trends", q=json.dumps(SPECS["trends"][1]("$pageview")))
        ).status_code
        == 200
    )


@pytest.mark.parametrize("window", ["0", "-3"])
def test_a_zero_or_negative_conversion_window_is_a_form_error(alice_client, project, signups, window):
    fields = {
        "step_event": ["signup", "signup"],
        "window_value": window,
        "window_unit": "day",
        "date_from": "-7d",
    }
    response = alice_client.get(page(project, "funnels", **fields), headers=HTMX)
    assert response.status_code == 400
    codes = parse(response).texts("#result [role=alert] .form-errors code")
    assert codes == ["window.value"]


def test_a_step_without_an_event_is_a_form_error(alice_client, project, signups):
    fields = {"step_event": ["signup", ""], "date_from": "-7d"}
    response = alice_client.get(page(project, "funnels", **fields), headers=HTMX)
    assert response.status_code == 400
    assert parse(response).texts("#result [role=alert] .form-errors code") == ["steps[1].event"]


def test_trends_of_an_event_with_nothing_in_the_range_is_an_empty_state(alice_client, project, events):
    events.add("upgrade", "u1", NOW - dt.timedelta(days=40))
    events.flush()
    response = alice_client.get(
        page(project, "insights/trends", q=json.dumps(SPECS["trends"][1]("upgrade"))), headers=HTMX
    )
    assert response.status_code == 200
    doc = parse(response)
    assert doc.texts("#result .empty-state") == ["No events matched “upgrade” in this range."]
    assert not doc.has("[data-trends-figure]")


def test_a_funnel_nobody_entered_is_an_empty_state_not_zeros(alice_client, project, events):
    events.add("upgrade", "u1", NOW - dt.timedelta(days=40))
    events.add("signup", "u1", NOW - dt.timedelta(hours=1))
    events.flush()
    spec = {"kind": "FunnelsQuery", "date_from": "-7d", "steps": [{"event": "upgrade"}, {"event": "signup"}]}
    doc = parse(alice_client.get(page(project, "funnels", q=json.dumps(spec)), headers=HTMX))
    assert doc.has("#result .empty-state") and not doc.has("table.funnel-steps")


def test_retention_of_an_event_with_nothing_in_the_range_is_an_empty_state(alice_client, project, events):
    events.add("upgrade", "u1", NOW - dt.timedelta(days=40))
    events.flush()
    spec = SPECS["retention"][1]("upgrade")
    doc = parse(alice_client.get(page(project, "retention", q=json.dumps(spec)), headers=HTMX))
    assert doc.texts("#result .empty-state") == [
        "No events matched “upgrade” in this range: no cohort to follow."
    ]
    assert not doc.has("#result table.retention-matrix")
