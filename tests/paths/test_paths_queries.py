"""Hand-written paths scenarios with exact edges, times and drop-off."""

from __future__ import annotations

import datetime as dt

import pytest

from analytics_app.errors import BadRequest
from paths.models import PathCleaningRule
from paths.queries import PathsActorsRunner, PathsQueryRunner, TopPathsQueryRunner
from paths.spec import PathsSpec

T0 = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
URL = "https://shop.example.com"


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def spec(**body) -> PathsSpec:
    return PathsSpec.from_json(
        {"kind": "PathsQuery", "date_from": "2026-05-01", "date_to": "2026-05-31", **body}
    )


def run(project, **body) -> dict:
    return PathsQueryRunner(project, spec(**body)).run().to_json()


def edges(result: dict) -> dict:
    return {
        (e["source"], e["target"]): (e["value"], e["average_conversion_time_seconds"])
        for e in result["results"]
    }


def visit(events, person, session, pages, start=0.0, step=10.0):
    for i, page in enumerate(pages):
        events.add(
            "$pageview", person, at(start + i * step), {"$current_url": URL + page}, session_id=session
        )


@pytest.mark.django_db
def test_forward_paths_count_sessions_and_average_time(project, events):
    visit(events, "u1", "s1", ["/", "/pricing", "/signup"])
    visit(events, "u2", "s2", ["/", "/pricing"], step=30)
    visit(events, "u3", "s3", ["/", "/blog"])
    events.flush()
    result = run(project)
    assert edges(result) == {
        ("1_/", "2_/pricing"): (2, 20.0),
        ("1_/", "2_/blog"): (1, 10.0),
        ("2_/pricing", "3_/signup"): (1, 10.0),
    }
    assert result["sessions"] == 3
    drop = {d["node"]: d for d in result["dropoff"]}
    assert drop["2_/pricing"]["ended"] == 1 and drop["2_/pricing"]["continued"] == 1
    assert drop["1_/"]["ended"] == 0


@pytest.mark.django_db
def test_url_path_strips_query_fragment_and_trailing_slash(project, events):
    events.add("$pageview", "u1", at(0), {"$current_url": URL + "/?utm=x"}, session_id="s1")
    events.add("$pageview", "u1", at(5), {"$current_url": URL + "/docs/?a=1#top"}, session_id="s1")
    events.add("$pageview", "u1", at(9), {"$current_url": URL + "/docs"}, session_id="s1")  # collapses
    events.add("$pageview", "u1", at(12), {"$current_url": URL + "/api/"}, session_id="s1")
    events.flush()
    assert edges(run(project)) == {("1_/", "2_/docs"): (1, 5.0), ("2_/docs", "3_/api"): (1, 7.0)}


@pytest.mark.django_db
def test_start_point_cuts_at_first_occurrence_and_drops_sessions_without_it(project, events):
    visit(events, "u1", "s1", ["/", "/pricing", "/", "/signup"])
    visit(events, "u2", "s2", ["/", "/blog"])
    events.flush()
    result = run(project, start_point="/pricing", step_limit=2)
    assert edges(result) == {("1_/pricing", "2_/"): (1, 10.0)}
    assert result["sessions"] == 1


@pytest.mark.django_db
def test_end_point_paths_lead_to_first_occurrence_right_aligned(project, events):
    visit(events, "u1", "s1", ["/a", "/b", "/c", "/buy", "/d", "/buy"])
    visit(events, "u2", "s2", ["/c", "/buy"])
    events.flush()
    result = run(project, end_point="/buy", step_limit=3)
    assert edges(result) == {
        ("1_/b", "2_/c"): (1, 10.0),
        ("2_/c", "3_/buy"): (2, 10.0),
    }
    drop = {d["node"]: d for d in result["dropoff"]}
    assert drop["3_/buy"]["ended"] == 0  # the end point is where paths end by definition


@pytest.mark.django_db
def test_cleaning_rules_project_then_query_and_wildcard_groups_together(project, events):
    PathCleaningRule.objects.create(project=project, regex=r"/product/\d+", alias="/product/:id", order=0)
    visit(events, "u1", "s1", ["/", "/product/12", "/product/13", "/blog/a", "/blog/b", "/x/7"])
    events.flush()
    result = run(
        project,
        path_cleaning=[{"regex": r"^/x/\d+$", "alias": "/x/:n"}],
        path_groupings=["/blog/*"],
        step_limit=6,
    )
    assert edges(result) == {
        ("1_/", "2_/product/:id"): (1, 10.0),
        ("2_/product/:id", "3_/blog/*"): (1, 20.0),
        ("3_/blog/*", "4_/x/:n"): (1, 20.0),
    }
    # A group written over cleaned names (PostHog #25716): /product/* still matches /product/:id.
    assert edges(run(project, path_groupings=["/product/*"]))[("1_/", "2_/product/*")] == (1, 10.0)


@pytest.mark.django_db
def test_exclusions_drop_nodes_before_collapsing(project, events):
    visit(events, "u1", "s1", ["/", "/login", "/", "/pricing"])
    events.flush()
    assert edges(run(project, exclude=["/login"])) == {("1_/", "2_/pricing"): (1, 30.0)}


@pytest.mark.django_db
def test_events_without_session_id_split_after_30_minutes(project, events):
    for seconds, page in [(0, "/"), (60, "/a"), (60 + 1800, "/b"), (60 + 1800 + 1801, "/c")]:
        events.add("$pageview", "u1", at(seconds), {"$current_url": URL + page})
    events.flush()
    result = run(project)
    assert edges(result) == {("1_/", "2_/a"): (1, 60.0), ("2_/a", "3_/b"): (1, 1800.0)}
    assert result["sessions"] == 2


