"""Cohorts: every criterion against a Python reference, static lists, versioned
refreshes, the cohort filter in other insights, pages and the JSON API."""

from __future__ import annotations

import datetime as dt
import io
import json
import uuid

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from analytics_app.models import Project
from cohorts.definitions import clean_definition
from cohorts.membership import cohort_condition
from cohorts.models import Cohort
from cohorts.tasks import refresh_cohort
from insights.blocks import SQLBuilder
from retention.queries import RetentionQueryRunner
from retention.spec import RetentionSpec
from tests.conftest import EventBuilder, examples
from tests.insights import reference as ref
from trends.queries import TrendsQueryRunner
from trends.spec import TrendsSpec

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 6, 30, 12, tzinfo=dt.UTC)


def members(cohort: Cohort) -> set[uuid.UUID]:
    cohort.refresh_from_db()
    b = SQLBuilder(cohort.project_id)
    sql = f"SELECT DISTINCT person_id FROM person_distinct_ids WHERE project_id = {{project_id:UInt32}} AND {cohort_condition(b, cohort.pk, 'person_id', False)}"
    return set(ch.query(sql, b.params).column("person_id"))


def make_cohort(project, definition, kind="behavioral", name="c", now=NOW) -> Cohort:
    from cohorts.queries import compute_cohort

    cohort = Cohort.objects.create(
        project=project, name=name, kind=kind, definition=clean_definition(definition, kind, project)
    )
    compute_cohort(cohort, now=now)
    cohort.refresh_from_db()
    return cohort


def add_persons(project_id: int, props: dict[uuid.UUID, dict]) -> None:
    ch.insert(
        "persons",
        {
            "project_id": [project_id] * len(props),
            "id": [str(p) for p in props],
            "created_at": [NOW] * len(props),
            "properties": [json.dumps(v) for v in props.values()],
            "version": [1] * len(props),
        },
    )


# ---------------------------------------------------------------- reference
def in_frame(ts, c):
    if "days" in c:
        return NOW - dt.timedelta(days=c["days"]) <= ts < NOW
    start = dt.datetime.combine(dt.date.fromisoformat(c["date_from"]), dt.time(), tzinfo=dt.UTC)
    end = dt.datetime.combine(
        dt.date.fromisoformat(c["date_to"]) + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC
    )
    return start <= ts < end


def ref_criterion(c, person, events, persons, person_props, other):
    if c["type"] == "person_property":
        return ref.matches(person_props.get(person, {}), c)
    if c["type"] == "cohort":
        return (person in other[c["cohort_id"]]) != c.get("negate", False)
    mine = [
        e
        for e in events
        if persons[e["did"]] == person
        and e["event"] == c["event"]
        and all(ref.matches(e["props"], f) for f in c.get("properties", []))
    ]
    if c["type"] == "first_performed_event":
        return bool(mine) and in_frame(min(e["ts"] for e in mine), c)
    n = sum(1 for e in mine if in_frame(e["ts"], c))
    if c["type"] == "not_performed_event":
        return n == 0
    return {"gte": n >= c["count"], "eq": n == c["count"], "lte": n <= c["count"]}[c["operator"]]


def ref_members(definition, events, persons, person_props, other=None):
    out = set()
    for person in set(persons.values()):
        groups = []
        for g in definition["groups"]:
            hits = [
                ref_criterion(c, person, events, persons, person_props, other or {}) for c in g["criteria"]
            ]
            groups.append(all(hits) if g["match"] == "all" else any(hits))
        if all(groups) if definition["match"] == "all" else any(groups):
            out.add(person)
    return out


