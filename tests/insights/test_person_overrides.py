"""EventSource skips the person-overrides join when a project has none, and its cached
answer (insights.blocks.source.has_overrides) follows every change of
person_distinct_ids at once: a merge written after a query, and a mapping row deleted
after that, are both seen by the next query of the same process."""

from __future__ import annotations

import datetime as dt
import uuid

from analytics_app import clickhouse as ch
from insights.blocks import EventSource, SQLBuilder
from insights.blocks.source import has_overrides

T0 = dt.datetime(2026, 3, 2, 12, tzinfo=dt.UTC)


def persons_by_distinct_id(project) -> dict[str, set[str]]:
    b = SQLBuilder(project.id)
    src = EventSource(project, b, None, None, need_person=True)
    rows = ch.query(f"SELECT distinct_id, toString(person_id) FROM ({src.sql()})", b.params).rows
    out: dict[str, set[str]] = {}
    for distinct_id, person in rows:
        out.setdefault(distinct_id, set()).add(person)
    return out


def test_cache_follows_merges_and_deletes(project, events):
    for i, d in enumerate(["x", "y", "z"]):
        events.add("$pageview", d, T0 + dt.timedelta(minutes=i))
    events.flush()
    px, py, pz = (str(events.person_for(d)) for d in "xyz")
    assert not has_overrides(project.id)
    assert persons_by_distinct_id(project) == {"x": {px}, "y": {py}, "z": {pz}}

    events.merge("x", into="y")  # x's old event now belongs to y's person
    events.flush()
    assert has_overrides(project.id)
    assert persons_by_distinct_id(project) == {"x": {py}, "y": {py}, "z": {pz}}

    # Take the re-point back out: x maps to its first person again, no overrides left.
    ch.command(
        "ALTER TABLE person_distinct_ids DELETE WHERE project_id = {project_id:UInt32}"
        " AND distinct_id = 'x' AND person_id = {p:UUID} SETTINGS mutations_sync = 2",
        {"project_id": project.id, "p": py},
    )
    assert not has_overrides(project.id)
    assert persons_by_distinct_id(project) == {"x": {px}, "y": {py}, "z": {pz}}


def test_other_projects_do_not_share_the_answer(make_project, project):
    from tests.conftest import EventBuilder

    other = make_project("Other")
    a, b = EventBuilder(project.id), EventBuilder(other.id)
    for builder in (a, b):
        builder.add("$pageview", "anon", T0).add("$pageview", "user", T0 + dt.timedelta(minutes=1))
    a.merge("anon", into="user")
    a.flush()
    b.flush()
    assert has_overrides(project.id) and not has_overrides(other.id)
    assert persons_by_distinct_id(project) == {
        "anon": {str(a.person_for("user"))},
        "user": {str(a.person_for("user"))},
    }
    assert persons_by_distinct_id(other) == {
        "anon": {str(b.person_for("anon"))},
        "user": {str(b.person_for("user"))},
    }


def test_a_persons_filter_keeps_exactly_their_events_however_overrides_resolve(project, events):
    """EventSource(persons=...) checks the stored columns first (insights.blocks.source.
    persons_sql) and must keep exactly the events whose current person is listed, for
    every way the overrides resolve: none, the inline map of stale persons, the join by
    distinct_id."""
    from unittest import mock

    from insights.blocks import source

    for i, d in enumerate(["a1", "a2", "b1", "b2", "c1", "d1"]):
        events.add("$pageview", d, T0 + dt.timedelta(minutes=i))
    events.flush()

    def rows(persons):
        b = SQLBuilder(project.id)
        src = EventSource(project, b, None, None, need_person=True, persons=persons)
        return sorted(ch.query(f"SELECT uuid, toString(person_id) FROM ({src.sql()})", b.params).rows)

    def check(kind):
        source._overrides.clear()
        everything = rows(None)
        assert source.overrides(project.id).kind == kind
        people = sorted({p for _, p in everything})
        for picked in ([], people[:1], people[1:3], people):
            assert rows(picked) == [r for r in everything if r[1] in picked], (kind, picked)

    check("none")
    events.merge("a2", into="a1")  # a2's stored person is stale now
    events.merge("b1", into="c1")
    events.flush()
    check("persons")
    with mock.patch.object(source, "INLINE_PERSONS", 0):
        check("join")
    source._overrides.clear()


def test_an_unchanged_table_skips_the_fingerprint_and_every_change_is_seen(
    make_project, project, events, settings
):
    """On one server the cached answer is reused while person_distinct_ids' parts are the
    ones it was computed under (no fingerprint scan); a merge's insert, a lightweight
    DELETE and another project's insert each write parts, so the next call checks again
    (tests/ingestion/test_squash.py covers the squash's rewrite, a mutation)."""
    from insights.blocks.source import PDI_FINGERPRINT_SQL, overrides

    settings.CLICKHOUSE_CLUSTER = ""

    def settle() -> None:  # one part: no background merge changes the listing mid-test
        ch.command("OPTIMIZE TABLE person_distinct_ids FINAL", global_=True)

    for i, d in enumerate(["p", "q"]):
        events.add("$pageview", d, T0 + dt.timedelta(minutes=i))
    events.flush()
    settle()

    def kind_and_fingerprints() -> tuple[str, int]:
        with ch.counting() as log:
            kind = overrides(project.id).kind
        return kind, sum(PDI_FINGERPRINT_SQL.strip() in s for s in log.statements)

    kind_and_fingerprints()
    assert kind_and_fingerprints() == ("none", 0)  # same parts: no scan of the mapping rows

    events.merge("p", into="q")
    events.flush()  # an insert: new parts
    settle()
    assert kind_and_fingerprints() == ("persons", 1)
    assert kind_and_fingerprints() == ("persons", 0)
    pq = str(events.person_for("q"))
    assert persons_by_distinct_id(project) == {"p": {pq}, "q": {pq}}

    # A lightweight DELETE of the re-point (not ALTER ... DELETE): p is its own person again.
    ch.command(
        "DELETE FROM person_distinct_ids WHERE project_id = {project_id:UInt32}"
        " AND distinct_id = 'p' AND person_id = {p:UUID}",
        {"project_id": project.id, "p": pq},
    )
    assert kind_and_fingerprints() == ("none", 1)
    assert persons_by_distinct_id(project)["p"] == {str(uuid.uuid5(uuid.NAMESPACE_URL, f"{project.id}/p"))}

    # The same answer from different rows (another project's insert): the fingerprint runs,
    # matches, and the answer is kept under the new listing.
    from tests.conftest import EventBuilder

    other = EventBuilder(make_project("Other").id)
    other.add("$pageview", "someone", T0)
    other.flush()
    settle()
    assert kind_and_fingerprints() == ("none", 1)
    assert kind_and_fingerprints() == ("none", 0)
