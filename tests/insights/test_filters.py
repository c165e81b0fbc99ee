"""Every property-filter operator against the Python reference, on generated events."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from insights.blocks import EventSource, SQLBuilder, parse_filters
from tests.conftest import examples
from tests.insights import reference as ref

KEYS = ["plan", "n", "flag", "city", "empty"]
TEXTS = ["pro", "Pro", "free", "enterprise", "42", "7.5", "", "zoë", "a'b", "x\\y", "Free trial", "-3"]
NUMBERS = [0, 1, 7, 42, -3, 1.5, 7.5, 1000000, 2.0]


def random_props(rng: random.Random) -> dict:
    props = {}
    for key in KEYS:
        roll = rng.random()
        if roll < 0.2:
            continue  # missing
        if roll < 0.27:
            props[key] = None
        elif roll < 0.6:
            props[key] = rng.choice(TEXTS)
        elif roll < 0.9:
            props[key] = rng.choice(NUMBERS)
        else:
            props[key] = rng.choice([True, False])
    return props


@pytest.fixture(scope="module")
def dataset(ch_project):
    """300 events with mixed-type properties, and persons with mixed-type properties."""
    rng = random.Random(20261123)
    project = ch_project()
    project_id = project.id
    base = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    rows, persons = [], {}
    for i in range(300):
        distinct_id = f"d{i % 60}"
        person = uuid.uuid5(uuid.NAMESPACE_URL, f"{project_id}/{distinct_id}")
        persons[person] = random_props(rng)
        rows.append(
            {
                "uuid": uuid.uuid4(),
                "distinct_id": distinct_id,
                "person_id": person,
                "props": random_props(rng),
                "ts": base + dt.timedelta(minutes=i),
            }
        )
    ch.insert(
        "events",
        {
            "uuid": [str(r["uuid"]) for r in rows],
            "project_id": [project_id] * len(rows),
            "event": ["e"] * len(rows),
            "distinct_id": [r["distinct_id"] for r in rows],
            "person_id": [str(r["person_id"]) for r in rows],
            "timestamp": [r["ts"] for r in rows],
            "properties": [json.dumps(r["props"]) for r in rows],
        },
    )
    ch.insert(
        "person_distinct_ids",
        {
            "project_id": [project_id] * 60,
            "distinct_id": [f"d{i}" for i in range(60)],
            "person_id": [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{project_id}/d{i}")) for i in range(60)],
            "version": [1] * 60,
        },
    )
    ch.insert(
        "persons",
        {
            "project_id": [project_id] * len(persons),
            "id": [str(p) for p in persons],
            "created_at": [base] * len(persons),
            "properties": [json.dumps(p) for p in persons.values()],
            "version": [1] * len(persons),
        },
    )
    return project, rows, persons


def run(project, filters: list[dict]) -> set[uuid.UUID]:
    b = SQLBuilder(project.id)
    src = EventSource(project, b, None, None, filters=parse_filters(filters))
    return set(ch.query(f"SELECT uuid FROM ({src.sql()})", b.params).column("uuid"))


scalar = st.one_of(st.sampled_from(TEXTS), st.sampled_from(NUMBERS), st.booleans())
filters = st.one_of(
    st.builds(
        lambda k, v, op: {"key": k, "operator": op, "value": v},
        st.sampled_from(KEYS),
        st.one_of(scalar, st.lists(scalar, min_size=1, max_size=3)),
        st.sampled_from(["exact", "is_not"]),
    ),
    st.builds(
        lambda k, v, op: {"key": k, "operator": op, "value": v},
        st.sampled_from(KEYS),
        st.sampled_from(["pro", "FREE", "4", "ë", "'", "\\", "trial"]),
        st.sampled_from(["icontains", "not_icontains"]),
    ),
    st.builds(
        lambda k, v, op: {"key": k, "operator": op, "value": v},
        st.sampled_from(KEYS),
        st.sampled_from(["^pro$", "^[0-9]+$", "e", "^-?[0-9.]+$", "(?i)free"]),
        st.sampled_from(["regex", "not_regex"]),
    ),
    st.builds(
        lambda k, v, op: {"key": k, "operator": op, "value": v},
        st.sampled_from(KEYS),
        st.sampled_from([0, 1.5, 7, 42, -3, "7.5"]),
        st.sampled_from(["gt", "gte", "lt", "lte"]),
    ),
    st.builds(
        lambda k, op: {"key": k, "operator": op},
        st.sampled_from(KEYS),
        st.sampled_from(["is_set", "is_not_set"]),
    ),
)


@settings(
    max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(event_filters=st.lists(filters, min_size=1, max_size=2), person_filters=st.lists(filters, max_size=1))
@pytest.mark.django_db
def test_filters_match_the_reference(dataset, event_filters, person_filters):
    project, rows, persons = dataset
    combined = [{**f, "type": "event"} for f in event_filters] + [
        {**f, "type": "person"} for f in person_filters
    ]
    expected = {
        r["uuid"]
        for r in rows
        if all(ref.matches(r["props"], f) for f in event_filters)
        and all(ref.matches(persons[r["person_id"]], f) for f in person_filters)
    }
    assert run(project, combined) == expected


@pytest.mark.django_db
def test_numbers_compare_as_numbers(dataset):
    project, rows, _ = dataset
    got = run(project, [{"key": "n", "operator": "exact", "value": 42}])
    assert got == {r["uuid"] for r in rows if ref.as_number(ref.prop_text(r["props"], "n")) == 42.0}
    assert got  # the data set has both 42 and "42"


@pytest.mark.parametrize(
    "bad",
    [
        "not a list",
        [{"key": "", "operator": "exact", "value": 1}],
        [{"key": "plan", "operator": "like", "value": 1}],
        [{"key": "plan", "operator": "gt", "value": "many"}],
        [{"key": "plan", "operator": "regex", "value": "("}],
        [{"key": "plan", "operator": "exact"}],
        [{"key": "plan", "operator": "exact", "value": {"a": 1}}],
        [{"key": "plan", "operator": "exact", "value": 1, "type": "group"}],
        [42],
    ],
)
def test_bad_filters_are_rejected_with_a_reason(bad):
    with pytest.raises(BadRequest) as err:
        parse_filters(bad)
    assert err.value.errors


# Keys a client may send: the sub-column read binds them as an Identifier parameter
# (filters.event_value_sql), keys with a character binding escapes fall back to getSubcolumn.
ODD_KEYS = [
    "a b", "we`ird", "`", "q'uote", 'dq"x', "ü", "^n", "n:String", "1abc", "select", "$browser",
    "plan FROM events; DROP TABLE events --", "{p1:String}", "x\\y", "tab\tx", "line\nbreak", "nul\0x",
]  # fmt: skip


@pytest.mark.django_db
def test_odd_property_keys_read_exactly_what_the_client_sent(ch_project):
    from insights.blocks.filters import event_text_sql

    project = ch_project()
    rng = random.Random(20261206)
    base = dt.datetime(2026, 5, 1, tzinfo=dt.UTC)
    rows = []
    for i in range(40):
        props = {k: rng.choice(["pro", "free", 7, True, None]) for k in ODD_KEYS if rng.random() < 0.6}
        rows.append({"uuid": uuid.uuid4(), "props": props, "ts": base + dt.timedelta(minutes=i)})
    ch.insert(
        "events",
        {
            "uuid": [str(r["uuid"]) for r in rows],
            "project_id": [project.id] * len(rows),
            "event": ["e"] * len(rows),
            "distinct_id": ["d"] * len(rows),
            "person_id": [str(uuid.uuid5(uuid.NAMESPACE_URL, f"{project.id}/d"))] * len(rows),
            "timestamp": [r["ts"] for r in rows],
            "properties": [json.dumps(r["props"]) for r in rows],
        },
    )
    for key in ODD_KEYS:
        for f in ({"key": key, "operator": "is_set"}, {"key": key, "operator": "exact", "value": "pro"}):
            expected = {r["uuid"] for r in rows if ref.matches(r["props"], f)}
            assert run(project, [f]) == expected, f
            assert expected, f  # the data set holds every key
        b = SQLBuilder(project.id)
        text, _ = event_text_sql(b, key)
        src = EventSource(project, b, None, None, event_columns={"v": text})
        got = dict(ch.query(f"SELECT uuid, v FROM ({src.sql()})", b.params).rows)
        assert got == {r["uuid"]: ref.prop_text(r["props"], key) for r in rows}, key
    assert ch.query(
        "SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": project.id}
    ).scalar() == len(rows)
