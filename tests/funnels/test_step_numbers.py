"""Steps are numbered from 1 wherever a person reads them; the JSON stays 0-based
(docs/funnels.md, "Step numbers"), converted at the builder form's boundary."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

import pytest
from django.http import QueryDict
from django.urls import reverse

from dashboards.models import Insight
from funnels import forms
from funnels.spec import FunnelSpec
from governance.models import EventDefinition
from tests.clock import at_test_time
from tests.html import parse

pytestmark = pytest.mark.django_db

NOW = at_test_time(lambda now: now)
THREE = {"step_event": ["view", "signup", "pay"], "order": "ordered", "date_from": "-7d"}
SAVED = {
    "kind": "FunnelsQuery",
    "date_from": "-7d",
    "steps": [{"event": "view"}, {"event": "signup"}, {"event": "pay"}],
    "exclusions": [{"event": "refund", "from_step": 0, "to_step": 1}],
    "breakdown": {"property": "plan", "type": "event", "attribution": 1, "limit": 10},
}


def _body(**fields):
    return forms.body_from_query(QueryDict(urlencode({**THREE, **fields}, doseq=True)))


def test_exclusion_fields_are_one_based_and_the_spec_zero_based(project):
    body = _body(excl_event="refund", excl_from="1", excl_to="3")
    assert body["exclusions"] == [{"event": "refund", "from_step": 0, "to_step": 2}]
    spec = FunnelSpec.from_json(body, project)
    state = forms.state_from_spec(spec)
    assert (state["exclusions"][0]["from"], state["exclusions"][0]["to"]) == ("1", "3")


@pytest.mark.parametrize("first, last", [("0", "2"), ("2", "2"), ("3", "2"), ("1", "4")])
def test_exclusion_steps_outside_one_to_n_are_a_form_error(project, first, last):
    from analytics_app.errors import BadRequest

    with pytest.raises(BadRequest) as caught:
        _body(excl_event="refund", excl_from=first, excl_to=last)
    assert "numbered from 1" in caught.value.errors["exclusions[0].from_step"]


def test_blank_exclusion_steps_mean_first_to_last(project):
    body = _body(excl_event="refund", excl_from="", excl_to="")
    assert body["exclusions"][0] == {"event": "refund", "from_step": 0, "to_step": 2}


def test_an_old_saved_funnel_opens_with_its_steps_numbered_from_one(alice_client, project, events):
    events.add("view", "u1", NOW - dt.timedelta(hours=2))
    events.add("signup", "u1", NOW - dt.timedelta(hours=1))
    events.flush()
    for planned in ("pay", "refund"):  # in the tracking plan, not sent yet
        EventDefinition.objects.create(project=project, name=planned)
    insight = Insight.objects.create(project=project, name="Old", kind="FunnelsQuery", spec=SAVED)
    page = alice_client.get(reverse("dashboards:insight", args=[project.pk, insight.pk]))
    assert page.status_code == 200
    response = alice_client.get(insight.builder_url)
    assert response.status_code == 200, response.content[:2000]
    doc = parse(response)
    assert [i.attrs.get("value") for i in doc.select("#exclusion-rows input[name=excl_from]")] == ["1"]
    assert [i.attrs.get("value") for i in doc.select("#exclusion-rows input[name=excl_to]")] == ["2"]
    chosen = doc.one("select[name=breakdown_attribution] option[selected]")
    assert chosen.attrs.get("value") == "1" and chosen.text == "step 2"
    labels = [o.text for o in doc.select("select[name=breakdown_attribution] option")][:3]
    assert labels == ["step 1", "step 2", "step 3"]
    assert "numbered from 0" not in response.content.decode()
    # Submitting the form as shown gives back the saved spec.
    again = _body(
        excl_event="refund",
        excl_from="1",
        excl_to="2",
        breakdown="plan",
        breakdown_attribution=chosen.attrs.get("value"),
    )
    assert FunnelSpec.from_json(again, project).exclusions == FunnelSpec.from_json(SAVED, project).exclusions
