"""Squashing person overrides (ingestion/squash.py) changes no answer, only its cost.

The identity stories of test_merge_batching (returning users on new devices, $identify,
$create_alias and $merge_dangerously chains, retries, ties) go through capture; every
answer (persons, resolved events, DAU, funnel, retention) must equal the reference
before the squash (overrides resolved at query time), after it (stored person_ids
rewritten, no override left), and after more merges arrive on top of a squashed
project (resolved again, then squashed again). Each state is read through both ways
a query resolves overrides (the inline person lookup and the distinct_id join).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid

from hypothesis import HealthCheck, example, given, settings

from analytics_app import clickhouse as ch
from ingestion.squash import REWRITTEN_TABLES, squash_project
from ingestion.views import project_for_token
from insights.blocks import source
from paths.queries import PathsQueryRunner
from paths.spec import PathsSpec
from tests.conftest import EventBuilder, examples

from .test_merge_batching import DATE_RANGE, chunks, deliver, expected, interleave, observed, scenarios, story

NOW = dt.timedelta(0)


def stale_rows(project) -> int:
    """Stored rows (events, and the tables derived from them that keep a person_id) whose
    person_id is not their distinct_id's current person."""
    return sum(
        ch.query(
            f"""
            SELECT count() FROM {table} AS e
            INNER JOIN (
                SELECT distinct_id, argMax(person_id, version) AS person_id FROM person_distinct_ids
                WHERE project_id = {{project_id:UInt32}} GROUP BY distinct_id
            ) AS m ON m.distinct_id = e.distinct_id
            WHERE e.project_id = {{project_id:UInt32}} AND e.person_id != m.person_id
            """,
            {"project_id": project.id},
        ).scalar()
        for table in REWRITTEN_TABLES
    )


def paths_both_ways(project) -> dict:
    """Paths over the session-less events (the stories send no $session_id) from
    sessionless_paths (whose person_id the squash rewrites too) and from the events."""
    spec = PathsSpec.from_json(
        {"kind": "PathsQuery", **DATE_RANGE, "include_event_types": ["$pageview", "custom_event"]}
    )
    table = PathsQueryRunner(project, spec).run().to_json()
    assert table == PathsQueryRunner(project, spec, session_table=False).run().to_json()
    return table


def observed_both_ways(project, monkeypatch) -> dict:
    """observed() through the overrides as they resolve now, and again forced through the
    distinct_id join; both must agree (and paths read both ways)."""
    paths_both_ways(project)
    first = observed(project)
    with monkeypatch.context() as m:
        m.setattr(source, "INLINE_PERSONS", 0)
        m.setattr(source, "_overrides", {})
        joined = observed(project)
    source._overrides.clear()
    assert joined == first
    return first


@settings(
    max_examples=examples(5),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios(), later=scenarios())
