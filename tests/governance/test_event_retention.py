"""Event retention per project: the daily task deletes events older than the project's
event_retention_days (and their paths rows); recent events and other projects stay."""

from __future__ import annotations

import datetime as dt

import pytest
from django.urls import reverse

from analytics_app import clickhouse as ch
from governance import tasks
from governance.roles import Role
from tests.clock import at_test_time
from tests.conftest import EventBuilder

pytestmark = pytest.mark.django_db

NOW = at_test_time(lambda now: now)


def fill(project) -> None:
    b = EventBuilder(project.id)
    for days, user in [(400, "old-1"), (40, "old-2"), (29, "recent-1"), (1, "recent-2")]:
        when = NOW - dt.timedelta(days=days)
        b.add("$pageview", user, when, {"$current_url": f"https://a.test/{user}"}, session_id=f"s-{user}")
        b.add("$pageview", user, when, {"$current_url": f"https://a.test/{user}/no-session"})
    b.flush()


def count(table: str, project) -> int:
    return ch.query(
        f"SELECT count() FROM {table} WHERE project_id = {{project_id:UInt32}}", {"project_id": project.id}
    ).scalar()


def sessions(project) -> set[str]:
    rows = ch.query(
        "SELECT DISTINCT session_id FROM session_paths WHERE project_id = {project_id:UInt32}",
        {"project_id": project.id},
    )
    return {r[0] for r in rows.rows}


def test_old_events_go_and_recent_ones_stay(make_project, alice):
    kept = make_project("Thirty days", members={alice: Role.ADMIN}, event_retention_days=30)
    forever = make_project("Forever", members={alice: Role.ADMIN})
    assert forever.event_retention_days is None
    for project in (kept, forever):
        fill(project)
    assert tasks.purge_expired_events() >= 2
    users = ch.query(
        "SELECT DISTINCT distinct_id FROM events WHERE project_id = {project_id:UInt32} ORDER BY distinct_id",
        {"project_id": kept.id},
    )
    assert [r[0] for r in users.rows] == ["recent-1", "recent-2"]
    assert sessions(kept) == {"s-recent-1", "s-recent-2"}
    assert count("sessionless_paths", kept) == 2  # the session-less events of the recent two
    assert count("funnel_events", kept) == count("events", kept) == 4
    assert count("events", forever) == 8
    assert count("sessionless_paths", forever) == 4
    assert count("funnel_events", forever) == 8
    assert len(sessions(forever)) == 4
    assert tasks.purge_expired_events() == 0  # nothing left to do: safe to run twice


def test_the_settings_form_takes_1_to_3650_days_or_empty(alice_client, project):
    url = reverse("project_settings", kwargs={"project_id": project.pk})
    base = {
        "name": "Acme",
        "time_zone": "UTC",
        "recording_retention_days": "30",
        "replay_resources": "origin",
    }
    page = alice_client.get(url).content.decode()
    assert page.index('name="recording_retention_days"') < page.index('name="event_retention_days"')
    for bad in ("0", "3651", "-5", "ten"):
        response = alice_client.post(url, {**base, "event_retention_days": bad})
        assert response.status_code == 400, bad
    assert alice_client.post(url, {**base, "event_retention_days": "90"}).status_code == 302
    project.refresh_from_db()
    assert project.event_retention_days == 90
    assert alice_client.post(url, {**base, "event_retention_days": ""}).status_code == 302
    project.refresh_from_db()
    assert project.event_retention_days is None


def test_on_a_cluster_the_deletes_go_to_the_local_tables_of_every_shard():
    from governance import queries  # noqa: PLC0415
    from governance.deletion import on_cluster  # noqa: PLC0415

    sql = on_cluster(queries.DELETE_PERSONS_SQL, "main")
    assert sql.lstrip().startswith(
        "DELETE FROM persons_local ON CLUSTER `main` WHERE project_id = {project_id:UInt32}"
    )
    assert on_cluster(queries.DELETE_PERSONS_SQL, "") == queries.DELETE_PERSONS_SQL
