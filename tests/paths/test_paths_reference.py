"""Paths in ClickHouse against the brute-force Python reference (tests/paths/reference.py),
on sessions hypothesis draws (3 to 20 sessions of 1 to 9 events, so a failure shrinks
to the events that matter): forward, backward, cleaning, groupings, exclusions, collapsing,
depth limits, sessions without $session_id, edge weights/limits and drop-off."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from paths.queries import PathsActorsRunner, PathsQueryRunner, TopPathsQueryRunner
from paths.spec import CleaningRule, PathsSpec
from tests.conftest import examples
from tests.paths import reference as ref

BASE = dt.datetime(2026, 5, 10, 8, 0, tzinfo=dt.UTC)
URLS = [
    "https://ex.com/",
    "https://ex.com",
    "https://ex.com/?ref=x",
    "https://ex.com/pricing",
    "https://ex.com/pricing/",
    "https://ex.com/product/1",
    "https://ex.com/product/22?x=1",
    "https://ex.com/product/3#r",
    "https://ex.com/blog/a",
    "https://ex.com/blog/b/",
    "https://ex.com/login",
    "https://ex.com/buy",
    "",
]
CUSTOM = ["signup", "purchase"]
SCREENS = ["Home", "Cart"]
NODES = [
    "/",
    "/pricing",
    "/product/:id",
    "/product/1",
    "/blog/*",
    "/blog/a",
    "/login",
    "/buy",
    "signup",
    "purchase",
    "Home",
]
RULE_SETS = [(), ((r"/product/\d+", "/product/:id"),), ((r"^/blog/.*$", "/blog/*"), (r"/login", "/buy"))]
GAPS = [0, 1, 7, 60, 600, 1800, 1801, 3600]


KINDS = ["$pageview"] * 6 + ["$screen", "$screen", "signup", "purchase", "$autocapture"]


# Sessions as (person, has $session_id, [(kind, url index, gap seconds before it)]):
# gaps of 0 (equal timestamps) and either side of the 30-minute session cut.
sessions_st = st.lists(
    st.tuples(
        st.integers(0, 3),
        st.booleans(),
        st.lists(
            st.tuples(st.sampled_from(KINDS), st.sampled_from(range(len(URLS))), st.sampled_from(GAPS)),
            min_size=1,
            max_size=9,
        ),
    ),
    min_size=3,
    max_size=20,
)


spec_st = st.fixed_dictionaries(
    {
        "step_limit": st.integers(2, 6),
        "point": st.one_of(
            st.none(),
            st.none(),
            st.tuples(
                st.sampled_from(["start_point", "end_point"]), st.sampled_from(NODES[:4] + ["/buy", "signup"])
            ),
        ),
        "include_event_types": st.sampled_from(
            [
                ["$pageview"],
                ["$pageview", "custom_event"],
                ["$screen", "signup", "purchase"],
                ["$pageview", "$screen", "purchase"],
            ]
        ),
        "project_rules": st.integers(0, len(RULE_SETS) - 1),
        "query_rules": st.integers(0, len(RULE_SETS) - 1),
        "path_groupings": st.sampled_from([[], ["/blog/*"], ["/product/*", "/p*"]]),
        "exclude": st.lists(st.sampled_from(NODES), max_size=2, unique=True),
        "min_edge_weight": st.sampled_from([1, 1, 1, 2, 3]),
        "edge_limit": st.integers(1, 12),
    }
)


def generate(sessions) -> list[dict]:
    rows = []
    clock = BASE
    for n, (person, with_id, evs) in enumerate(sessions):
        clock += dt.timedelta(minutes=7)
        ts = clock
        for kind, url_i, gap in evs:
            ts += dt.timedelta(seconds=gap)
            props = {}
            if kind == "$pageview":
                props["$current_url"] = URLS[url_i]
            elif kind == "$screen":
                props["$screen_name"] = SCREENS[url_i % 2]
            rows.append(
                {
                    "uuid": uuid.uuid5(uuid.NAMESPACE_URL, f"{n}/{len(rows)}"),
                    "event": kind,
                    "distinct_id": f"p{person}",
                    "ts": ts,
                    "props": props,
                    "session_id": f"s{n}" if with_id else "",
                }
            )
    # One event outside the queried range is ignored.
    rows.append(
        {
            "uuid": uuid.uuid5(uuid.NAMESPACE_URL, "outside"),
            "event": "$pageview",
            "distinct_id": "p0",
            "ts": BASE - dt.timedelta(days=30),
            "props": {"$current_url": URLS[3]},
            "session_id": "",
        }
    )
    return rows


def insert(project_id: int, rows: list[dict]) -> None:
    persons = sorted({r["distinct_id"] for r in rows})
    pid = {d: str(uuid.uuid5(uuid.NAMESPACE_URL, f"{project_id}/{d}")) for d in persons}
    ch.insert(
        "events",
        {
            "uuid": [str(r["uuid"]) for r in rows],
            "project_id": [project_id] * len(rows),
            "event": [r["event"] for r in rows],
            "distinct_id": [r["distinct_id"] for r in rows],
            "person_id": [pid[r["distinct_id"]] for r in rows],
            "timestamp": [r["ts"] for r in rows],
            "properties": [json.dumps(r["props"]) for r in rows],
            "session_id": [r["session_id"] for r in rows],
        },
    )
    ch.insert(
        "person_distinct_ids",
        {
            "project_id": [project_id] * len(persons),
            "distinct_id": persons,
            "person_id": [pid[d] for d in persons],
            "version": [1] * len(persons),
        },
    )


def body_of(raw: dict) -> dict:
    body = {
        "kind": "PathsQuery",
        "date_from": "2026-05-01",
        "date_to": "2026-05-31",
        "step_limit": raw["step_limit"],
        "include_event_types": raw["include_event_types"],
        "path_cleaning": [{"regex": r, "alias": a} for r, a in RULE_SETS[raw["query_rules"]]],
        "path_groupings": raw["path_groupings"],
        "exclude": raw["exclude"],
        "min_edge_weight": raw["min_edge_weight"],
        "edge_limit": raw["edge_limit"],
    }
    if raw["point"]:
        body[raw["point"][0]] = raw["point"][1]
    return body


@pytest.mark.django_db
@settings(
    max_examples=examples(45),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(sessions=sessions_st, raw=spec_st)
def test_paths_match_reference(ch_project, sessions, raw):
    project = ch_project()
    rows = generate(sessions)
    insert(project.pk, rows)
    body = body_of(raw)
    spec = PathsSpec.from_json(body)
    project_rules = RULE_SETS[raw["project_rules"]]
    rules = tuple(CleaningRule(r, a) for r, a in project_rules) + spec.path_cleaning
    in_range = [r for r in rows if r["ts"] >= BASE - dt.timedelta(days=5)]

    got = PathsQueryRunner(project, spec, rules=rules).run().to_json()
    want = ref.paths(in_range, body, project_rules)

    event(
        f"edges shown: {min(len(want['results']), 3)}, omitted>0: {any(d['continued_omitted'] for d in want['dropoff'])}"
    )
    assert got["sessions"] == want["sessions"]
    assert [(e["source"], e["target"], e["value"]) for e in got["results"]] == [
        (e["source"], e["target"], e["value"]) for e in want["results"]
    ]
    for g, w in zip(got["results"], want["results"], strict=True):
        assert g["average_conversion_time_seconds"] == pytest.approx(
            w["average_conversion_time_seconds"], abs=0.002
        )
    assert got["dropoff"] == want["dropoff"]

    all_paths = ref.all_paths(in_range, body, project_rules)
    top = TopPathsQueryRunner(project, spec, rules=rules, limit=1000).run()
    want_top = {}
    for p in all_paths:
        key = tuple(x[2] for x in p["path"])
        want_top[key] = want_top.get(key, 0) + 1
    assert {tuple(t.nodes): t.sessions for t in top} == want_top

    if want["results"]:
        edge = want["results"][0]
        actors = PathsActorsRunner(project, spec, edge["source"], edge["target"], rules=rules).run()
        want_sids = sorted(
            p["sid"]
            for p in all_paths
            if any(
                p["steps"][i] == edge["source"] and p["steps"][i + 1] == edge["target"]
                for i in range(len(p["steps"]) - 1)
            )
        )
        assert actors.total == edge["value"]
        assert sorted(a.session_id for a in actors.actors) == want_sids