@example(  # a returning user's new phone merged after a squash: laptop-anon's events re-point again
    scenario={
        "users": [{"returning": True, "actions": [], "new_phone": False}],
        "order_seed": 1,
        "split_seed": 2,
    },
    later={
        "users": [{"returning": True, "actions": [], "new_phone": True}],
        "order_seed": 3,
        "split_seed": 4,
    },
)
def test_squash_keeps_every_answer(make_project, monkeypatch, scenario, later):
    project = make_project("squash")
    project_for_token(project.api_token)
    token = project.api_token
    rng = random.Random(scenario["split_seed"])
    first = interleave(
        [
            story(u, token, x["returning"], x["actions"], x["new_phone"])
            for u, x in enumerate(scenario["users"])
        ],
        random.Random(scenario["order_seed"]),
    )
    requests = chunks(first, rng)
    deliver(project, requests, [rng.random() < 0.5 for _ in requests])
    want = expected(first, project)
    assert observed_both_ways(project, monkeypatch) == want

    squash_project(project.id, min_age=NOW)
    assert stale_rows(project) == 0
    assert source.overrides(project.id).kind == "none"
    assert observed_both_ways(project, monkeypatch) == want

    # More of the same users' story on top (same distinct_ids: merges re-point squashed ids).
    second = interleave(
        [story(u, token, x["returning"], x["actions"], x["new_phone"]) for u, x in enumerate(later["users"])],
        random.Random(later["order_seed"]),
    )
    for i, e in enumerate(second):
        e["uuid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"squash/{project.id}/{i}"))  # not the first round's
    deliver(project, [second], [True])
    want = expected(first + second, project)
    assert observed_both_ways(project, monkeypatch) == want
    squash_project(project.id, min_age=NOW)
    assert stale_rows(project) == 0 and source.overrides(project.id).kind == "none"
    assert observed_both_ways(project, monkeypatch) == want


def test_recent_merges_wait_and_a_merge_during_the_squash_stays_an_override(project, events, monkeypatch):
    t = dt.datetime(2026, 5, 4, 9, tzinfo=dt.UTC)
    for i, d in enumerate(["anon", "user", "phone"]):
        events.add("$pageview", d, t + dt.timedelta(minutes=i))
    events.flush()
    events.merge("anon", into="user")
    events.flush()
    assert squash_project(project.id).distinct_ids == 0  # younger than SQUASH_MIN_AGE
    assert stale_rows(project) == 4  # the event, its trends_rollup, sessionless_paths and funnel_events rows

    # "anon" is re-pointed again between the squash's read and its mark: the events get the
    # person read first, and "anon" stays an override that resolves to the newer person.
    from ingestion import squash

    real_query = squash.ch.query

    def query(sql, params=None, **kw):
        if sql is squash.LATEST_SQL:
            events.merge("anon", into="phone")
            events.flush()
        return real_query(sql, params, **kw)

    monkeypatch.setattr(squash.ch, "query", query)
    assert squash_project(project.id, min_age=NOW).distinct_ids == 0
    monkeypatch.undo()
    b = source.SQLBuilder(project.id)
    src = source.EventSource(project, b, None, None)
    rows = dict(ch.query(f"SELECT distinct_id, toString(person_id) FROM ({src.sql()})", b.params).rows)
    phone = str(events.person_for("phone"))
    assert rows == {"anon": phone, "user": str(events.person_for("user")), "phone": phone}
    assert source.overrides(project.id).kind != "none"
    assert squash_project(project.id, min_age=NOW).distinct_ids == 1
    assert source.overrides(project.id).kind == "none" and stale_rows(project) == 0


def test_a_hand_edited_mapping_falls_back_to_the_distinct_id_join(project):
    """A distinct_id re-pointed alone while its old person keeps another id (no merge does
    this; tests and imports can): the inline person lookup would be wrong, so the join is used."""
    t = dt.datetime(2026, 5, 4, 9, tzinfo=dt.UTC)
    events = EventBuilder(project.id)
    events.add("$pageview", "a", t).add("$pageview", "c", t)
    events.persons["b"] = events.person_for("a")  # a and b: one person
    events.add("$pageview", "b", t)
    events.flush()
    events.merge("b", into="c")  # only b moves; a keeps the old person
    events.flush()
    assert source.overrides(project.id).kind == "join"
    b = source.SQLBuilder(project.id)
    src = source.EventSource(project, b, None, None)
    rows = ch.query(f"SELECT distinct_id, toString(person_id) FROM ({src.sql()})", b.params).rows
    pa, pc = str(events.person_for("a")), str(events.person_for("c"))
    assert sorted(rows) == sorted([("a", pa), ("b", pc), ("c", pc)])


def test_management_command_and_task(project, events, monkeypatch):
    from django.core.management import call_command

    from ingestion import squash
    from ingestion.tasks import squash_person_overrides

    t = dt.datetime(2026, 5, 4, 9, tzinfo=dt.UTC)
    events.add("$pageview", "x", t).add("$pageview", "y", t)
    events.flush()
    events.merge("x", into="y")
    events.flush()
    call_command("squash_person_overrides", "--project", str(project.id), "--min-age-minutes", "0")
    assert stale_rows(project) == 0
    events.add("$pageview", "z", t)
    events.flush()
    events.merge("z", into="y")
    events.flush()
    assert stale_rows(project) == 4  # the event, its trends_rollup, sessionless_paths and funnel_events rows
    monkeypatch.setattr(squash, "SQUASH_MIN_AGE", NOW)
    assert squash_person_overrides() >= 1
    assert stale_rows(project) == 0


def test_on_a_cluster_the_rewrite_goes_to_the_local_tables_of_every_shard(settings):
    from ingestion.squash import _rewrite_sql

    settings.CLICKHOUSE_CLUSTER = "main"
    assert _rewrite_sql("events").startswith("ALTER TABLE events_local ON CLUSTER `main` UPDATE person_id = ")
    settings.CLICKHOUSE_CLUSTER = ""
    assert _rewrite_sql("events").startswith("ALTER TABLE events UPDATE person_id = ")


def test_migration_0012_gives_the_rows_squashed_before_it_their_current_person(project, events, monkeypatch):
    """A database from before migration 0012: trends_rollup keyed by person_id (0009) and
    squashes that rewrote the events only. 0012 rebuilds the rollup and refills
    sessionless_paths from the (rewritten) events: no stale row is left, and DAU through
    the rollup and paths through sessionless_paths give the raw answers again."""
    import importlib

    from analytics_app.clickhouse.migrate import DDL
    from ingestion import squash
    from tests.trends.test_rollups import run_both

    def apply(name: str) -> None:
        module = importlib.import_module(f"analytics_app.clickhouse.migrations.{name}")
        for statement in module.operations(DDL()):
            ch.command(statement, global_=True)

    def paths(session_table: bool):
        spec = PathsSpec.from_json({"kind": "PathsQuery", "date_from": "2026-05-04", "date_to": "2026-05-05"})
        return PathsQueryRunner(project, spec, session_table=session_table).run().to_json()

    ch.command("DROP VIEW IF EXISTS trends_rollup_mv", global_=True)
    ch.command("DROP TABLE IF EXISTS trends_rollup", global_=True)
    apply("0009_trends_rollups")  # the layout before 0012
    t = dt.datetime(2026, 5, 4, 9, tzinfo=dt.UTC)
    for i, (name, d) in enumerate([("/", "anon"), ("/pricing", "anon"), ("/signup", "user"), ("/", "other")]):
        events.add("$pageview", d, t + dt.timedelta(minutes=i), {"$current_url": f"https://a.example{name}"})
    events.flush()
    events.merge("anon", into="user")
    events.flush()
    # the squash before 0012 (funnel_events, 0014, came later: rewritten as it is today)
    monkeypatch.setattr(squash, "REWRITTEN_TABLES", ("events", "funnel_events"))
    assert squash_project(project.id, min_age=NOW).distinct_ids == 1
    monkeypatch.undo()
    body = {"series": [{"event": "$pageview", "math": "dau"}], "date_from": "2026-05-04",
            "date_to": "2026-05-04", "interval": "hour"}  # fmt: skip
    fast, raw, used = run_both(project, body)
    assert used and fast != raw  # anon's rollup rows still carry its old person: 3 persons
    assert paths(True) != paths(False)
    assert stale_rows(project) == 3  # anon's 2 sessionless_paths rows and its trends_rollup row

    apply("0012_squashable_person_tables")
    assert stale_rows(project) == 0
    fast, raw_after, _ = run_both(project, body)
    assert fast == raw_after == raw
    assert paths(True) == paths(False)
