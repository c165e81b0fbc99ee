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


# ---------------------------------------------------------------- the Native bulk path (embedded engine)


def test_city_hash64_matches_clickhouse_for_every_distinct_id_shape():
    spec = demo.DemoSpec(project_id=1, persons=300, days=14, seed=5, end=END)
    events = demo.generate_chunk(spec, 0).events
    ids = [*events.anon_ids.to_pylist()[:50], *events.user_ids.to_pylist()[:50]]
    ids += ["user_1", "user_1234567", "user_123456789", "user_12345678901"]  # 6..16 bytes
    import pyarrow as pa  # noqa: PLC0415

    ours = demo.city_hash64(pa.array(ids)).tolist()
    theirs = ch.query(
        "SELECT arrayMap(x -> cityHash64(x), {ids:Array(String)})", {"ids": ids}, global_=True
    ).scalar()
    assert ours == theirs


@pytest.mark.django_db
def test_native_path_stores_exactly_what_the_json_text_path_stores(make_project):
    """The embedded bulk path (Native blocks, JSON flattened, pre-sorted, per-month files)
    and the portable path (JSON text through ch.insert) write the same rows and properties."""
    binary, text = make_project("Native"), make_project("JSON text")
    spec = demo.DemoSpec(project_id=binary.id, persons=400, days=45, seed=11, end=END)
    demo.write(spec)
    chunks = [demo.generate_chunk(demo.DemoSpec(text.id, 400, 45, 11, END), i) for i in range(1)]
    demo.insert_json_text(chunks)
    sql = (
        "SELECT toString(uuid), event, distinct_id, toString(person_id), timestamp, toString(properties), "
        "session_id, window_id, mat_browser, mat_pathname, mat_current_url, mat_os, mat_device_type "
        "FROM events WHERE project_id = {project_id:UInt32} ORDER BY uuid"
    )
    rows_binary, rows_text = _rows(sql, binary), _rows(sql, text)
    assert len(rows_binary) > 1000
    assert rows_binary == rows_text
    uuids = "SELECT toString(uuid) FROM event_uuids WHERE project_id = {project_id:UInt32} ORDER BY uuid"
    assert _rows(uuids, binary) == _rows(uuids, text)  # the dedup index is filled too
    assert len({r[4].month for r in rows_binary}) >= 2  # the window spans months: one INSERT per month


@pytest.mark.django_db
def test_events_are_presorted_in_the_tables_sorting_key_order(project):
    spec = demo.DemoSpec(project_id=project.id, persons=300, days=20, seed=2, end=END)
    events = demo.generate_chunk(spec, 0).events
    order = events.sort_order()
    demo.insert_json_text([demo.generate_chunk(spec, 0)])
    engine_order = [
        r[0]
        for r in _rows(
            "SELECT toString(uuid) FROM events WHERE project_id = {project_id:UInt32} "
            "ORDER BY project_id, toDate(timestamp), event, cityHash64(distinct_id), uuid",
            project,
        )
    ]
    assert np.array(events["uuid"].to_pylist())[order].tolist() == engine_order


def test_write_reports_the_cpu_of_each_stage_and_shows_a_progress_bar(make_project, capsys, db):
    project = make_project("Progress")
    stages: dict = {}
    summary = demo.write(
        demo.DemoSpec(project.id, 2 * demo.PERSONS_PER_CHUNK + 5, 7, 1, END), progress=True, stages=stages
    )
    assert summary["events"] > 0 and summary["persons"] > 0
    assert {"generate_cpu_s", "encode_cpu_s", "insert_thread_cpu_s"} <= stages.keys()
    err = capsys.readouterr().err
    assert "person" in err and f"{2 * demo.PERSONS_PER_CHUNK + 5}" in err  # tqdm's bar: done/total persons


# ---------------------------------------------------------------- what the product's pages rely on


@pytest.mark.django_db
def test_pageviews_carry_every_property_the_default_pages_break_down_by(project):
    _generate(project, persons=400, days=21)
    row = _rows(
        """
        SELECT countIf(mat_current_url = ''), countIf(mat_pathname = ''), countIf(mat_browser = ''),
               countIf(mat_os = ''), countIf(mat_device_type = ''),
               countIf(properties.`$referring_domain`::Nullable(String) IS NULL),
               countIf(properties.`$geoip_country_code`::Nullable(String) IS NULL),
               countIf(properties.`$screen_width`::Nullable(Int64) IS NULL),
               countIf(properties.`$session_id`::Nullable(String) != session_id),
               uniqExact(mat_browser), uniqExact(mat_os), uniqExact(mat_device_type),
               uniqExact(properties.`$geoip_country_code`::String),
               uniqExact(properties.`$referring_domain`::String), uniqExact(properties.utm_campaign::String),
               uniqExact(mat_pathname), count()
        FROM events WHERE project_id = {project_id:UInt32} AND event = '$pageview'
        """,
        project,
    )[0]
    assert row[:9] == (0,) * 9  # every pageview has URL, path, browser, OS, device, referrer, country...
    browsers, oses, devices, countries, referrers, campaigns, paths, pageviews = row[9:]
    assert browsers == 4 and oses >= 5 and devices == 3 and countries >= 10
    assert referrers >= 4 and campaigns >= 5 and paths >= 30 and pageviews > 1000
    # errors carry their type and message; clicks their element text
    assert (
        _rows(
            "SELECT countIf(properties.`$exception_type`::Nullable(String) IS NULL), count() FROM events "
            "WHERE project_id = {project_id:UInt32} AND event = '$exception'",
            project,
        )[0][1]
        > 0
    )


