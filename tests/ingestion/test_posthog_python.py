"""The real posthog-python SDK against a live Sextant (live_server, same process)."""

from __future__ import annotations

import pytest

from analytics_app import clickhouse as ch

from .conftest import ingested, person_of, persons_count

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def close_sdk_connections():
    """posthog-python sends through module-level requests Sessions that keep their connection
    to the live server open after the client shuts down. That keeps a live-server request
    thread, and the database connection it holds, alive until the interpreter exits: the
    PostgreSQL test database then cannot be dropped ("being accessed by other users") and the
    thread dies mid-read at exit ("Exception in thread ... (process_request_thread)")."""
    yield
    from posthog import request  # noqa: PLC0415

    for name in ("_session", "_flags_session"):
        session = getattr(request, name, None)
        if session is not None:
            session.close()


@pytest.mark.parametrize("gzip", [False, True])
def test_capture_set_and_alias_arrive_with_the_right_person(live_server, make_project, gzip):
    from posthog import Posthog

    project = make_project("Python SDK")
    client = Posthog(project.api_token, host=live_server.url, sync_mode=True, gzip=gzip, disable_geoip=True)
    try:
        client.capture("signed_up", distinct_id="anon-py", properties={"plan": "free"})
        client.set(distinct_id="anon-py", properties={"email": "py@example.com"})
        client.set_once(distinct_id="anon-py", properties={"first": "yes"})
        client.alias(previous_id="anon-py", distinct_id="user-py")
        client.capture("purchased", distinct_id="user-py", properties={"amount": 9})
        client.capture("personless", properties={"x": 1})  # no distinct id: random id, personless
        client.flush()
    finally:
        client.shutdown()
    ingested()
    counts = dict(
        ch.query(
            "SELECT event, count() FROM events WHERE project_id = {project_id:UInt32} GROUP BY event",
            {"project_id": project.id},
        ).rows
    )
    assert counts == {
        "signed_up": 1,
        "$set": 1,
        "$set_once": 1,
        "$create_alias": 1,
        "purchased": 1,
        "personless": 1,
    }
    person = person_of(project.id, "user-py")
    assert person is not None
    assert person["id"] == person_of(project.id, "anon-py")["id"]
    assert person["properties"] == {"email": "py@example.com", "first": "yes"}
    assert persons_count(project.id) == 2  # the merged person + the personless visitor
    lib = ch.query(
        "SELECT DISTINCT properties.`$lib`::String FROM events WHERE project_id = {project_id:UInt32}",
        {"project_id": project.id},
    ).scalar()
    assert lib == "posthog-python"