FRAMES = [{"days": 7}, {"days": 30}, {"date_from": "2026-06-01", "date_to": "2026-06-15"}]
criterion = st.one_of(
    st.builds(
        lambda e, op, n, fr, p: {
            "type": "performed_event",
            "event": e,
            "operator": op,
            "count": n,
            **fr,
            "properties": p,
        },
        st.sampled_from(["view", "buy"]),
        st.sampled_from(["gte", "eq", "lte"]),
        st.integers(0, 3),
        st.sampled_from(FRAMES),
        st.sampled_from([[], [{"key": "plan", "operator": "exact", "value": "pro"}]]),
    ),
    st.builds(
        lambda e, fr: {"type": "not_performed_event", "event": e, **fr},
        st.sampled_from(["view", "buy"]),
        st.sampled_from(FRAMES),
    ),
    st.builds(
        lambda e, fr: {"type": "first_performed_event", "event": e, **fr},
        st.sampled_from(["view", "buy"]),
        st.sampled_from(FRAMES),
    ),
    st.sampled_from(
        [
            {"type": "person_property", "key": "tier", "operator": op, "value": v}
            for op, v in (("exact", "gold"), ("is_not", "gold"), ("gt", 2))
        ]
    ),
)
event_row = st.fixed_dictionaries(
    {
        "event": st.sampled_from(["view", "buy"]),
        "did": st.sampled_from([f"d{i}" for i in range(6)]),
        "days_ago": st.integers(-2, 60),
        "plan": st.sampled_from(["pro", "free"]),
    }
)


@settings(
    max_examples=examples(30),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(event_row, max_size=30),
    merges=st.lists(st.tuples(st.sampled_from(["d0", "d1"]), st.sampled_from(["d4", "d5"])), max_size=1),
    tiers=st.lists(st.sampled_from([None, "gold", "silver", 1, 3]), min_size=6, max_size=6),
    groups=st.lists(
        st.tuples(st.sampled_from(["all", "any"]), st.lists(criterion, min_size=1, max_size=3)),
        min_size=1,
        max_size=2,
    ),
    match=st.sampled_from(["all", "any"]),
)
def test_behavioral_cohorts_match_the_reference(ch_project, rows, merges, tiers, groups, match):
    project = Project.objects.create(pk=ch_project().pk, name="cohort ref")
    builder = EventBuilder(project.id)
    events = []
    for r in rows:
        ts = NOW - dt.timedelta(days=r["days_ago"], hours=1)
        builder.add(r["event"], r["did"], ts, {"plan": r["plan"]})
        events.append({"event": r["event"], "did": r["did"], "ts": ts, "props": {"plan": r["plan"]}})
    for i in range(6):
        builder.person_for(f"d{i}")
    for did, into in merges:
        builder.merge(did, into)
    _flush_with_mapping(builder)
    persons = dict(builder.persons)
    person_props = {}
    for i, tier in enumerate(tiers):
        person = persons[f"d{i}"]
        person_props.setdefault(person, {} if tier is None else {"tier": tier})
    add_persons(project.id, person_props)
    definition = {"match": match, "groups": [{"match": m, "criteria": cs} for m, cs in groups]}
    cohort = make_cohort(project, definition)
    assert members(cohort) == ref_members(definition, events, persons, person_props)
    assert cohort.count == len(members(cohort)) and cohort.status == Cohort.Status.READY


def _flush_with_mapping(builder: EventBuilder) -> None:
    """EventBuilder.flush, but also when there are no events (the mapping alone)."""
    if builder.rows:
        builder.flush()
        return
    ch.insert(
        "person_distinct_ids",
        {
            "project_id": [builder.project_id] * len(builder.persons),
            "distinct_id": list(builder.persons),
            "person_id": [str(p) for p in builder.persons.values()],
            "version": [1] * len(builder.persons),
        },
    )


