"""Discovery (governance/discovery.py, ClickHouse migration 0007): the events, property keys
and observed types the traffic carries, first / last seen and 30-day volumes, compared
with a brute-force reference over the same generated events; drift against the plan
(unplanned events and properties, type changes, planned events never seen, names breaking
the convention); the discovered page with its flags and "Add to plan"."""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid

import pytest
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from analytics_app.models import Project
from governance.discovery import (
    WINDOW_DAYS,
    discovered_events,
    discovered_person_properties,
    discovered_properties,
    drift,
    window_start,
)
from governance.models import AuditEntry, EventDefinition, PlanSettings, PropertyDefinition
from tests.clock import at_test_time
from tests.conftest import EventBuilder, _project_ids

from .pages import forms, text, texts

pytestmark = pytest.mark.django_db

NOW = at_test_time(lambda now: now)
DATE_TEXT = re.compile(r"\d{4}-\d{2}-\d{2}")


def url(name, project) -> str:
    return reverse(name, kwargs={"project_id": project.pk})


def json_type(value) -> str:
    """The reference: the plan type of a JSON value as the JSON column stores it."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return "datetime" if DATE_TEXT.match(value) else "string"


def reference(rows):
    """(events, properties) from the raw events: name -> (first, last, volume_30d) and
    (event, key) -> (types, types_30d, first, last, volume_30d)."""
    since = window_start()
    events, props = {}, {}
    for name, ts, properties in rows:
        recent = ts.date() >= since
        first, last, volume = events.get(name, (ts, ts, 0))
        events[name] = (min(first, ts), max(last, ts), volume + recent)
        for key, value in properties.items():
            t = json_type(value)
            types, types_30d, first, last, volume = props.get((name, key), (set(), set(), ts, ts, 0))
            props[(name, key)] = (
                types | {t},
                types_30d | ({t} if recent else set()),
                min(first, ts),
                max(last, ts),
                volume + recent,
            )
    return events, props


VALUES = st.one_of(
    st.sampled_from(["free", "pro", "a b", "2026-01-05", "2026-01-05T08:00:00Z"]),
    st.integers(-1000, 10**6),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.lists(st.integers(0, 9), min_size=1, max_size=2),
    st.fixed_dictionaries({"x": st.integers(0, 9)}),
)
ROW = st.tuples(
    st.sampled_from(["signed_up", "Order Paid", "$pageview", "viewed"]),
    st.integers(0, WINDOW_DAYS + 15),  # days ago
    st.integers(0, 23 * 60),  # minutes before that day's now
    st.dictionaries(st.sampled_from(["plan", "seats", "$browser", "amount"]), VALUES, max_size=3),
)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(ROW, min_size=0, max_size=30),
    batches=st.integers(1, 3),
    plan=st.dictionaries(
        st.sampled_from(["signed_up", "Order Paid", "never_sent", "viewed"]),
        st.tuples(
            st.sampled_from(["planned", "live", "deprecated"]),
            st.dictionaries(
                st.sampled_from(["plan", "seats", "amount"]),
                st.sampled_from(["string", "number", "boolean", "datetime", "array", "object"]),
                max_size=2,
            ),
        ),
        max_size=3,
    ),
)
def test_discovered_events_properties_and_drift_match_the_reference(rows, batches, plan):
    project = Project.objects.create(pk=next(_project_ids), name="generated")
    PlanSettings.objects.create(project=project, naming="snake_case")
    for name, (status, props) in plan.items():
        event = EventDefinition.objects.create(project=project, name=name, status=status)
        for key, type_ in props.items():
            PropertyDefinition.objects.create(project=project, event=event, name=key, type=type_)
    raw = [
        (name, NOW - dt.timedelta(days=days, minutes=minutes), props) for name, days, minutes, props in rows
    ]
    builder = EventBuilder(project.pk)
    for i, (name, ts, props) in enumerate(raw):
        builder.add(name, f"d{i % 4}", ts, props)
        if i % batches == 0:  # several inserts: several rows per (name, day) before a merge
            builder.flush()
    builder.flush()
    want_events, want_props = reference(raw)

    got_events = {e.name: (e.first_seen, e.last_seen, e.volume_30d) for e in discovered_events(project)}
    assert got_events == want_events
    got_props = {
        (p.event, p.key): (set(p.types), set(p.types_30d), p.first_seen, p.last_seen, p.volume_30d)
        for p in discovered_properties(project)
    }
    assert got_props == {k: (set(v[0]), set(v[1]), *v[2:]) for k, v in want_props.items()}
    some = "signed_up"
    assert {p.key for p in discovered_properties(project, some)} == {k for e, k in want_props if e == some}

    found = drift(project)
    recent = {name for name, (_, _, volume) in want_events.items() if volume}
    assert {e.name for e in found.unplanned_events} == {n for n in recent if n not in plan and n[0] != "$"}
    assert {(p.event, p.key) for p in found.unplanned_properties} == {
        (e, k)
        for (e, k), v in want_props.items()
        if v[4] and e in plan and k not in plan[e][1] and k[0] != "$"
    }
    changes = set()
    for (e, k), (_, types_30d, *_) in want_props.items():
        planned_type = plan.get(e, (None, {}))[1].get(k)
        texts_ = {"string" if t == "datetime" else t for t in types_30d}
        if planned_type is None and len(texts_) > 1:
            changes.add((e, k))
        ok = {"string", "datetime"} if planned_type == "string" else {planned_type}
        if planned_type is not None and types_30d - ok:
            changes.add((e, k))
    assert {(c.event, c.key) for c in found.type_changes} == changes
    assert set(found.never_seen) == {
        n for n, (status, _) in plan.items() if n not in want_events and status != "deprecated"
    }
    assert {n for n, _ in found.naming} == recent & {"Order Paid", "viewed"}  # not snake_case object_action


def capture(client, project, *events):
    body = {"api_key": project.api_token, "batch": list(events)}
    response = client.post("/batch/", json.dumps(body), content_type="application/json")
    assert response.status_code == 200, response.content
    from tests.ingestion.conftest import ingested  # noqa: PLC0415 - the Redis-mode drain

    ingested()


def sent(event, distinct_id, when, **properties):
    return {
        "event": event,
        "distinct_id": distinct_id,
        "timestamp": when.isoformat(),
        "uuid": str(uuid.uuid4()),
        "properties": properties,
    }


@pytest.fixture
def planned(project):
    """A plan with snake_case names: signed_up (plan: string, seats: number) and
    invoice_paid, planned but never sent; a person property email (string)."""
    PlanSettings.objects.create(project=project, naming="snake_case")
    signed_up = EventDefinition.objects.create(project=project, name="signed_up", status="live")
    PropertyDefinition.objects.create(project=project, event=signed_up, name="plan", type="string")
    PropertyDefinition.objects.create(project=project, event=signed_up, name="seats", type="number")
    EventDefinition.objects.create(project=project, name="invoice_paid", status="planned")
    EventDefinition.objects.create(project=project, name="old_thing", status="deprecated")
    PropertyDefinition.objects.create(project=project, name="email", type="string")
    return project


@pytest.fixture
def traffic(client, planned):
    """Sent through the capture endpoint: `plan` a string then a number, an unplanned
    property, an unplanned event breaking the convention, an SDK event."""
    project = planned
    day = dt.timedelta(days=1)
    capture(
        client,
        project,
        sent("signed_up", "u1", NOW - 3 * day, plan="free", seats=2, **{"$browser": "Chrome"}),
        sent("signed_up", "u2", NOW - 2 * day, plan=1, seats=3, referrer="ad"),
        sent("Order Paid", "u1", NOW - day, amount=9.5),
        sent("$pageview", "u1", NOW - day, **{"$current_url": "https://x.test/"}),
        sent("$identify", "u1", NOW - day, **{"$set": {"email": "u1@example.com", "age": 30}}),
        sent("signed_up", "u3", NOW - 40 * day, plan="free", legacy=True),
    )
    return project


def test_drift_names_unplanned_events_properties_type_changes_and_never_seen(traffic):
    found = drift(traffic)
    assert [e.name for e in found.unplanned_events] == ["Order Paid"]
    assert [(p.event, p.key) for p in found.unplanned_properties] == [("signed_up", "referrer")]
    assert [(c.event, c.key, c.planned, set(c.observed)) for c in found.type_changes] == [
        ("signed_up", "plan", "string", {"string", "number"})
    ]
    assert found.never_seen == ("invoice_paid",)
    assert [name for name, _ in found.naming] == ["Order Paid"]
    # `legacy` was last seen 40 days ago: listed, not drift.
    legacy = [p for p in discovered_properties(traffic, "signed_up") if p.key == "legacy"]
    assert legacy[0].volume_30d == 0 and legacy[0].types == {"boolean"}
    persons = {p.key: p.types for p in discovered_person_properties(traffic)}
    assert persons.get("email") == {"string"} and persons.get("age") == {"number"}


def test_a_property_seen_with_several_types_is_a_type_change_even_unplanned(events, project):
    events.add("clicked", "u1", NOW, {"size": "big"}).add("clicked", "u1", NOW, {"size": 3}).flush()
    events.add("clicked", "u1", NOW, {"when": "2026-01-05"}).add("clicked", "u1", NOW, {"when": "x"}).flush()
    found = drift(project)
    # A string that reads as a date and one that does not are both strings.
    assert [(c.key, c.planned) for c in found.type_changes] == [("size", None)]


def test_the_discovered_page_shows_the_flags(traffic, alice_client):
    html = alice_client.get(url("plan_discovered", traffic)).content.decode()
    rows = {r.split()[0]: r for r in texts(html, "class", "discovered-event")}
    assert "unplanned" in rows["Order"] and "breaks convention" in rows["Order"]
    assert "type drift" in rows["signed_up"] and "1 unplanned property" in rows["signed_up"]
    assert (
        "unplanned" not in rows["$pageview"].replace("1 unplanned", "") and "SDK event" in rows["$pageview"]
    )
    assert text(html, "class", "drift-unplanned-events") == "1"
    assert text(html, "class", "drift-type-changes") == "1"
    assert texts(html, "class", "never-seen") == ["invoice_paid Planned"]
    plan_row = [r for r in texts(html, "class", "discovered-property") if r.startswith("plan ")]
    assert plan_row == ["plan number, string string 2 " + plan_row[0].split(" 2 ", 1)[1]]
    assert "type drift" in plan_row[0]


def test_the_plan_page_and_the_overview_count_the_drift(traffic, alice_client):
    html = alice_client.get(url("plan", traffic)).content.decode()
    assert "1 unplanned event, 1 type change" in text(html, "id", "drift")
    flags = {r.split()[0]: r for r in texts(html, "class", "plan-event")}
    assert flags["invoice_paid"].endswith("never seen")
    assert flags["signed_up"].endswith("ok") and flags["old_thing"].endswith("ok")
    overview = alice_client.get(url("project_overview", traffic)).content.decode()
    assert "hx-get" in overview and url("plan_discovered", traffic) in overview
    partial = alice_client.get(
        url("plan_discovered", traffic), HTTP_HX_REQUEST="true", HTTP_HX_TARGET="drift"
    ).content.decode()
    assert "1 unplanned event, 1 type change in the last 30 days" in text(partial, "id", "drift")
    assert "discovered-events" not in partial


def test_add_to_plan_defines_the_event_with_its_observed_properties(traffic, alice_client, alice):
    html = alice_client.get(url("plan_discovered", traffic)).content.decode()
    add = [f for f in forms(html) if f["fields"].get("event") == "Order Paid"]
    assert add and add[0]["action"] == url("plan_discovered", traffic)
    response = alice_client.post(url("plan_discovered", traffic), {"event": "Order Paid"})
    assert response.status_code == 302
    event = EventDefinition.objects.get(project=traffic, name="Order Paid")
    assert event.status == "live"
    assert [(p.name, p.type) for p in event.properties.all()] == [("amount", "number")]
    entry = AuditEntry.objects.get(project=traffic, action="plan.event_create", target="Order Paid")
    assert entry.actor == alice and entry.after["properties"] == [{"name": "amount", "type": "number"}]
    assert [e.name for e in drift(traffic).unplanned_events] == []
    # Again, or a name never seen: a 400 with the reason.
    again = alice_client.post(url("plan_discovered", traffic), {"event": "Order Paid"})
    assert again.status_code == 400 and "already defines" in again.content.decode()
    unseen = alice_client.post(url("plan_discovered", traffic), {"event": "nope"})
    assert unseen.status_code == 400 and "has not been seen" in unseen.content.decode()
    assert alice_client.post(url("plan_discovered", traffic), {}).status_code == 400


def test_add_to_plan_keeps_the_sdk_properties_out_and_types_a_property_by_its_latest_value(
    events, project, alice_client
):
    """`n` was a number, then a string: string. `page` read as a date once, and as text: string."""
    earlier = NOW - dt.timedelta(minutes=5)
    events.add("viewed", "u1", earlier, {"$browser": "x", "page": "2026-01-05", "n": 1}).flush()
    events.add("viewed", "u1", NOW, {"page": "home", "n": "one"}).flush()
    assert alice_client.post(url("plan_discovered", project), {"event": "viewed"}).status_code == 302
    props = EventDefinition.objects.get(project=project, name="viewed").properties.all()
    assert {p.name: p.type for p in props} == {"page": "string", "n": "string"}


def test_an_exec_reads_the_page_but_cannot_add_to_the_plan(traffic, client, bob, charlie):
    client.force_login(bob)
    html = client.get(url("plan_discovered", traffic)).content.decode()
    assert "Order Paid" in html and not [f for f in forms(html) if "event" in f["fields"]]
    assert client.post(url("plan_discovered", traffic), {"event": "Order Paid"}).status_code == 403
    assert not EventDefinition.objects.filter(project=traffic, name="Order Paid").exists()
    client.force_login(charlie)
    assert client.get(url("plan_discovered", traffic)).status_code == 404


def test_the_discovered_page_queries_do_not_grow_with_the_events(events, project, alice_client):
    from django.db import connection  # noqa: PLC0415
    from django.test.utils import CaptureQueriesContext  # noqa: PLC0415

    def queries() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as db, ch.counting() as log:
            assert alice_client.get(url("plan_discovered", project)).status_code == 200
        return len(db), log.count

    events.add("e0", "u", NOW, {"p": 1}).flush()
    EventDefinition.objects.create(project=project, name="e0")
    queries()
    few = queries()
    assert few[1] == 1
    for i in range(1, 40):
        events.add(f"e{i}", "u", NOW - dt.timedelta(days=i), {f"p{i}": i, "q": "x"})
    events.flush()
    for i in range(1, 10):
        EventDefinition.objects.create(project=project, name=f"e{i}")
    assert queries() == few


def datalist(html: str) -> dict[str, str]:
    from html.parser import HTMLParser  # noqa: PLC0415

    found: dict[str, str] = {}

    class Options(HTMLParser):
        inside, value = False, None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "datalist" and a.get("id") == "event-names":
                self.inside = True
            elif tag == "option" and self.inside:
                self.value = a["value"]
                found[self.value] = ""

        def handle_endtag(self, tag):
            self.inside = self.inside and tag != "datalist"

        def handle_data(self, data):
            if self.inside and self.value is not None:
                found[self.value] += data

    Options().feed(html)
    return found


@pytest.mark.parametrize("page", ["trends:trends", "explorer:events"])
def test_event_suggestions_carry_the_plan_description(events, project, alice_client, page):
    EventDefinition.objects.create(
        project=project, name="signed_up", description="A visitor creates an account."
    )
    events.add("signed_up", "u1", NOW).add("clicked", "u1", NOW).flush()
    html = alice_client.get(url(page, project)).content.decode()
    assert datalist(html) == {"signed_up": "A visitor creates an account.", "clicked": ""}


def test_the_backfill_reads_what_the_views_wrote(traffic):
    """The migration's backfill statements (for events stored before it) give the same
    daily rows as the views gave at ingestion."""
    import importlib  # noqa: PLC0415

    migration = importlib.import_module("analytics_app.clickhouse.migrations.0007_discovery")
    params = {"project_id": traffic.pk}

    def rows(sql):
        return sorted(ch.query(sql, params).rows)

    by_view = rows(
        "SELECT event, key, type, day, sum(events), toString(min(first_seen)), toString(max(last_seen)) FROM discovery_daily"
        " WHERE project_id = {project_id:UInt32} GROUP BY event, key, type, day"
    )
    by_backfill = rows(
        f"SELECT event, key, type, day, sum(events), toString(min(first_seen)), toString(max(last_seen))"
        f" FROM ({migration.daily_select('events')}) WHERE project_id = {{project_id:UInt32}}"
        " GROUP BY event, key, type, day"
    )
    assert by_view == by_backfill and len(by_view) > 5
    keys = "SELECT DISTINCT key, type FROM {source} WHERE project_id = {{project_id:UInt32}}"
    persons = f"({migration.person_properties_select('persons', 'created_at')})"
    assert rows(keys.format(source="discovered_person_properties")) == rows(keys.format(source=persons))
