"""A builder page request takes one way (insights/builder.py): the request is parsed into
the spec once, the form is rendered from the spec, and the main request runs only the
result's own queries; secondary views come later from their own endpoints. Counted with
the ClickHouse layer's statement log (`ch.counting()`), on the real engine."""

from __future__ import annotations

import datetime as dt
import json
from urllib.parse import urlencode

import pytest
from django.http import QueryDict

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from funnels import forms as funnel_forms
from funnels.queries import FunnelQueryRunner, FunnelTimeToConvertRunner, FunnelTrendsRunner
from funnels.spec import FunnelSpec
from insights import builder, views_common
from paths import forms as paths_forms
from paths.queries import PathNodesQueryRunner, PathsQueryRunner, TopPathsQueryRunner
from paths.spec import PathsSpec
from retention import forms as retention_forms
from retention.queries import RetentionQueryRunner
from retention.spec import RetentionSpec
from tests.clock import at_test_time
from tests.lazy import lazy_urls

pytestmark = pytest.mark.django_db
NOW = at_test_time(lambda now: now)
HTMX = {"HX-Request": "true"}


@pytest.fixture
def journeys(events):
    for i in range(4):
        at = NOW - dt.timedelta(days=i, hours=3)
        events.add("$pageview", f"u{i}", at, {"$current_url": "https://x.example/"}, session_id=f"s{i}")
        events.add("signup", f"u{i}", at + dt.timedelta(minutes=1), session_id=f"s{i}")
        if i % 2:
            events.add("pay", f"u{i}", at + dt.timedelta(minutes=30), session_id=f"s{i}")
            events.add(
                "$pageview",
                f"u{i}",
                at + dt.timedelta(minutes=31),
                {"$current_url": "https://x.example/thanks"},
                session_id=f"s{i}",
            )
    events.flush()
    # One part: no background merge changes person_distinct_ids' listing between a warm-up
    # and a count (a changed listing adds the overrides' fingerprint statement).
    ch.command("OPTIMIZE TABLE person_distinct_ids FINAL", global_=True)
    return events


def page(project, app: str, **params) -> str:
    return f"/project/{project.pk}/{app}/" + ("?" + urlencode(params, doseq=True) if params else "")


def statements(fn) -> int:
    """Statements of `fn` once the process caches it relies on are warm (as for a page)."""
    fn()
    with ch.counting() as log:
        fn()
    return log.count


FUNNEL = {"step_event": ["$pageview", "signup", "pay"], "order": "ordered", "date_from": "-7d"}


def test_funnel_page_runs_only_the_steps_query(alice_client, project, journeys):
    """Main request: the event names (full page) and the steps. It used to run the
    time-to-convert and conversion-trend runners too; they are the lazy parts now."""
    spec = FunnelSpec.from_json(
        funnel_forms.body_from_query(QueryDict(urlencode(FUNNEL, doseq=True))), project
    )
    names = statements(lambda: views_common.event_names(project, False))
    steps = statements(lambda: FunnelQueryRunner(project, spec).run())
    secondary = statements(lambda: FunnelTimeToConvertRunner(project, spec).run()) + statements(
        lambda: FunnelTrendsRunner(project, spec).run()
    )
    known = statements(lambda: views_common.check_events(project, {"steps[1].event": "signup"}))
    steps += known  # the builder checks its event names first (one lookup)
    assert names >= 1 and steps >= 1 and secondary >= 2

    with ch.counting() as full:
        response = alice_client.get(page(project, "funnels", **FUNNEL))
    assert response.status_code == 200
    assert full.count == names + steps < names + steps + secondary
    with ch.counting() as partial:
        assert alice_client.get(page(project, "funnels", **FUNNEL), headers=HTMX).status_code == 200
    assert partial.count == steps

    ttc_url, trend_url = lazy_urls(response.content.decode())
    with ch.counting() as ttc:
        assert alice_client.get(ttc_url, headers=HTMX).status_code == 200
    with ch.counting() as trend:
        assert alice_client.get(trend_url, headers=HTMX).status_code == 200
    assert ttc.count + trend.count == secondary


def test_retention_page_runs_only_the_matrix_query(alice_client, project, journeys):
    fields = {"target_event": "signup", "period": "day", "date_from": "-7d"}
    spec = RetentionSpec.from_json(retention_forms.body_from_query(QueryDict(urlencode(fields))), project)
    names = statements(lambda: views_common.event_names(project, False))
    matrix = statements(lambda: RetentionQueryRunner(project, spec).run())
    matrix += statements(lambda: views_common.check_events(project, {"target_event.event": "signup"}))
    with ch.counting() as full:
        assert alice_client.get(page(project, "retention", **fields)).status_code == 200
    assert full.count == names + matrix
    with ch.counting() as partial:
        assert alice_client.get(page(project, "retention", **fields), headers=HTMX).status_code == 200
    assert partial.count == matrix