@pytest.mark.django_db
def test_screens_and_custom_events(project, events):
    events.add("$screen", "u1", at(0), {"$screen_name": "Home"}, session_id="s1")
    events.add("signup", "u1", at(3), session_id="s1")
    events.add("$pageview", "u1", at(4), {"$current_url": URL + "/ignored"}, session_id="s1")
    events.add("$autocapture", "u1", at(5), session_id="s1")
    events.add("purchase", "u1", at(7), session_id="s1")
    events.flush()
    assert edges(run(project, include_event_types=["$screen", "custom_event"])) == {
        ("1_Home", "2_signup"): (1, 3.0),
        ("2_signup", "3_purchase"): (1, 4.0),
    }
    assert edges(run(project, include_event_types=["signup", "purchase"])) == {
        ("1_signup", "2_purchase"): (1, 4.0)
    }


@pytest.mark.django_db
def test_edge_limit_and_min_weight_report_dropoff(project, events):
    for i in range(3):
        visit(events, f"a{i}", f"sa{i}", ["/", "/a"])
    for i in range(2):
        visit(events, f"b{i}", f"sb{i}", ["/", "/b"])
    visit(events, "c", "sc", ["/", "/c"])
    events.flush()
    result = run(project, edge_limit=1)
    assert edges(result) == {("1_/", "2_/a"): (3, 10.0)}
    drop = {d["node"]: d for d in result["dropoff"]}
    assert drop["1_/"] == {
        "node": "1_/",
        "sessions": 6,
        "continued": 6,
        "continued_shown": 3,
        "continued_omitted": 3,
        "ended": 0,
        "dropoff": 3,
    }
    assert drop["2_/a"]["ended"] == 3
    result = run(project, min_edge_weight=2)
    assert set(edges(result)) == {("1_/", "2_/a"), ("1_/", "2_/b")}
    assert {d["node"]: d for d in result["dropoff"]}["1_/"]["continued_omitted"] == 1


@pytest.mark.django_db
def test_step_limit_caps_depth_and_is_not_dropoff(project, events):
    visit(events, "u1", "s1", ["/a", "/b", "/c", "/d"])
    events.flush()
    result = run(project, step_limit=2)
    assert edges(result) == {("1_/a", "2_/b"): (1, 10.0)}
    assert {d["node"]: d for d in result["dropoff"]}["2_/b"]["ended"] == 0


@pytest.mark.django_db
def test_actors_behind_node_and_edge(project, events):
    visit(events, "u1", "s1", ["/", "/pricing"])
    visit(events, "u2", "s2", ["/", "/blog"])
    events.flush()
    s = spec()
    node = PathsActorsRunner(project, s, "1_/").run()
    assert node.total == 2 and {a.session_id for a in node.actors} == {"s1", "s2"}
    edge = PathsActorsRunner(project, s, "1_/", "2_/pricing").run()
    assert [a.session_id for a in edge.actors] == ["s1"]
    assert edge.actors[0].person_id == str(events.person_for("u1"))
    assert edge.actors[0].timestamp_ms == int(at(0).timestamp() * 1000)
    ended = PathsActorsRunner(project, s, "2_/blog", ended=True).run()
    assert [a.session_id for a in ended.actors] == ["s2"]


@pytest.mark.django_db
def test_top_complete_paths(project, events):
    visit(events, "u1", "s1", ["/", "/pricing"])
    visit(events, "u2", "s2", ["/", "/pricing"], step=20)
    visit(events, "u3", "s3", ["/"])
    events.flush()
    top = TopPathsQueryRunner(project, spec()).run()
    assert [(p.nodes, p.sessions, p.average_duration_seconds) for p in top] == [
        (["/", "/pricing"], 2, 15.0),
        (["/"], 1, 0.0),
    ]


@pytest.mark.django_db
def test_re2_rejection_is_a_bad_request(project, events):
    visit(events, "u1", "s1", ["/", "/a"])
    events.flush()
    with pytest.raises(BadRequest):
        PathsQueryRunner(project, spec(path_cleaning=[{"regex": "a++", "alias": "x"}])).run()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"step_limit": 1}, "step_limit"),
        ({"step_limit": 21}, "step_limit"),
        ({"path_cleaning": [{"regex": "(", "alias": "x"}]}, "path_cleaning[0].regex"),
        ({"path_cleaning": [{"regex": "(?=a)", "alias": "x"}]}, "path_cleaning[0].regex"),
        ({"start_point": "/", "end_point": "/b"}, "end_point"),
        ({"edge_limit": 0}, "edge_limit"),
        ({"bogus": 1}, "body"),
    ],
)
def test_spec_rejects_bad_params(body, field):
    with pytest.raises(BadRequest) as info:
        PathsSpec.from_json({"kind": "PathsQuery", **body})
    assert field in info.value.errors


def test_spec_round_trips_through_json():
    s = spec(
        start_point="/",
        step_limit=7,
        path_cleaning=[{"regex": "a+", "alias": "b"}],
        path_groupings=["/x/*"],
        exclude=["/y"],
        edge_limit=10,
        min_edge_weight=2,
    )
    assert PathsSpec.from_json(s.to_json()) == s


@pytest.mark.django_db
def test_session_with_every_node_excluded_is_left_out(project, events):
    visit(events, "u1", "s1", ["/login", "/login"])
    visit(events, "u2", "s2", ["/", "/login", "/a", "/a"])
    events.flush()
    result = run(project, exclude=["/login"])
    assert edges(result) == {("1_/", "2_/a"): (1, 20.0)}
    assert result["sessions"] == 1
