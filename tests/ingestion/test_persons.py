"""Identity: merges, property updates and personless events, checked in ClickHouse."""

from __future__ import annotations

from analytics_app import clickhouse as ch

from .conftest import count_events, event, person_of, persons_count, send, warnings


def post(client, project, *events):
    response = send(client, "/batch/", {"api_key": project.api_token, "batch": list(events)})
    assert response.status_code == 200, response.content
    return response


def identify(new_id, anon_id, **set_):
    e = event("$identify", new_id, **{"$anon_distinct_id": anon_id})
    if set_:
        e["$set"] = set_
    return e


def test_anonymous_then_identified_is_one_person(client, project):
    post(client, project, event("$pageview", "anon-1"), event("$pageview", "anon-1"))
    post(client, project, identify("user@x", "anon-1", email="user@x"))
    post(client, project, event("purchase", "user@x"))
    assert count_events(project.id) == 4
    assert persons_count(project.id) == 1
    person = person_of(project.id, "user@x")
    assert person["is_identified"] == 1
    assert person["properties"] == {"email": "user@x"}
    assert person_of(project.id, "anon-1")["id"] == person["id"]


def test_identify_merges_two_existing_persons(client, project):
    post(client, project, event("a", "anon-1", **{"$set": {"plan": "free", "color": "red"}}))
    post(client, project, event("b", "user-1", **{"$set": {"plan": "pro"}}))
    post(client, project, identify("user-1", "anon-1"))
    assert persons_count(project.id) == 1
    merged = person_of(project.id, "anon-1")
    assert merged["id"] == person_of(project.id, "user-1")["id"]
    assert merged["properties"] == {"plan": "pro", "color": "red"}  # the person merged INTO wins
    assert merged["is_identified"] == 1


def test_a_merge_repoints_every_distinct_id_of_the_merged_person(client, project):
    post(client, project, event("a", "anon-1"), event("b", "user-1"))
    post(client, project, event("$create_alias", "anon-1", alias="device-7"), event("c", "device-7"))
    post(client, project, event("$merge_dangerously", "user-1", alias="anon-1"))
    assert persons_count(project.id) == 1
    assert person_of(project.id, "device-7")["id"] == person_of(project.id, "user-1")["id"]
    deleted = ch.query(
        "SELECT countIf(deleted = 1) FROM (SELECT id, argMax(is_deleted, version) AS deleted FROM persons WHERE project_id = {project_id:UInt32} GROUP BY id)",
        {"project_id": project.id},
    ).scalar()
    assert deleted == 1


def test_alias_attaches_a_new_id(client, project):
    post(client, project, event("a", "original"))
    post(client, project, event("$create_alias", "original", alias="alias-1"), event("b", "alias-1"))
    assert persons_count(project.id) == 1


def test_python_style_alias(client, project):
    # posthog-python: alias(previous_id, distinct_id) sends distinct_id=previous_id, properties.alias=distinct_id
    post(client, project, event("a", "anon-9"), event("b", "user-9"))
    post(client, project, event("$create_alias", "anon-9", alias="user-9"))
    assert persons_count(project.id) == 1


def test_merging_away_an_identified_person_is_refused_with_a_warning(client, project):
    post(client, project, identify("user-a", "anon-a"), identify("user-b", "anon-b"))
    post(client, project, identify("user-b", "user-a"))
    assert persons_count(project.id) == 2
    found = warnings(project.id)
    assert [w["type"] for w in found] == ["cannot_merge_already_identified"]
    assert found[0]["distinct_id"] == "user-b"


def test_merge_dangerously_merges_identified_persons(client, project):
    post(client, project, identify("user-a", "anon-a", a=1), identify("user-b", "anon-b", b=2))
    post(client, project, event("$merge_dangerously", "user-b", alias="user-a"))
    assert persons_count(project.id) == 1
    person = person_of(project.id, "anon-a")
    assert person["properties"] == {"a": 1, "b": 2}
    assert warnings(project.id) == []


def test_illegal_ids_are_never_merged(client, project):
    post(client, project, event("a", "user-1"))
    post(client, project, identify("user-1", "undefined"))
    assert [w["type"] for w in warnings(project.id)] == ["cannot_merge_with_illegal_distinct_id"]


def test_set_set_once_unset(client, project):
    first = event("a", "u", **{"$set": {"name": "A", "tmp": 1}, "$set_once": {"first_seen": "mon"}})
    first["$set"] = {"name": "top-level wins"}
    post(client, project, first)
    person = person_of(project.id, "u")
    assert person["properties"] == {"name": "top-level wins", "tmp": 1, "first_seen": "mon"}
    second = event("$set", "u")
    second["$set"] = {"plan": "pro"}
    second["$set_once"] = {"first_seen": "tue"}
    second["$unset"] = ["tmp"]
    post(client, project, second)
    assert person_of(project.id, "u")["properties"] == {
        "name": "top-level wins",
        "first_seen": "mon",
        "plan": "pro",
    }


def test_personless_events_get_a_person_id_but_no_person_row(client, project):
    post(
        client,
        project,
        *[event("view", "visitor", **{"$process_person_profile": False, "$set": {"x": 1}}) for _ in range(3)],
    )
    assert persons_count(project.id) == 1
    rows = ch.query(
        "SELECT count() FROM persons WHERE project_id = {project_id:UInt32}", {"project_id": project.id}
    ).scalar()
    assert rows == 0
    post(client, project, identify("customer", "visitor", email="c@x"))
    post(client, project, event("buy", "customer"))
    assert persons_count(project.id) == 1
    person = person_of(project.id, "visitor")
    assert person["properties"] == {"email": "c@x"}


def test_merge_survives_a_cold_cache(client, project):
    from ingestion import persons

    post(client, project, event("a", "anon"), event("b", "user"))
    persons.store.clear()
    post(client, project, identify("user", "anon"))
    persons.store.clear()
    post(client, project, event("c", "anon"))
    assert persons_count(project.id) == 1
