"""The demo data generator: deterministic, plausible, identity-merged, and its command."""

from __future__ import annotations

import datetime as dt
import io
import json
from collections import Counter

import numpy as np
import pytest
from django.core.management import CommandError, call_command

from analytics_app import clickhouse as ch
from analytics_app import demo

END = dt.date(2026, 3, 1)
WINDOW_START = dt.datetime(2026, 2, 16, tzinfo=dt.UTC)  # 14 days ending with END
WINDOW_END = dt.datetime(2026, 3, 2, tzinfo=dt.UTC)


def _generate(project, seed: int = 7, persons: int = 200, days: int = 14) -> dict:
    return demo.generate(project.id, persons, days, seed, end=END)


def _rows(sql: str, project) -> list[tuple]:
    return ch.query(sql, {"project_id": project.id}).rows


def _event_counts(project) -> dict[str, int]:
    rows = _rows(
        "SELECT event, count() FROM events WHERE project_id = {project_id:UInt32} GROUP BY event", project
    )
    return dict(rows)


@pytest.mark.django_db
def test_same_seed_writes_identical_events_into_two_projects(make_project):
    first, second = make_project("One"), make_project("Two")
    summary_1, summary_2 = _generate(first), _generate(second)

    assert summary_1["events"] == summary_2["events"] > 0
    assert _event_counts(first) == _event_counts(second)
    sql = "SELECT uuid, event, distinct_id, person_id, timestamp FROM events WHERE project_id = {project_id:UInt32}"
    assert Counter(_rows(sql, first)) == Counter(_rows(sql, second))
    pdi = "SELECT distinct_id, person_id FROM person_distinct_ids WHERE project_id = {project_id:UInt32}"
    assert Counter(_rows(pdi, first)) == Counter(_rows(pdi, second))


@pytest.mark.django_db
def test_another_seed_writes_other_events(make_project):
    first, second = make_project("One"), make_project("Two")
    _generate(first, seed=1)
    _generate(second, seed=2)
    sql = "SELECT event, distinct_id, timestamp FROM events WHERE project_id = {project_id:UInt32}"
    assert set(_rows(sql, first)).isdisjoint(_rows(sql, second))


@pytest.mark.django_db
def test_funnel_is_monotone_and_every_event_is_inside_the_window(project):
    summary = _generate(project)
    counts = _event_counts(project)

    assert sum(counts.values()) == summary["events"]
    assert counts["$pageview"] > counts["signed_up"] >= counts["activated"] >= counts["purchase"] > 0
    # identified persons include people who signed up before the window and came back in it
    assert counts["signed_up"] == counts["$identify"] <= summary["persons"]
    for event in ("$pageleave", "$autocapture", "onboarding_step", "feature_used", "search", "$exception"):
        assert counts.get(event, 0) > 0, event
    # each step of the onboarding funnel is reached by no more people than the step before
    steps = dict(
        _rows(
            "SELECT properties.step::Int64 AS step, count() FROM events "
            "WHERE project_id = {project_id:UInt32} AND event = 'onboarding_step' GROUP BY step",
            project,
        )
    )
    assert counts["signed_up"] >= steps[1] >= steps[2] >= steps[3] >= counts["activated"]
    first, last = _rows(
        "SELECT min(timestamp), max(timestamp) FROM events WHERE project_id = {project_id:UInt32}", project
    )[0]
    assert WINDOW_START <= first < last < WINDOW_END


@pytest.mark.django_db
def test_purchases_carry_revenue_and_pageviews_carry_web_properties(project):
    _generate(project)
    revenue, currencies = _rows(
        "SELECT min(properties.revenue::Float64), groupUniqArray(properties.currency::String) FROM events "
        "WHERE project_id = {project_id:UInt32} AND event = 'purchase'",
        project,
    )[0]
    assert revenue > 0
    assert set(currencies) <= {"USD", "EUR", "GBP"}
    row = _rows(
        "SELECT properties, session_id, window_id, mat_browser, mat_pathname FROM events "
        "WHERE project_id = {project_id:UInt32} AND event = '$pageview' ORDER BY timestamp LIMIT 1",
        project,
    )[0]
    props, session_id, window_id, browser, pathname = row
    assert props["$current_url"].startswith("https://shop.example.com/")
    assert props["$pathname"] == pathname
    assert props["$browser"] == browser in {"Chrome", "Safari", "Firefox", "Edge"}
    assert props["$device_type"] in {"Desktop", "Mobile", "Tablet"}
    assert props["$lib"] == "web"
    assert props["$session_id"] == session_id and props["$window_id"] == window_id
    utm = _rows(
        "SELECT count() FROM events WHERE project_id = {project_id:UInt32} "
        "AND event = '$pageview' AND properties.utm_source::Nullable(String) IS NOT NULL",
        project,
    )[0][0]
    assert utm > 0