def test_paths_page_runs_the_sankey_query_and_loads_top_paths_and_the_picker_after(
    alice_client, project, journeys
):
    fields = {"date_from": "-7d"}
    spec = PathsSpec.from_json(paths_forms.body_from_query(QueryDict(urlencode(fields))), project)
    sankey = statements(lambda: PathsQueryRunner(project, spec).run())
    picker = statements(lambda: PathNodesQueryRunner(project, spec).run())
    top = statements(lambda: TopPathsQueryRunner(project, spec).run())
    with ch.counting() as full:
        response = alice_client.get(page(project, "paths", **fields))
    assert response.status_code == 200
    assert full.count == sankey
    with ch.counting() as partial:
        assert alice_client.get(page(project, "paths", **fields), headers=HTMX).status_code == 200
    assert partial.count == sankey
    nodes_url, top_url = sorted(lazy_urls(response.content.decode()))  # paths/nodes/, paths/top/
    with ch.counting() as lazy:
        assert alice_client.get(top_url, headers=HTMX).status_code == 200
    assert lazy.count == top
    with ch.counting() as lazy:
        assert alice_client.get(nodes_url, headers=HTMX).status_code == 200
    assert lazy.count == picker


BUILDERS = [
    pytest.param(
        funnel_forms,
        lambda project, query: funnel_forms.parse_request(query, project, ["$pageview", "signup"]),
        {
            **FUNNEL,
            "excl_event": ["", "refund"],
            "excl_from": ["", "1"],
            "excl_to": ["", "2"],
            "filter_key": ["$browser", ""],
            "filter_operator": ["exact", "exact"],
            "filter_value": ["Chrome", ""],
            "window_value": "3",
            "window_unit": "hour",
            "breakdown": "plan",
            "breakdown_attribution": "last_touch",
        },
        ({"window_value": "soon"}, "window.value", "window_value", "soon"),
        id="funnels",
    ),
    pytest.param(
        retention_forms,
        lambda project, query: retention_forms.parse_request(query, project, "$pageview"),
        {
            "target_event": "signup",
            "returning_event": "pay",
            "period": "day",
            "date_from": "-6d",
            "total_intervals": "5",
            "filter_key": ["plan", ""],
            "filter_value": ["pro", ""],
            "breakdown_type": "person",
            "breakdown": "plan",
        },
        ({"total_intervals": "many"}, "total_intervals", "total_intervals", "many"),
        id="retention",
    ),
    pytest.param(
        paths_forms,
        lambda project, query: paths_forms.parse_request(query, project),
        {
            "date_from": "custom",
            "custom_from": "-3d",
            "event_type": ["$pageview", "custom_event"],
            "event_names": "signup, pay",
            "point_type": "end",
            "point": "/thanks",
            "rule_regex": ["/x/\\d+", ""],
            "rule_alias": ["/x/:id", ""],
            "groupings": "/blog/*\n",
            "step_limit": "4",
        },
        ({"step_limit": "1"}, "step_limit", "step_limit", "1"),
        id="paths",
    ),
]


@pytest.mark.parametrize("forms, parse_request, fields, rejected", BUILDERS)
def test_fields_and_the_link_to_them_are_the_same_spec_and_form(
    project, forms, parse_request, fields, rejected
):
    """The form is rendered from the spec, so `?q=<its JSON>` (Link to this, a saved
    insight's Open in builder) reopens exactly the form the fields made."""
    state, spec, error = parse_request(project, QueryDict(urlencode(fields, doseq=True)))
    assert error is None, error.errors
    q = QueryDict(mutable=True)
    q["q"] = json.dumps(spec.to_json())
    again_state, again, again_error = parse_request(project, q)
    assert again_error is None and again == spec and again_state == state == forms.state_from_spec(spec)


@pytest.mark.parametrize("forms, parse_request, fields, rejected", BUILDERS)
def test_rejected_fields_are_shown_as_submitted(project, forms, parse_request, fields, rejected):
    bad_fields, error_key, state_key, shown = rejected
    bad = QueryDict(urlencode({**fields, **bad_fields}, doseq=True))
    state, spec, error = parse_request(project, bad)
    assert spec is None and error_key in error.errors
    assert state == forms.state_from_query(bad) and state[state_key] == shown


def test_the_request_is_parsed_once_whichever_way_it_comes():
    parsed = []

    def parse(body):
        parsed.append(body)
        if body.get("event") == "bad":
            raise BadRequest("Invalid.", {"event": "is bad"})
        return body

    def call(**query):
        parsed.clear()
        return builder.parse_request(
            QueryDict(urlencode(query)),
            parse,
            body_from_query=lambda fields: {"event": fields.get("event")},
            state_from_spec=lambda spec: {"form of": spec},
            state_from_query=lambda fields: {"submitted": fields.dict()},
            default_query=QueryDict("event=default"),
            form_fields=("event",),
        )

    assert call(event="x") == ({"form of": {"event": "x"}}, {"event": "x"}, None)
    assert parsed == [{"event": "x"}]
    assert call(q=json.dumps({"event": "linked"})) == (
        {"form of": {"event": "linked"}},
        {"event": "linked"},
        None,
    )
    assert parsed == [{"event": "linked"}]
    # Neither ?q= nor a form field: the default form's fields.
    assert call(other="1")[1] == {"event": "default"} and len(parsed) == 1
    # Rejected fields are shown as submitted; a rejected link shows the default form.
    state, spec, error = call(event="bad")
    assert (state, spec, error.errors) == ({"submitted": {"event": "bad"}}, None, {"event": "is bad"})
    state, spec, error = call(q="{not json")
    assert (state, spec, parsed) == ({"submitted": {"event": "default"}}, None, []) and "q" in error.errors