def test_member_of_another_cohort_and_its_negation(project, events):
    for i in range(4):
        events.add("view", f"u{i}", NOW - dt.timedelta(days=1))
    events.add("buy", "u0", NOW - dt.timedelta(days=1)).add("buy", "u1", NOW - dt.timedelta(days=40))
    events.flush()
    buyers = make_cohort(
        project,
        {
            "match": "all",
            "groups": [
                {
                    "match": "all",
                    "criteria": [
                        {"type": "performed_event", "event": "buy", "operator": "gte", "count": 1, "days": 30}
                    ],
                }
            ],
        },
        name="buyers",
    )
    assert members(buyers) == {events.person_for("u0")}
    viewers_not_buyers = make_cohort(
        project,
        {
            "match": "all",
            "groups": [
                {
                    "match": "all",
                    "criteria": [
                        {
                            "type": "performed_event",
                            "event": "view",
                            "operator": "gte",
                            "count": 1,
                            "days": 7,
                        },
                        {"type": "cohort", "cohort_id": buyers.pk, "negate": True},
                    ],
                }
            ],
        },
    )
    assert members(viewers_not_buyers) == {events.person_for(f"u{i}") for i in (1, 2, 3)}


def test_definitions_are_validated(project):
    cases = [
        ({"groups": []}, "definition.groups"),
        ({"groups": [{"criteria": [{"type": "teleported"}]}]}, "definition.groups[0].criteria[0]"),
        (
            {
                "groups": [
                    {"criteria": [{"type": "performed_event", "event": "x", "operator": "gt", "days": 3}]}
                ]
            },
            "definition.groups[0].criteria[0].operator",
        ),
        (
            {
                "groups": [
                    {
                        "criteria": [
                            {
                                "type": "performed_event",
                                "event": "x",
                                "date_from": "2026-01-05",
                                "date_to": "2026-01-01",
                            }
                        ]
                    }
                ]
            },
            "definition.groups[0].criteria[0].date_from",
        ),
        ({"groups": [{"criteria": [{"type": "cohort", "cohort_id": 999999}]}]}, "definition"),
    ]
    for definition, field in cases:
        with pytest.raises(BadRequest) as exc:
            clean_definition(definition, "behavioral", project)
        assert field in exc.value.errors, (definition, exc.value.errors)


def test_cohorts_cannot_refer_to_each_other_in_a_cycle(project):
    a = make_cohort(
        project,
        {
            "match": "all",
            "groups": [
                {"match": "all", "criteria": [{"type": "person_property", "key": "x", "operator": "is_set"}]}
            ],
        },
        name="a",
    )
    b = make_cohort(
        project,
        {"match": "all", "groups": [{"match": "all", "criteria": [{"type": "cohort", "cohort_id": a.pk}]}]},
        name="b",
    )
    with pytest.raises(BadRequest):
        clean_definition(
            {"groups": [{"criteria": [{"type": "cohort", "cohort_id": b.pk}]}]},
            "behavioral",
            project,
            cohort_id=a.pk,
        )


# ---------------------------------------------------------------- static
def test_static_cohort_from_distinct_ids_and_emails(project, events):
    events.add("view", "anon-1", NOW).add("view", "user-2", NOW).add("view", "user-3", NOW)
    events.merge("anon-9", "user-3")
    events.flush()
    add_persons(project.id, {events.person_for("user-2"): {"email": "two@example.com"}})
    from cohorts.definitions import parse_csv

    definition = parse_csv(b"distinct_id,email\nanon-1,\n,two@example.com\nnobody,\nanon-9,\n")
    cohort = make_cohort(project, definition, kind="static")
    assert members(cohort) == {
        events.person_for("anon-1"),
        events.person_for("user-2"),
        events.person_for("user-3"),
    }
    assert parse_csv(b"a@x.io\nd-1\n") == {"distinct_ids": ["a@x.io", "d-1"], "emails": ["a@x.io"]}