@pytest.mark.django_db
def test_identities_merge_and_revenue_adds_up(project):
    _generate(project, persons=400, days=30)
    merged, revenue, purchases, buyers = _rows(
        """
        SELECT
            (SELECT count() FROM (SELECT person_id FROM person_distinct_ids
                                  WHERE project_id = {project_id:UInt32} GROUP BY person_id HAVING count() = 2)),
            sum(properties.revenue::Float64), count(), uniqExact(person_id)
        FROM events WHERE project_id = {project_id:UInt32} AND event = 'purchase'
        """,
        project,
    )[0]
    assert merged > 0
    assert purchases > 0 and revenue >= 29 * purchases  # the cheapest plan is 29 a month
    assert buyers <= purchases


@pytest.mark.django_db
def test_funnels_retention_paths_and_trends_run_on_demo_data(alice_client, project):
    demo.generate(project.id, 500, 30, 4)  # ending today: the pages' relative date ranges see it
    post = lambda body: alice_client.post(  # noqa: E731
        f"/api/projects/{project.pk}/query/", json.dumps(body), content_type="application/json"
    )
    funnel = post(
        {
            "kind": "FunnelsQuery",
            "date_from": "-30d",
            "steps": [
                {"event": "$pageview"},
                {"event": "signed_up"},
                {"event": "activated"},
                {"event": "purchase"},
            ],
        }
    )
    assert funnel.status_code == 200, funnel.content
    counts = [step["count"] for step in funnel.json()["results"][0]["steps"]]
    assert counts[0] > counts[1] > counts[2] > counts[3] > 0
    retention = post(
        {
            "kind": "RetentionQuery",
            "target_event": {"event": "signed_up"},
            "returning_event": {"event": "feature_used"},
            "period": "week",
            "date_from": "-28d",
        }
    )
    assert retention.status_code == 200, retention.content
    first = retention.json()["results"][0]["values"]  # the oldest weekly cohort, week 0, 1, 2 ...
    # decays (the oldest cohort may all come back in week 1: it is a partial week of few sign-ups)
    assert len(first) >= 4 and first[0] >= first[1] >= first[-1] and first[0] > first[-1]
    paths = post({"kind": "PathsQuery", "date_from": "-30d"})
    assert paths.status_code == 200, paths.content
    edges = {(e["source"].split("_", 1)[1], e["target"].split("_", 1)[1]) for e in paths.json()["results"]}
    assert ("/signup", "/onboarding/1") in edges and ("/onboarding/2", "/onboarding/3") in edges
    trends = post(
        {
            "kind": "TrendsQuery",
            "date_from": "-30d",
            "series": [{"event": "$pageview", "math": "dau"}],
            "breakdown": {"property": "$browser"},
        }
    )
    assert trends.status_code == 200, trends.content
    assert {"Chrome", "Safari"} <= {s["breakdown_value"] for s in trends.json()["results"]}


@pytest.mark.django_db
def test_the_default_dashboard_shows_the_demo_data(project):
    from dashboards.cache import compute_insight  # noqa: PLC0415
    from dashboards.defaults import DEFAULT_TILES, ensure_default_dashboard  # noqa: PLC0415

    demo.generate(project.id, 500, 30, 9)  # ending today, like demo_setup
    board = ensure_default_dashboard(project)
    tiles = list(board.tiles.select_related("insight").order_by("order"))
    assert [t.insight.name for t in tiles] == [t.name for t in DEFAULT_TILES]
    for tile in tiles:
        result = compute_insight(tile.insight, refresh=True).result
        assert result.series and all(s.total > 0 for s in result.series), tile.insight.name


@pytest.mark.django_db
def test_tiny_and_empty_runs_write_what_there_is(project):
    written = 0
    for persons, days in ((1, 1), (3, 1), (2, 2)):
        written += demo.generate(project.id, persons, days, 5, end=END)["events"]
    before_the_window = int(dt.datetime(2026, 2, 28, tzinfo=dt.UTC).timestamp()) * demo.US
    assert demo.write(demo.DemoSpec(project.id, 5, 1, 5, END), now_us=before_the_window)["events"] == 0
    stored = _rows("SELECT count() FROM events WHERE project_id = {project_id:UInt32}", project)[0][0]
    assert stored == written


@pytest.mark.django_db
def test_a_fixed_seed_writes_the_same_rows_as_ever(project):
    """Checksums of everything a small fixed-window run stores, computed before the generator
    became a package: a restructuring must not change one byte of the demo data."""
    summary = demo.generate(project.id, 300, 40, 4, end=END)
    events = _rows(
        "SELECT count(), sum(cityHash64(toString(uuid), event, distinct_id, toString(person_id), "
        "toString(timestamp), toString(properties), session_id, window_id)) "
        "FROM events WHERE project_id = {project_id:UInt32}",
        project,
    )[0]
    persons = _rows(
        "SELECT count(), sum(cityHash64(toString(id), toString(created_at), properties, is_identified, version)) "
        "FROM persons WHERE project_id = {project_id:UInt32}",
        project,
    )[0]
    distinct_ids = _rows(
        "SELECT count(), sum(cityHash64(distinct_id, toString(person_id), version)) "
        "FROM person_distinct_ids WHERE project_id = {project_id:UInt32}",
        project,
    )[0]
    assert (summary["events"], summary["persons"], summary["visitors"], summary["distinct_ids"]) == (
        2741,
        60,
        219,
        279,
    )
    assert events == (2741, 8774186791004065668)
    assert persons == (60, 15197829507728328249)
    assert distinct_ids == (279, 1297366730160303484)
