"""Events sent through capture resolve to the right person in analytics queries
(insights.blocks.EventSource), before and after merges: the invariant the person
overrides rely on holds for what ingestion writes."""

from __future__ import annotations

from analytics_app import clickhouse as ch
from insights.blocks import EventSource, SQLBuilder
from tests.ingestion.conftest import ingested, send


def persons_and_events(project) -> tuple[int, int]:
    b = SQLBuilder(project.id)
    src = EventSource(project, b, None, None, need_person=True)
    row = ch.query(f"SELECT uniqExact(person_id), count() FROM ({src.sql()})", b.params).rows[0]
    return row[0], row[1]


def batch(project, events):
    return {"api_key": project.api_token, "batch": events}


def test_anonymous_then_identified_counts_once(client, project):
    send(
        client,
        "/batch/",
        batch(
            project,
            [
                {"event": "$pageview", "distinct_id": "anon-1", "properties": {}},
                {"event": "$pageview", "distinct_id": "anon-2", "properties": {}},
            ],
        ),
    )
    ingested()
    assert persons_and_events(project) == (2, 2)
    send(
        client,
        "/batch/",
        batch(
            project,
            [
                {
                    "event": "$identify",
                    "distinct_id": "user@example.com",
                    "properties": {"$anon_distinct_id": "anon-1"},
                },
            ],
        ),
    )
    ingested()
    send(
        client,
        "/batch/",
        batch(project, [{"event": "purchase", "distinct_id": "user@example.com", "properties": {}}]),
    )
    ingested()
    # anon-1, $identify and purchase are one person now; anon-2 is another.
    assert persons_and_events(project) == (2, 4)


def test_alias_and_merge_dangerously_resolve_old_events(client, project):
    send(
        client,
        "/batch/",
        batch(
            project,
            [
                {"event": "a", "distinct_id": "x", "properties": {}},
                {"event": "b", "distinct_id": "y", "properties": {}},
                {"event": "c", "distinct_id": "z", "properties": {}},
            ],
        ),
    )
    ingested()
    assert persons_and_events(project) == (3, 3)
    send(
        client,
        "/batch/",
        batch(project, [{"event": "$create_alias", "distinct_id": "x", "properties": {"alias": "y"}}]),
    )
    ingested()
    assert persons_and_events(project)[0] == 2
    send(
        client,
        "/batch/",
        batch(project, [{"event": "$merge_dangerously", "distinct_id": "x", "properties": {"alias": "z"}}]),
    )
    ingested()
    assert persons_and_events(project)[0] == 1