# ---------------------------------------------------------------- versions
def test_a_refresh_never_shows_a_half_written_version(project, events):
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)  # the task refreshes relative to the real now
    events.add("view", "u1", recent).flush()
    cohort = make_cohort(
        project,
        {
            "match": "all",
            "groups": [
                {
                    "match": "all",
                    "criteria": [
                        {"type": "performed_event", "event": "view", "operator": "gte", "count": 1, "days": 7}
                    ],
                }
            ],
        },
        now=None,
    )
    assert cohort.version == 1 and members(cohort) == {events.person_for("u1")}
    # A query built now binds version 1 ...
    b = SQLBuilder(project.id)
    reading = f"SELECT DISTINCT person_id FROM person_distinct_ids WHERE project_id = {{project_id:UInt32}} AND {cohort_condition(b, cohort.pk, 'person_id', False)}"
    # ... while a refresh is half-way through writing version 2:
    ch.insert(
        "cohort_people",
        {
            "project_id": [project.id],
            "cohort_id": [cohort.pk],
            "version": [2],
            "person_id": [str(uuid.uuid4())],
        },
    )
    assert members(cohort) == {events.person_for("u1")}  # readers still see version 1
    events.add("view", "u2", recent).flush()
    assert (
        refresh_cohort(cohort.pk) == 2
    )  # a complete refresh writes version 3 (past the stray 2), then flips
    cohort.refresh_from_db()
    assert cohort.version == 3 and cohort.count == 2
    assert members(cohort) == {events.person_for("u1"), events.person_for("u2")}
    # The query that bound version 1 before the flip, running after it, still reads version 1 whole.
    assert set(ch.query(reading, b.params).column("person_id")) == {events.person_for("u1")}
    versions = ch.query(
        "SELECT DISTINCT version FROM cohort_people WHERE project_id = {project_id:UInt32} ORDER BY version",
        {"project_id": project.id},
    ).column("version")
    assert versions == [1, 3]  # the abandoned version 2 is gone


def test_refresh_of_a_deleted_cohort_is_a_no_op(project):
    assert refresh_cohort(987654321) is None


# ---------------------------------------------------------------- cohort filter in insights
def test_cohort_filter_in_trends_and_retention_breakdown(project, events):
    day = dt.datetime(2026, 6, 29, 10, tzinfo=dt.UTC)
    for did in ("a", "b", "c"):
        events.add("view", did, day)
    events.add("view", "a", day + dt.timedelta(days=1))
    events.add("buy", "a", day).add("buy", "b", day)
    events.flush()
    buyers = make_cohort(
        project,
        {
            "match": "all",
            "groups": [
                {
                    "match": "all",
                    "criteria": [
                        {"type": "performed_event", "event": "buy", "operator": "gte", "count": 1, "days": 30}
                    ],
                }
            ],
        },
        name="Buyers",
    )
    trends = TrendsSpec.from_json(
        {
            "series": [{"event": "view", "math": "dau"}],
            "date_from": "2026-06-29",
            "date_to": "2026-06-30",
            "properties": [{"type": "cohort", "value": buyers.pk}],
        }
    )
    assert [s.total for s in TrendsQueryRunner(project, trends).run().series] == [2]
    not_in = TrendsSpec.from_json(
        {
            "series": [{"event": "view", "math": "dau"}],
            "date_from": "2026-06-29",
            "date_to": "2026-06-30",
            "properties": [{"type": "cohort", "operator": "not_in", "value": buyers.pk}],
        }
    )
    assert [s.total for s in TrendsQueryRunner(project, not_in).run().series] == [1]
    spec = RetentionSpec.from_json(
        {
            "target_event": {"event": "view"},
            "period": "day",
            "date_from": "2026-06-29",
            "date_to": "2026-06-30",
            "breakdown": {"type": "cohort", "cohorts": [buyers.pk]},
        },
        project,
    )
    payload = RetentionQueryRunner(project, spec).run().to_json(None)["results"]
    assert [(r["breakdown_value"], r["values"]) for r in payload] == [("Buyers", [2, 1]), ("Buyers", [1])]
    filtered = RetentionSpec.from_json(
        {
            "target_event": {"event": "view"},
            "period": "day",
            "date_from": "2026-06-29",
            "date_to": "2026-06-30",
            "properties": [{"type": "cohort", "operator": "not_in", "value": buyers.pk}],
        },
        project,
    )
    assert [r.values for r in RetentionQueryRunner(project, filtered).run().rows] == [[1, 0], [0]]


