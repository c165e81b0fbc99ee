"""The pre-grouped `session_paths` / `path_node_keys` tables (migration 0005) against the
query over the events: same results, including what the tables make harder — a
session written by several INSERTs (several unmerged rows), a session crossing the date
range, equal timestamps ordered by uuid, events that are not included, and the
cluster form (every session grouped)."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest

from analytics_app import clickhouse as ch
from paths.queries import PathsActorsRunner, PathsQueryRunner, TopPathsQueryRunner, _SessionPaths
from paths.spec import PathsSpec

T0 = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
URL = "https://shop.example.com"


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def spec(**body) -> PathsSpec:
    return PathsSpec.from_json(
        {"kind": "PathsQuery", "date_from": "2026-05-01", "date_to": "2026-05-31", **body}
    )


def both(project, s: PathsSpec) -> tuple[dict, dict]:
    new = PathsQueryRunner(project, s)
    old = PathsQueryRunner(project, s, session_table=False)
    assert new.paths.uses_session_table() and not old.paths.uses_session_table()
    return new.run().to_json(), old.run().to_json()


def fill(events) -> None:
    """Sessions written in three separate INSERTs, so session_paths holds several rows
    for the same session until a merge."""
    tie = sorted(str(uuid.uuid4()) for _ in range(2))
    # equal timestamps: the uuid order decides (/a before /b in s1, /b before /a in s2)
    events.add("$pageview", "u1", at(0), {"$current_url": URL + "/"}, session_id="s1")
    events.add("$pageview", "u1", at(5), {"$current_url": URL + "/a"}, session_id="s1", uuid=tie[0])
    events.add("$pageview", "u1", at(5), {"$current_url": URL + "/b"}, session_id="s1", uuid=tie[1])
    events.add("$pageview", "u2", at(0), {"$current_url": URL + "/"}, session_id="s2")
    events.add("$pageview", "u2", at(5), {"$current_url": URL + "/a"}, session_id="s2", uuid=tie[1])
    events.add("$pageview", "u2", at(5), {"$current_url": URL + "/b"}, session_id="s2", uuid=tie[0])
    # a session crossing the start of the range (2026-05-01): the April events are out
    events.add(
        "$pageview",
        "u3",
        dt.datetime(2026, 4, 30, 23, 59, tzinfo=dt.UTC),
        {"$current_url": URL + "/x"},
        session_id="s3",
    )
    events.add(
        "$pageview",
        "u3",
        dt.datetime(2026, 5, 1, 0, 1, tzinfo=dt.UTC),
        {"$current_url": URL + "/"},
        session_id="s3",
    )
    events.flush()
    # second INSERT: more events of s1 and s3, a custom event, a screen, a page view without URL
    events.add("$pageview", "u1", at(20), {"$current_url": URL + "/product/7?x=1"}, session_id="s1")
    events.add("purchase", "u1", at(30), {}, session_id="s1")
    events.add("$screen", "u1", at(31), {"$screen_name": "Cart"}, session_id="s1")
    events.add("$pageview", "u1", at(32), {}, session_id="s1")
    events.add(
        "$pageview",
        "u3",
        dt.datetime(2026, 5, 1, 0, 2, tzinfo=dt.UTC),
        {"$current_url": URL + "/pricing/"},
        session_id="s3",
    )
    events.add("purchase", "u3", dt.datetime(2026, 5, 1, 0, 3, tzinfo=dt.UTC), {}, session_id="s3")
    events.flush()
    # third INSERT: s2 continues; a session-less person (read from the events either way)
    events.add("$pageview", "u2", at(40), {"$current_url": URL + "/product/8"}, session_id="s2")
    events.add("purchase", "u2", at(50), {}, session_id="s2")
    events.add("$pageview", "u4", at(0), {"$current_url": URL + "/"})
    events.add("$pageview", "u4", at(9), {"$current_url": URL + "/a"})
    # and a session written by one INSERT (one row: read as it is, not grouped)
    events.add("$pageview", "u5", at(0), {"$current_url": URL + "/"}, session_id="s5")
    events.add("$pageview", "u5", at(3), {"$current_url": URL + "/b"}, session_id="s5")
    events.flush()


@pytest.fixture
def no_merges():
    """Keep each INSERT's rows apart, so the reader must group them."""
    ch.command("SYSTEM STOP MERGES session_paths", global_=True)
    try:
        yield
    finally:
        ch.command("SYSTEM START MERGES session_paths", global_=True)


CASES = [
    {},
    {"start_point": "/", "path_cleaning": [{"regex": r"/product/\d+", "alias": "/product/:id"}]},
    {"end_point": "purchase", "include_event_types": ["$pageview", "purchase"], "step_limit": 3},
    {"include_event_types": ["$pageview", "$screen", "custom_event"], "exclude": ["/a"]},
    {"include_event_types": ["purchase"]},
    {
        "path_groupings": ["/product/*"],
        "path_cleaning": [{"regex": r"/product/\d+", "alias": "/product/:id"}],
    },
]