@pytest.mark.django_db
def test_identified_visitor_has_anonymous_and_user_ids_mapped_to_one_person(project):
    _generate(project)
    person_id = _rows(
        "SELECT person_id FROM events WHERE project_id = {project_id:UInt32} AND event = '$identify' "
        "ORDER BY timestamp LIMIT 1",
        project,
    )[0][0]
    ids = ch.query(
        "SELECT groupArray(distinct_id) FROM person_distinct_ids "
        "WHERE project_id = {project_id:UInt32} AND person_id = {person:UUID}",
        {"project_id": project.id, "person": person_id},
    ).scalar()
    assert len(ids) == 2
    user_id = next(i for i in ids if i.startswith("user_"))
    anon_id = next(i for i in ids if not i.startswith("user_"))
    events = ch.query(
        "SELECT event, distinct_id, person_id, properties FROM events "
        "WHERE project_id = {project_id:UInt32} AND person_id = {person:UUID} ORDER BY timestamp",
        {"project_id": project.id, "person": person_id},
    ).rows
    assert {e[1] for e in events} == {anon_id, user_id}
    assert {e[2] for e in events} == {person_id}
    identify = next(e for e in events if e[0] == "$identify")
    assert identify[1] == user_id and identify[3]["$anon_distinct_id"] == anon_id
    before = events[: events.index(identify)]
    assert before and all(e[1] == anon_id and e[3]["$process_person_profile"] is False for e in before)
    assert all(e[1] == user_id for e in events[events.index(identify) :])

    person = ch.query(
        "SELECT properties, is_identified FROM persons WHERE project_id = {project_id:UInt32} AND id = {person:UUID}",
        {"project_id": project.id, "person": person_id},
    ).rows
    assert len(person) == 1
    props, is_identified = json.loads(person[0][0]), person[0][1]
    assert is_identified == 1
    assert props["email"].endswith(("@example.com", "@example.org", "@example.net"))
    assert {"name", "plan", "country", "created_at"} <= props.keys()


@pytest.mark.django_db
def test_people_counted_through_person_distinct_ids_are_fewer_than_distinct_ids(project):
    summary = _generate(project)
    ids, persons, mapped, events = _rows(
        """
        SELECT uniqExact(e.distinct_id), uniqExact(p.person_id), countIf(p.person_id = e.person_id), count()
        FROM events AS e
        LEFT JOIN (
            SELECT distinct_id, argMax(person_id, version) AS person_id
            FROM person_distinct_ids WHERE project_id = {project_id:UInt32} GROUP BY distinct_id
        ) AS p USING distinct_id
        WHERE e.project_id = {project_id:UInt32}
        """,
        project,
    )[0]
    assert mapped == events  # every event's distinct_id resolves to the event's person
    # (people identified before the window keep a mapping for their anonymous id too)
    assert persons == summary["visitors"] < ids <= summary["distinct_ids"]
    anonymous_only = _rows(
        "SELECT count() FROM (SELECT person_id FROM person_distinct_ids WHERE project_id = {project_id:UInt32} "
        "GROUP BY person_id HAVING count() = 1)",
        project,
    )[0][0]
    assert anonymous_only == summary["visitors"] - summary["persons"] > 0


def test_usage_decays_over_the_weeks_after_landing():
    spec = demo.DemoSpec(project_id=1, persons=demo.PERSONS_PER_CHUNK, days=70, seed=3, end=END)
    chunk = demo.generate_chunk(spec, 0)
    events = np.array(chunk.events["event"].to_pylist())
    person = np.array(chunk.events["person_id"].to_pylist())
    ts = chunk.events["timestamp"].astype("int64")
    first_seen = {}
    for p, t in zip(person, ts, strict=True):
        first_seen[p] = min(first_seen.get(p, t), t)
    used = events == "feature_used"
    weeks = (ts[used] - np.array([first_seen[p] for p in person[used]])) // (7 * demo.DAY_US)
    per_week = np.bincount(weeks, minlength=6)
    assert per_week[0] > per_week[2] > per_week[4] > 0


def test_no_event_is_later_than_now():
    spec = demo.DemoSpec(project_id=1, persons=500, days=14, seed=3, end=END)
    now = dt.datetime(2026, 2, 25, 12, tzinfo=dt.UTC)
    now_us = int(now.timestamp()) * demo.US
    chunk = demo.generate_chunk(spec, 0, now_us=now_us)
    assert chunk.n_events > 0
    assert chunk.events["timestamp"].astype("int64").max() < now_us
    full = demo.generate_chunk(spec, 0)
    assert full.n_events > chunk.n_events


@pytest.mark.django_db
def test_command_writes_demo_data_and_prints_a_summary(project):
    out = io.StringIO()
    call_command(
        "generate_demo_data",
        *(
            "--project",
            str(project.id),
            "--persons",
            "50",
            "--days",
            "7",
            "--seed",
            "3",
            "--end",
            "2026-03-01",
        ),
        "--quiet",
        stdout=out,
    )
    written = ch.query(
        "SELECT count() FROM events WHERE project_id = {project_id:UInt32}", {"project_id": project.id}
    ).scalar()
    assert written > 0
    text = out.getvalue()
    assert f"Generated {written:,} events" in text
    assert "events/s" in text and "identified persons" in text


@pytest.mark.django_db
def test_command_refuses_an_unknown_project():
    with pytest.raises(CommandError, match="No project"):
        call_command("generate_demo_data", "--project", "987654321", "--quiet")