def test_cohort_filter_on_another_projects_cohort_is_rejected(project, other_project):
    foreign = Cohort.objects.create(project=other_project, name="theirs", definition={})
    spec = TrendsSpec.from_json(
        {"series": [{"event": "view"}], "properties": [{"type": "cohort", "value": foreign.pk}]}
    )
    with pytest.raises(BadRequest):
        TrendsQueryRunner(project, spec).run()


# ---------------------------------------------------------------- pages and API
def page(project, name="cohorts:cohorts", **kw):
    return reverse(name, kwargs={"project_id": project.pk, **kw})


def test_cohort_pages(
    alice_client, client, bob, charlie, project, events, django_capture_on_commit_callbacks
):
    events.add("view", "u1", NOW).flush()
    assert alice_client.get(page(project)).status_code == 200
    upload = io.BytesIO(b"distinct_id\nu1\n")
    upload.name = "ids.csv"
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = alice_client.post(page(project), {"name": "Uploaded", "kind": "static", "csv": upload})
    assert response.status_code == 302 and len(callbacks) == 1
    cohort = Cohort.objects.get(project=project, name="Uploaded")
    refresh_cohort(cohort.pk)  # what the worker runs after the commit
    detail = alice_client.get(page(project, "cohorts:cohort", cohort_id=cohort.pk))
    assert detail.status_code == 200 and str(events.person_for("u1")) in detail.content.decode()
    export = alice_client.get(page(project, "cohorts:cohort_export", cohort_id=cohort.pk))
    assert export.status_code == 200 and "u1" in b"".join(export.streaming_content).decode()
    bad = alice_client.post(page(project), {"name": "Broken", "kind": "behavioral", "definition": "{nope"})
    assert bad.status_code == 400 and "not valid JSON" in bad.content.decode()
    client.force_login(bob)  # exec: may look, not change or export
    assert client.get(page(project, "cohorts:cohort", cohort_id=cohort.pk)).status_code == 200
    assert client.post(page(project), {"name": "x", "kind": "static"}).status_code == 403
    assert client.get(page(project, "cohorts:cohort_export", cohort_id=cohort.pk)).status_code == 403
    client.force_login(charlie)
    assert client.get(page(project)).status_code == 404
    assert client.get(page(project, "cohorts:cohort", cohort_id=cohort.pk)).status_code == 404


def test_cohort_api(client, project, api_key, events, django_capture_on_commit_callbacks):
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)  # the task refreshes relative to the real now
    events.add("buy", "u1", recent).add("view", "u2", recent).flush()
    add_persons(project.id, {events.person_for("u1"): {"email": "u1@example.com"}})
    auth = {"Authorization": f"Bearer {api_key}"}
    body = {
        "name": "Buyers",
        "kind": "behavioral",
        "definition": {
            "match": "all",
            "groups": [
                {
                    "match": "all",
                    "criteria": [
                        {"type": "performed_event", "event": "buy", "operator": "gte", "count": 1, "days": 30}
                    ],
                }
            ],
        },
    }
    with django_capture_on_commit_callbacks(execute=False):
        created = client.post(
            f"/api/projects/{project.pk}/cohorts/",
            data=json.dumps(body),
            content_type="application/json",
            headers=auth,
        )
    assert created.status_code == 201, created.content
    cohort_id = created.json()["id"]
    assert created.json()["status"] == "pending"
    refresh_cohort(cohort_id)
    got = client.get(f"/api/projects/{project.pk}/cohorts/{cohort_id}/", headers=auth).json()
    assert got["status"] == "ready" and got["count"] == 1
    persons = client.get(f"/api/projects/{project.pk}/cohorts/{cohort_id}/persons/", headers=auth).json()
    assert persons["count"] == 1 and persons["results"][0]["distinct_id"] == "u1"
    assert persons["results"][0]["properties"]["email"] == "u1@example.com"  # alice is admin: PII visible
    bad = client.post(
        f"/api/projects/{project.pk}/cohorts/",
        data=json.dumps({"name": "", "definition": {}}),
        content_type="application/json",
        headers=auth,
    )
    assert bad.status_code == 400
    assert client.get(f"/api/projects/{project.pk}/cohorts/424242/", headers=auth).status_code == 404
    schema = client.get("/api/schema/").json()
    assert "/api/projects/{project_id}/cohorts/" in schema["paths"]