@pytest.mark.django_db
@pytest.mark.parametrize("body", CASES)
def test_session_table_matches_events_query(project, events, body, no_merges):
    fill(events)
    rows = ch.query(
        "SELECT session_id, count() FROM session_paths WHERE project_id = {project_id:UInt32} GROUP BY session_id ORDER BY session_id",
        {"project_id": project.pk},
    ).rows
    assert dict(rows)["s1"] == 2 and dict(rows)["s2"] == 2 and dict(rows)["s5"] == 1  # unmerged: grouped
    new, old = both(project, spec(**body))
    assert new == old
    assert new["sessions"] > 0
    s = spec(**body)
    assert (
        TopPathsQueryRunner(project, s, limit=100).run()
        == TopPathsQueryRunner(project, s, limit=100, session_table=False).run()
    )


@pytest.mark.django_db
def test_session_table_gives_the_exact_edges(project, events):
    fill(events)
    new, _ = both(project, spec())
    got = {(e["source"], e["target"]): e["value"] for e in new["results"]}
    assert got == {
        ("1_/", "2_/a"): 2,  # s1 (uuid order: /a then /b) and u4 (no session id)
        ("2_/a", "3_/b"): 1,
        ("1_/", "2_/b"): 2,  # s2: /b then /a; s5
        ("2_/b", "3_/a"): 1,
        ("3_/b", "4_/product/7"): 1,
        ("3_/a", "4_/product/8"): 1,
        ("1_/", "2_/pricing"): 1,  # s3: the April /x is out of range
    }
    assert new["sessions"] == 5


@pytest.mark.django_db
def test_cluster_form_groups_every_session(project, events, settings, no_merges):
    fill(events)
    settings.CLICKHOUSE_CLUSTER = "prod"  # only changes how session_paths is read
    s = spec(start_point="/")
    runner = PathsQueryRunner(project, s)
    assert "groupArrayArray" in runner.build()[0]
    settings.CLICKHOUSE_CLUSTER = ""
    assert runner.run().to_json() == PathsQueryRunner(project, s, session_table=False).run().to_json()


@pytest.mark.django_db
def test_filters_and_persons_read_the_events(project, events):
    fill(events)
    filtered = spec(properties=[{"key": "$current_url", "value": URL + "/"}])
    assert not _SessionPaths(project, filtered).uses_session_table()
    assert _SessionPaths(project, spec()).uses_session_table()
    assert not _SessionPaths(project, spec()).uses_session_table(person=True)  # drill-down needs persons
    result = PathsQueryRunner(project, filtered).run().to_json()
    assert result["sessions"] == 5 and result["results"] == []
    actors = PathsActorsRunner(project, spec(), "1_/", "2_/a").run()
    assert actors.total == 2
    assert {a.session_id for a in actors.actors} == {"s1", ""}


def fill_sessionless(events) -> None:
    """Events without a $session_id (sessionless_paths, migration 0011): two devices of one
    person merged after their events were stored, a 30-minute gap that splits a person's
    path, equal timestamps ordered by uuid, an event outside the range."""
    tie = sorted(str(uuid.uuid4()) for _ in range(2))
    events.add("$pageview", "anon-phone", at(0), {"$current_url": URL + "/"})
    events.add("$pageview", "anon-phone", at(10), {"$current_url": URL + "/a"}, uuid=tie[1])
    events.add("$pageview", "anon-laptop", at(10), {"$current_url": URL + "/b"}, uuid=tie[0])
    events.add("purchase", "anon-laptop", at(20), {})
    events.add("$pageview", "anon-laptop", at(20 + 31 * 60), {"$current_url": URL + "/"})  # new path
    events.add("$pageview", "anon-laptop", at(20 + 32 * 60), {"$current_url": URL + "/pricing"})
    events.add(
        "$pageview", "solo", dt.datetime(2026, 4, 30, 23, 59, tzinfo=dt.UTC), {"$current_url": URL + "/x"}
    )
    events.add("$pageview", "solo", dt.datetime(2026, 5, 1, 0, 1, tzinfo=dt.UTC), {"$current_url": URL + "/"})
    events.add(
        "$pageview", "solo", dt.datetime(2026, 5, 1, 0, 2, tzinfo=dt.UTC), {"$current_url": URL + "/pricing"}
    )
    events.flush()
    events.merge("anon-phone", into="user-1")  # $identify on each device, after the events
    events.merge("anon-laptop", into="user-1")
    events.flush()


def sessionless_rows(project) -> int:
    return ch.query(
        "SELECT count() FROM sessionless_paths WHERE project_id = {project_id:UInt32}",
        {"project_id": project.pk},
    ).scalar()


@pytest.mark.django_db
@pytest.mark.parametrize("body", CASES)
def test_sessionless_table_matches_events_query_across_merges_and_the_squash(project, events, body):
    from ingestion.squash import squash_project

    fill(events)
    fill_sessionless(events)
    assert sessionless_rows(project) == 2 + 9  # u4's two and fill_sessionless's nine
    new, old = both(project, spec(**body))
    assert new == old
    squash_project(project.id, min_age=dt.timedelta(0))  # events and sessionless_paths rewritten
    assert both(project, spec(**body)) == (new, old)


