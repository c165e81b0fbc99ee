"""The multi-row check of session_paths is reused across queries (paths/multirow.py): a
later query lists the table's parts instead of scanning it, and must still group every
session that has several rows by then -- rows written after the check, a merge, a part
name that comes back with other rows, an answer too old or with too many rows unread."""

from __future__ import annotations

import pytest

from analytics_app import clickhouse as ch
from paths import multirow
from paths.queries import PathsQueryRunner, _SessionPaths

from .test_paths_session_table import URL, at, fill, spec
from .test_paths_session_table import no_merges as no_merges  # a fixture

CHECK = "GROUPING SETS"  # only the check's statement groups so


def paths_statements(log) -> list[str]:
    """The statements of the paths code in a `ch.counting()` log (not the person
    overrides' lookups)."""
    return [
        sql
        for sql in log.statements
        if ("path" in sql or "system.parts" in sql) and "person_distinct_ids" not in sql
    ]


def checks(sent: list[str]) -> int:
    return sum(CHECK in sql for sql in sent)


def run(project, s) -> dict:
    return PathsQueryRunner(project, s).run().to_json()


def exact(project, s) -> dict:
    return PathsQueryRunner(project, s, session_table=False).run().to_json()


def s5_rows(project) -> int:
    return ch.query(
        "SELECT count() FROM session_paths WHERE project_id = {project_id:UInt32} AND session_id = 's5'",
        {"project_id": project.pk},
    ).scalar()


def continue_s5(events) -> None:
    """A second row for the one-row session s5 (its own INSERT, so its own part)."""
    events.add("$pageview", "u5", at(6), {"$current_url": URL + "/pricing/"}, session_id="s5")
    events.flush()


@pytest.mark.django_db
def test_the_check_runs_once_and_rows_written_after_it_are_still_grouped(project, events, no_merges):
    fill(events)
    s = spec(start_point="/")
    with ch.counting() as log:
        first = run(project, s)
    sent = paths_statements(log)
    assert checks(sent) == 1 and len(sent) == 3  # parts + check, the dictionary, then the query
    assert first == exact(project, s)

    continue_s5(events)  # s5 has two rows now, one in a part the check never read
    assert s5_rows(project) == 2
    with ch.counting() as log:
        second = run(project, s)
    sent = paths_statements(log)
    # the parts, the dictionary (s5's row is a new part of path_node_keys too), then the query
    assert checks(sent) == 0 and len(sent) == 3
    assert second == exact(project, s)
    got = {(e["source"], e["target"]): e["value"] for e in second["results"]}
    assert got[("2_/b", "3_/pricing")] == 1  # s5 in one piece: / -> /b -> /pricing


@pytest.mark.django_db
def test_a_merge_after_the_check_keeps_the_answer_right(project, events, no_merges):
    fill(events)
    s = spec(start_point="/")
    run(project, s)
    continue_s5(events)
    ch.command("SYSTEM START MERGES session_paths", global_=True)
    ch.command("OPTIMIZE TABLE session_paths FINAL", global_=True)  # every part replaced
    assert s5_rows(project) == 1
    with ch.counting() as log:
        got = run(project, s)
    assert got == exact(project, s)
    # the merged part is one the check never read: its sessions are grouped by the query
    assert checks(paths_statements(log)) == 0


@pytest.mark.django_db
@pytest.mark.parametrize("stale", ["part name back with other rows", "too old", "too many rows unread"])
def test_a_stale_answer_is_checked_again(project, events, no_merges, monkeypatch, stale):
    fill(events)
    s = spec(start_point="/")
    run(project, s)
    known = multirow.cached(project.pk)
    assert known is not None and known.parts
    if stale == "part name back with other rows":
        name = known.parts[0]
        rows, mtime = known.identity[name]
        identity = {**known.identity, name: (rows + 1, mtime)}
        multirow.remember(project.pk, multirow.MultiRow(known.hashes, known.parts, identity, known.at))
    elif stale == "too old":
        at_ = known.at - multirow.MULTI_ROW_TTL - 1
        multirow.remember(project.pk, multirow.MultiRow(known.hashes, known.parts, known.identity, at_))
    else:
        monkeypatch.setattr(multirow, "MULTI_ROW_REUSE_ROWS", 0)
    continue_s5(events)
    with ch.counting() as log:
        got = run(project, s)
    sent = paths_statements(log)
    assert checks(sent) == 1
    assert len(sent) == 4  # the parts, the check again, the dictionary (new parts), then the query
    assert got == exact(project, s)
    assert multirow.cached(project.pk).at > known.at


