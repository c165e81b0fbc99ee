"""The node dictionary is reused while `path_node_keys` keeps the same parts
(paths/nodecache.py): a later query on the same parts sends no dictionary statement and
answers as the events do; a part written, merged or deleted since makes the next query
compute it again, so a URL first seen later is in the next answer; statements that differ
in a value (point, cleaning rule, range) never share an entry."""

from __future__ import annotations

import pytest

from analytics_app import clickhouse as ch
from paths import nodecache
from paths.queries import PathsQueryRunner
from paths.spec import CleaningRule

from .test_paths_session_table import URL, at, fill, spec

DICTIONARY = "FROM path_node_keys"  # only the dictionary's statement reads that table


def run(project, s, **kw) -> tuple[dict, int]:
    """The runner's answer and how many dictionary statements it sent."""
    with ch.counting() as log:
        got = PathsQueryRunner(project, s, **kw).run().to_json()
    return got, sum(DICTIONARY in sql for sql in log.statements)


def exact(project, s, **kw) -> dict:
    return PathsQueryRunner(project, s, session_table=False, **kw).run().to_json()


@pytest.mark.django_db
def test_the_same_parts_reuse_the_dictionary_and_a_new_url_is_in_the_next_answer(project, events):
    fill(events)
    s = spec(start_point="/")
    first, computed = run(project, s)
    assert computed == 1 and first == exact(project, s)
    again, computed = run(project, s)
    assert computed == 0 and again == first

    events.add("$pageview", "u9", at(1), {"$current_url": URL + "/"}, session_id="s9")
    events.add("$pageview", "u9", at(2), {"$current_url": URL + "/brand-new"}, session_id="s9")
    events.flush()
    later, computed = run(project, s)
    assert computed == 1 and later == exact(project, s)
    assert ("1_/", "2_/brand-new") in {(e["source"], e["target"]) for e in later["results"]}


@pytest.mark.django_db
def test_a_merge_or_a_deletion_of_the_keys_computes_it_again(project, events):
    fill(events)
    s = spec()
    run(project, s)
    ch.command("OPTIMIZE TABLE path_node_keys FINAL", global_=True)  # same rows, other parts
    got, computed = run(project, s)
    assert computed == 1 and got == exact(project, s)
    ch.command(
        "DELETE FROM path_node_keys WHERE project_id = {project_id:UInt32} AND value = {v:String}",
        {"project_id": project.pk, "v": URL + "/a"},
    )
    got, computed = run(project, s)
    assert computed == 1  # the table changed: not the kept dictionary, whatever it held


@pytest.mark.django_db
def test_statements_that_differ_in_a_value_do_not_share(project, events, make_project):
    fill(events)
    base = spec()
    run(project, base)
    for other in (
        spec(start_point="/"),
        spec(date_from="2026-04-01", date_to="2026-05-31"),
        spec(exclude=["/a"]),
    ):
        got, computed = run(project, other)
        assert computed == 1 and got == exact(project, other)
    rules = (CleaningRule(regex="/[ab]$", alias="/x"),)
    got, computed = run(project, base, rules=rules)
    assert computed == 1 and got == exact(project, base, rules=rules)
    assert "2_/x" in {e["target"] for e in got["results"]}
    _, computed = run(make_project(), base)  # another project, same statement
    assert computed == 1


def test_the_key_holds_the_values_not_the_parameter_numbers():
    a = nodecache.key("x = {p1:String} AND y = {p2:UInt32}", {"p1": "/", "p2": 5})
    b = nodecache.key("x = {p7:String} AND y = {p3:UInt32}", {"p7": "/", "p3": 5})
    c = nodecache.key("x = {p1:String} AND y = {p2:UInt32}", {"p1": "/a", "p2": 5})
    assert a == b != c
    listed = [("path_node_keys", "all_1_1_0", 3, 9), ("session_paths", "all_1_1_0", 4, 9)]
    assert nodecache.listing(listed, "path_node_keys") == frozenset({("all_1_1_0", 3, 9)})
    nodecache.remember(-1, a, frozenset({("all_1_1_0", 3, 9)}), "dict")
    assert nodecache.get(-1, b, frozenset({("all_1_1_0", 3, 9)})) == "dict"
    assert nodecache.get(-1, b, frozenset({("all_1_1_0", 3, 10)})) is None
    assert nodecache.get(-1, b, frozenset({("all_1_1_0", 3, 9)}), now=10**12) is None  # too old
    nodecache.forget(-1)
    assert nodecache.get(-1, b, frozenset({("all_1_1_0", 3, 9)})) is None
