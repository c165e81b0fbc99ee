"""Hand-written retention cases with exact numbers."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics_app.errors import BadRequest
from retention.queries import RetentionQueryRunner
from retention.spec import RetentionSpec

D0 = dt.datetime(2026, 5, 4, 12, tzinfo=dt.UTC)  # a Monday


def run(project, **body):
    body = {"kind": "RetentionQuery", **body}
    result = RetentionQueryRunner(project, RetentionSpec.from_json(body, project)).run()
    return [(r.cohort_start.date().isoformat(), r.values) for r in result.rows]


def at(day: int, hour: int = 0) -> dt.datetime:
    return D0 + dt.timedelta(days=day, hours=hour)


def test_two_persons_recurring_daily_triangle(project, events):
    for day in (0, 1, 2, 5, 6):
        events.add("open", "p1", at(day))
    for day in (1, 2, 3, 6):
        events.add("open", "p2", at(day))
    events.flush()
    # Cohort = persons active that day; value k = of those, active k days later.
    # p1: {0,1,2,5,6}, p2: {1,2,3,6}.
    expected = [
        ("2026-05-04", [1, 1, 1, 0, 0, 1, 1]),  # p1 only
        ("2026-05-05", [2, 2, 1, 0, 1, 2]),  # p1, p2: day2 both, day3 p2, day4 none, day5 p1, day6 both
        ("2026-05-06", [2, 1, 0, 1, 2]),  # day3 p2, day4 none, day5 p1, day6 both
        ("2026-05-07", [1, 0, 0, 1]),  # p2: day4 no, day5 no, day6 yes
        ("2026-05-08", [0, 0, 0]),
        ("2026-05-09", [1, 1]),  # p1
        ("2026-05-10", [2]),
    ]
    got = run(
        project,
        period="day",
        date_from="2026-05-04",
        date_to="2026-05-10",
        retention_type="recurring",
        target_event={"event": "open"},
    )
    assert got == expected


def test_first_time_ignores_persons_whose_first_event_predates_the_range(project, events):
    events.add("open", "old", at(-3)).add("open", "old", at(0)).add("open", "old", at(1))
    events.add("open", "new", at(1)).add("open", "new", at(2))
    events.flush()
    got = run(
        project,
        period="day",
        date_from="2026-05-04",
        date_to="2026-05-06",
        retention_type="first_time",
        target_event={"event": "open"},
    )
    assert got == [("2026-05-04", [0, 0, 0]), ("2026-05-05", [1, 1]), ("2026-05-06", [0])]


def test_total_intervals_caps_each_row(project, events):
    events.add("open", "p", at(0)).add("open", "p", at(3))
    events.flush()
    got = run(
        project,
        period="day",
        date_from="2026-05-04",
        date_to="2026-05-08",
        total_intervals=3,
        target_event={"event": "open"},
    )
    assert got[0] == ("2026-05-04", [1, 0, 0])
    assert [len(v) for _, v in got] == [3, 3, 3, 2, 1]


def test_returning_event_differs_and_merged_identities_count_once(project, events):
    events.add("signup", "anon", at(0)).add("buy", "user@x", at(7)).add("buy", "anon", at(8))
    events.add("signup", "other", at(0))
    events.merge("anon", "user@x")
    events.flush()
    got = run(
        project,
        period="week",
        date_from="2026-05-04",
        date_to="2026-05-17",
        retention_type="first_time",
        target_event={"event": "signup"},
        returning_event={"event": "buy"},
    )
    assert got == [("2026-05-04", [2, 1]), ("2026-05-11", [0])]


def test_breakdown_by_person_property(project, events):
    from analytics_app import clickhouse as ch

    events.add("open", "a", at(0)).add("open", "a", at(1)).add("open", "b", at(0))
    events.flush()
    ch.insert(
        "persons",
        {
            "project_id": [project.id] * 2,
            "id": [str(events.person_for("a")), str(events.person_for("b"))],
            "created_at": [D0] * 2,
            "properties": ['{"plan": "pro"}', "{}"],
            "version": [1, 1],
        },
    )
    body = {
        "kind": "RetentionQuery",
        "period": "day",
        "date_from": "2026-05-04",
        "date_to": "2026-05-05",
        "target_event": {"event": "open"},
        "breakdown": {"property": "plan", "type": "person"},
    }
    result = RetentionQueryRunner(project, RetentionSpec.from_json(body, project)).run()
    payload = result.to_json(None)["results"]
    assert [(r["breakdown_value"], r["cohort_start"], r["values"]) for r in payload] == [
        ("pro", "2026-05-04", [1, 1]),
        ("pro", "2026-05-05", [1]),
        ("(none)", "2026-05-04", [1, 0]),
        ("(none)", "2026-05-05", [0]),
    ]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"period": "hour"}, "period"),
        ({"total_intervals": 61}, "total_intervals"),
        ({"retention_type": "sometimes"}, "retention_type"),
        ({"target_event": {}}, "target_event.event"),
        ({"date_from": "all"}, "date_from"),
        ({"breakdown": {"property": "$browser", "type": "event"}}, "breakdown.type"),
        ({"bogus": 1}, "body"),
    ],
)
def test_invalid_specs_are_rejected(body, field):
    full = {"kind": "RetentionQuery", "target_event": {"event": "open"}, **body}
    with pytest.raises(BadRequest) as exc:
        RetentionSpec.from_json(full)
    assert field in exc.value.errors