def test_cohort_builder_fields_become_the_definition(
    alice_client, project, events, django_capture_on_commit_callbacks
):
    recent = dt.datetime.now(dt.UTC) - dt.timedelta(hours=1)
    events.add("buy", "u1", recent).add("buy", "u1", recent).add("buy", "u2", recent).add(
        "view", "u3", recent
    ).flush()
    add_persons(project.id, {events.person_for("u2"): {"plan": "pro"}})
    fields = {
        "name": "Repeat buyers or pros",
        "kind": "behavioral",
        "match": "any",
        "g0_match": "all",
        "g0_c0_type": "performed_event",
        "g0_c0_event": "buy",
        "g0_c0_operator": "gte",
        "g0_c0_count": "2",
        "g0_c0_days": "7",
        "g1_match": "all",
        "g1_c0_type": "person_property",
        "g1_c0_key": "plan",
        "g1_c0_prop_operator": "exact",
        "g1_c0_value": "pro",
    }
    with django_capture_on_commit_callbacks(execute=False):
        response = alice_client.post(page(project), fields)
    assert response.status_code == 302, response.content.decode()[:2000]
    cohort = Cohort.objects.get(project=project, name="Repeat buyers or pros")
    assert cohort.definition["match"] == "any" and len(cohort.definition["groups"]) == 2
    refresh_cohort(cohort.pk)
    assert members(cohort) == {events.person_for("u1"), events.person_for("u2")}
    bad = alice_client.post(page(project), {**fields, "g0_c0_count": "many"})
    assert bad.status_code == 400 and "count" in bad.content.decode()
    assert 'name="g0_c0_count" value="many"' in bad.content.decode()  # the builder keeps what was typed


def test_stale_behavioral_cohorts_are_queued_for_refresh(project, monkeypatch):
    from cohorts import tasks

    queued = []
    monkeypatch.setattr(tasks.refresh_cohort, "delay", queued.append)
    old = Cohort.objects.create(
        project=project, name="old", definition={}, last_calculated_at=NOW - dt.timedelta(days=400)
    )
    Cohort.objects.create(
        project=project, name="fresh", definition={}, last_calculated_at=dt.datetime.now(dt.UTC)
    )
    Cohort.objects.create(
        project=project,
        name="static",
        kind="static",
        definition={},
        last_calculated_at=NOW - dt.timedelta(days=400),
    )
    assert old.pk in tasks.refresh_stale_cohorts() and old.pk in queued
    assert {c.name for c in Cohort.objects.filter(pk__in=queued)} == {"old"}


def test_cohort_filter_in_a_funnel(project, events):
    from funnels.queries import FunnelQueryRunner
    from funnels.spec import FunnelSpec

    day = dt.datetime(2026, 6, 20, 10, tzinfo=dt.UTC)
    for did in ("a", "b", "c"):
        events.add("signup", did, day).add("pay", did, day + dt.timedelta(minutes=5))
    events.add("buy", "a", day).add("buy", "b", day)
    events.flush()
    buyers = make_cohort(
        project,
        {
            "match": "all",
            "groups": [
                {
                    "match": "all",
                    "criteria": [
                        {"type": "performed_event", "event": "buy", "operator": "gte", "count": 1, "days": 30}
                    ],
                }
            ],
        },
        name="Buyers",
    )

    def counts(operator):
        spec = FunnelSpec.from_json(
            {
                "kind": "FunnelsQuery",
                "date_from": "2026-06-01",
                "date_to": "2026-06-30",
                "steps": [{"event": "signup"}, {"event": "pay"}],
                "properties": [{"type": "cohort", "operator": operator, "value": buyers.pk}],
            },
            project,
        )
        return [s.count for s in FunnelQueryRunner(project, spec, engine="arrays").run().results[0].steps]

    assert counts("in") == [2, 2]
    assert counts("not_in") == [1, 1]
