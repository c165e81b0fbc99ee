"""Each insight kind is declared once (`<app>/insight.py`): the JSON query API, the
saved-insight registry and the navigation hold exactly the declared kinds, derived from
the declarations, and every query kind's property filters are one schema object."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

import analytics_app.views  # noqa: F401  (registers EventNamesQuery, as the URLconf does)
from analytics_app.errors import BadRequest
from analytics_app.navigation import SECTIONS
from analytics_app.query_api import REGISTRY
from funnels import insight as funnels_insight
from insights.blocks.filters import (
    COHORT_OPERATORS,
    FILTER_TYPES,
    MAX_FILTERS,
    MAX_KEY_LENGTH,
    OPERATORS,
    parse_filter,
    parse_filters,
)
from insights.blocks.schema import PROPERTY_FILTER_SCHEMA
from insights.registry import DECLARED, KINDS
from paths import insight as paths_insight
from retention import insight as retention_insight
from trends import insight as trends_insight

# The apps' declarations; the registries must hold these and nothing else that is an insight.
APP_KINDS = {m.KIND.kind: m.KIND for m in (trends_insight, funnels_insight, retention_insight, paths_insight)}
# JSON API kinds that are raw data, not insights (nothing to save, no builder page).
NOT_INSIGHTS = {"EventNamesQuery", "EventsQuery"}
# A minimal body per kind, parsed through both registries.
BODIES = {
    "TrendsQuery": {"series": [{"event": "signup", "properties": [{"key": "plan", "value": "pro"}]}]},
    "FunnelsQuery": {"steps": [{"event": "signup"}, {"event": "pay"}], "order": "strict"},
    "RetentionQuery": {"target_event": {"event": "signup"}, "period": "day"},
    "PathsQuery": {"start_point": "/", "step_limit": 4},
}


def test_the_declarations_are_the_apps_and_only_those():
    assert set(APP_KINDS) == {"TrendsQuery", "FunnelsQuery", "RetentionQuery", "PathsQuery"} == set(BODIES)
    assert DECLARED == APP_KINDS and all(DECLARED[k] is APP_KINDS[k] for k in APP_KINDS)


def test_saved_insight_kinds_are_the_declarations():
    assert set(KINDS) == set(DECLARED)
    assert all(KINDS[k] is DECLARED[k] for k in DECLARED)


def test_query_api_kinds_derive_from_the_declarations():
    derived = {q.kind: q.declared_by for q in REGISTRY.values() if q.declared_by}
    # every declared kind, plus the further API kinds a declaration names, and nothing else
    assert derived == {
        "TrendsQuery": "TrendsQuery",
        "FunnelsQuery": "FunnelsQuery",
        "FunnelsActorsQuery": "FunnelsQuery",
        "FunnelCorrelationQuery": "FunnelsQuery",
        "RetentionQuery": "RetentionQuery",
        "PathsQuery": "PathsQuery",
    }
    assert set(REGISTRY) - set(derived) == NOT_INSIGHTS and not NOT_INSIGHTS & set(KINDS)
    for name, kind in DECLARED.items():
        entry = REGISTRY[name]
        assert entry.schema is kind.schema and entry.response_schema is kind.response_schema
        assert entry.summary == kind.summary and entry.permission == kind.permission
        assert entry.schema["properties"]["kind"] == {"const": name}
    assert REGISTRY["FunnelsActorsQuery"] is not funnels_insight.KIND.queries[0]  # stamped with its origin
    assert REGISTRY["FunnelsActorsQuery"].schema is funnels_insight.ACTORS_SCHEMA


def test_navigation_entries_derive_from_the_declarations():
    derived = {s.declared_by: s for s in SECTIONS if s.declared_by}
    assert set(derived) == set(DECLARED)
    builders = {k.builder_url_name for k in DECLARED.values()}
    for name, kind in DECLARED.items():
        section = derived[name]
        assert (section.url_name, section.order, section.permission) == (
            kind.builder_url_name,
            kind.menu_order,
            kind.permission,
        )
        assert [s.url_name for s in SECTIONS].count(kind.builder_url_name) == 1
    assert not [s for s in SECTIONS if not s.declared_by and s.url_name in builders]
    assert [(s.label, s.order) for s in derived.values()] == [
        ("Trends", 20),
        ("Funnels", 21),
        ("Retention", 22),
        ("Paths", 23),
    ]


@pytest.mark.django_db
def test_api_pages_and_menu_use_the_same_declaration(alice_client, project):
    for name, body in BODIES.items():
        kind = DECLARED[name]
        spec = kind.parse(body, project)
        assert REGISTRY[name].parse({"kind": name, **body}, project) == spec
        assert kind.parse(kind.to_json(spec), project) == spec
        narrowed = kind.with_date_range(spec, "2026-01-01", "2026-01-31")
        assert kind.to_json(narrowed)["date_from"] == "2026-01-01"
    page = alice_client.get(reverse("project_overview", kwargs={"project_id": project.pk}))
    assert page.status_code == 200
    menu = [s["label"] for s in page.context["nav_sections"]]
    assert [m for m in menu if m in {"Trends", "Funnels", "Retention", "Paths"}] == [
        "Trends",
        "Funnels",
        "Retention",
        "Paths",
    ]


def _filter_objects(node, found):
    """Every object in a schema that describes a property filter (has key and operator)."""
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict) and "key" in props and "operator" in props:
            found.append(node)
            return found
        for value in node.values():
            _filter_objects(value, found)
    elif isinstance(node, list):
        for value in node:
            _filter_objects(value, found)
    return found


def test_every_query_kind_uses_the_one_property_filter_schema():
    sites = {name: _filter_objects(q.schema, []) for name, q in REGISTRY.items()}
    for name in set(DECLARED) | {"FunnelsActorsQuery", "FunnelCorrelationQuery", "EventsQuery"}:
        assert sites[name], f"{name} has no property filters in its schema"
    assert all(obj is PROPERTY_FILTER_SCHEMA for objs in sites.values() for obj in objs)
    # trends: the body and each series; funnels: the body, each step and each exclusion
    assert {name: len(objs) for name, objs in sites.items() if objs} == {
        "TrendsQuery": 2,
        "FunnelsQuery": 3,
        "FunnelsActorsQuery": 3,
        "FunnelCorrelationQuery": 3,
        "RetentionQuery": 3,
        "PathsQuery": 1,
        "EventsQuery": 1,
    }


def test_openapi_lists_the_property_filter_once(client):
    schema = client.get(reverse("api_schema")).json()
    components = schema["components"]["schemas"]
    assert components["PropertyFilter"] == json.loads(json.dumps(PROPERTY_FILTER_SCHEMA))
    assert _filter_objects(schema, []) == [components["PropertyFilter"]]
    text = json.dumps(schema)
    assert text.count('{"$ref": "#/components/schemas/PropertyFilter"}') == 16
    for name in set(DECLARED) | {"FunnelsActorsQuery", "FunnelCorrelationQuery"}:
        listed = dict(components[name]["properties"]["properties"])
        listed.pop("description", None)
        assert listed == {
            "type": "array",
            "items": {"$ref": "#/components/schemas/PropertyFilter"},
            "maxItems": MAX_FILTERS,
        }


def test_the_filter_schema_states_what_the_parser_accepts():
    props = PROPERTY_FILTER_SCHEMA["properties"]
    assert set(props["operator"]["enum"]) == set(OPERATORS) | set(COHORT_OPERATORS)
    assert PROPERTY_FILTER_SCHEMA["then"]["properties"]["operator"]["enum"] == COHORT_OPERATORS
    assert props["type"]["enum"] == FILTER_TYPES
    assert props["key"]["maxLength"] == MAX_KEY_LENGTH
    # the limits the schema states are the parser's
    assert parse_filter({"key": "k" * MAX_KEY_LENGTH, "value": "x"}, "f").key == "k" * MAX_KEY_LENGTH
    with pytest.raises(BadRequest):
        parse_filter({"key": "k" * (MAX_KEY_LENGTH + 1), "value": "x"}, "f")
    assert len(parse_filters([{"key": "k", "value": i} for i in range(MAX_FILTERS)])) == MAX_FILTERS
    with pytest.raises(BadRequest):
        parse_filters([{"key": "k", "value": i} for i in range(MAX_FILTERS + 1)])
    # a cohort filter: no key needed, an integer value, in / not_in (not in OPERATORS)
    cohort = parse_filter({"type": "cohort", "operator": "not_in", "value": 7}, "f")
    assert (cohort.key, cohort.operator, cohort.value) == ("id", "not_in", 7)
    for bad in ({"type": "cohort", "operator": "gt", "value": 7}, {"operator": "in", "key": "k", "value": 1}):
        with pytest.raises(BadRequest):
            parse_filter(bad, "f")