def test_reusable_counts_only_rows_in_parts_it_did_not_read():
    listed = [("all_1_1_0", 1000, 50), ("all_2_2_0", 10, 60)]
    found = multirow.MultiRow.found([7], ["all_1_1_0", "all_2_2_0", "all_3_3_0"], listed)
    assert found.parts == ("all_1_1_0", "all_2_2_0")  # all_3_3_0 was not listed: grouped
    now = found.at
    assert found.reusable(listed, now)
    assert found.reusable([*listed, ("all_4_4_0", multirow.MULTI_ROW_REUSE_ROWS, 70)], now)
    assert not found.reusable([*listed, ("all_4_4_0", multirow.MULTI_ROW_REUSE_ROWS + 1, 70)], now)
    assert found.reusable(listed[:1], now)  # a part merged away: its rows are elsewhere, counted
    assert not found.reusable([("all_1_1_0", 1000, 51), listed[1]], now)
    assert not found.reusable(listed, now + multirow.MULTI_ROW_TTL + 1)


@pytest.mark.django_db
def test_projects_do_not_share_an_answer(project, events, no_merges, make_project):
    fill(events)
    s = spec(start_point="/")
    run(project, s)
    other = make_project()
    assert multirow.cached(other.pk) is None
    assert run(other, s)["results"] == []


@pytest.mark.django_db
def test_the_dictionary_read_first_then_the_parts_alone(project, events, no_merges):
    """A runner that needed the dictionary before its query (e.g. a node's id) lists the
    parts in a statement of its own."""
    fill(events)
    s = spec(start_point="/")
    run(project, s)  # the check, cached
    continue_s5(events)
    paths = _SessionPaths(project, s)
    assert paths.node_id("/") > 0  # the dictionary, without the parts
    sql = paths.sql()  # the parts now
    assert paths._multi_row == (multirow.cached(project.pk).hashes, multirow.cached(project.pk).parts)
    got = ch.query(f"SELECT sid, nids FROM ({sql}) ORDER BY sid", paths.builder.params).rows
    assert [n for sid, n in got if sid == "s5"] == [[paths.node_id(u) for u in ("/", "/b", "/pricing")]]


@pytest.mark.django_db
def test_one_read_when_settled_and_a_part_written_after_the_listing(project, events):
    """No session with several rows and no part the check did not know: the query reads
    the table once, without hashing session ids. A part written between the listing and
    the query trips its guard, and the query runs again with that part's sessions grouped:
    the answer is still the events query's, with s5 in one piece."""
    fill(events)
    ch.command("OPTIMIZE TABLE session_paths FINAL", global_=True)  # every session one row
    multirow.forget()
    s = spec(start_point="/")
    with ch.counting() as log:
        first = run(project, s)
    query = paths_statements(log)[-1]
    assert "throwIf(_part" in query and "groupArrayArray" not in query
    assert first == exact(project, s)

    runner = PathsQueryRunner(project, s)
    runner.paths.prefetch(table=True)  # the listing, the check's answer and the dictionary
    assert runner.paths._settled_parts is not None
    ch.command("SYSTEM STOP MERGES session_paths", global_=True)
    try:
        continue_s5(events)  # s5's second row, in a part written after the listing
        assert s5_rows(project) == 2
        with ch.counting() as log:
            second = runner.run().to_json()
    finally:
        ch.command("SYSTEM START MERGES session_paths", global_=True)
    sent = paths_statements(log)
    assert len(sent) == 2 and "throwIf(_part" in sent[0] and "groupArrayArray" in sent[1]
    assert second == exact(project, s)
    got = {(e["source"], e["target"]): e["value"] for e in second["results"]}
    assert got[("2_/b", "3_/pricing")] == 1  # s5 in one piece: / -> /b -> /pricing


@pytest.mark.django_db
def test_a_part_the_check_did_not_read_keeps_the_grouped_form(project, events, make_project):
    """A part without the project's rows (another project's insert) is one the check did
    not read: it could as well be one written while the check ran, so the query keeps
    the grouped form, and still answers as the events query does."""
    from tests.conftest import EventBuilder  # noqa: PLC0415

    fill(events)
    ch.command("OPTIMIZE TABLE session_paths FINAL", global_=True)
    multirow.forget()
    other = EventBuilder(make_project().pk)
    other.add("$pageview", "o1", at(1), {"$current_url": URL + "/"}, session_id="o-s1").flush()
    s = spec(start_point="/")
    with ch.counting() as log:
        got = run(project, s)
    query = paths_statements(log)[-1]
    assert "throwIf(_part" not in query and "groupArrayArray" in query
    assert got == exact(project, s)