@pytest.mark.django_db
def test_sessionless_table_gives_the_exact_edges(project, events):
    fill_sessionless(events)
    new, old = both(project, spec())
    got = {(e["source"], e["target"]): e["value"] for e in new["results"]}
    # user-1 (both devices, one person): / (phone, 0 s), /b then /a at 10 s (uuid order),
    # then after 31 minutes a new path: / -> /pricing; solo: the April /x is out of range.
    assert got == {
        ("1_/", "2_/b"): 1,
        ("2_/b", "3_/a"): 1,
        ("1_/", "2_/pricing"): 2,
    }
    assert new["sessions"] == 3
    assert new == old


@pytest.mark.django_db
@pytest.mark.parametrize("between", ["insert", "insert and merge", "check inside the query"])
def test_a_session_split_after_the_multi_row_check_is_still_grouped(
    project, events, no_merges, monkeypatch, between
):
    """The check that finds the sessions with several rows runs before the paths query;
    rows written (or parts merged) in between must not split a session in two."""
    import paths.queries as pq

    fill(events)
    s5_rows = "SELECT count() FROM session_paths WHERE project_id = {project_id:UInt32} AND session_id = 's5'"
    assert ch.query(s5_rows, {"project_id": project.pk}).scalar() == 1  # one row at the check
    real_query = pq.ch.query

    def query(sql, params=None, **kw):
        found = real_query(sql, params, **kw)
        if "GROUPING SETS" in sql:
            # A URL the project has seen before: the node dictionary, read in the same
            # statement as the check, holds its key (a key first seen in between is not in
            # it: docs/paths.md, "SQL shape").
            events.add("$pageview", "u5", at(6), {"$current_url": URL + "/pricing/"}, session_id="s5")
            events.flush()
            if between == "insert and merge":
                ch.command("SYSTEM START MERGES session_paths", global_=True)
                ch.command(
                    "OPTIMIZE TABLE session_paths FINAL", global_=True
                )  # every part, running merges awaited
        return found

    monkeypatch.setattr(pq.ch, "query", query)
    if between == "check inside the query":
        monkeypatch.setattr(pq.multirow, "MULTI_ROW_CAP", 0)
    s = spec(start_point="/")
    new = PathsQueryRunner(project, s).run().to_json()
    monkeypatch.setattr(pq.ch, "query", real_query)
    assert ch.query(s5_rows, {"project_id": project.pk}).scalar() == (
        1 if between == "insert and merge" else 2
    )
    assert new == PathsQueryRunner(project, s, session_table=False).run().to_json()
    got = {(e["source"], e["target"]): e["value"] for e in new["results"]}
    assert got[("2_/b", "3_/pricing")] == 1  # s5: / -> /b -> /pricing, one session


def sessionless_branch(log) -> bool:
    """Whether a query of the log read the session-less rows (the branch splits at gaps)."""
    return any("FROM sessionless_paths" in sql and "arraySplit" in sql for sql in log.statements)


@pytest.mark.django_db
def test_the_sessionless_branch_only_when_the_range_has_such_rows(project, events):
    """No session-less row in the range: the query leaves the branch out (and resolves no
    person for it); one stored later is in the next answer; rows outside the range only
    do not bring the branch back."""
    fill(events)
    ch.command(
        "DELETE FROM sessionless_paths WHERE project_id = {project_id:UInt32}", {"project_id": project.pk}
    )  # u4's two events: this project now has session events only
    exact = PathsQueryRunner(project, spec(), session_table=False)
    ch.command(
        "DELETE FROM events WHERE project_id = {project_id:UInt32} AND session_id = ''",
        {"project_id": project.pk},
    )
    with ch.counting() as log:
        got = PathsQueryRunner(project, spec()).run().to_json()
    assert not sessionless_branch(log)
    assert got == exact.run().to_json()

    events.add(
        "$pageview", "solo", dt.datetime(2026, 4, 30, 23, 0, tzinfo=dt.UTC), {"$current_url": URL + "/x"}
    )
    events.flush()  # outside the range
    with ch.counting() as log:
        got = PathsQueryRunner(project, spec()).run().to_json()
    assert not sessionless_branch(log)
    assert got == PathsQueryRunner(project, spec(), session_table=False).run().to_json()

    events.add("$pageview", "solo", at(100), {"$current_url": URL + "/"})
    events.add("$pageview", "solo", at(110), {"$current_url": URL + "/only-sessionless"})
    events.flush()
    with ch.counting() as log:
        got = PathsQueryRunner(project, spec()).run().to_json()
    assert sessionless_branch(log)
    assert got == PathsQueryRunner(project, spec(), session_table=False).run().to_json()
    assert ("1_/", "2_/only-sessionless") in {(e["source"], e["target"]) for e in got["results"]}
