"""Times in the project's zone, everywhere (issue 12, part 4).

Projects far from UTC (Pacific/Kiritimati, +14, no DST) and with a DST change
(America/Los_Angeles, fall back on 2026-11-01; Europe/Berlin for weekly retention)
get events minutes before and after local midnight, whose UTC date differs from
the local one. Every list must print the local time and date, labelled with the
zone, and put each event on the same day as the chart's day buckets.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import subprocess
import sys
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import quote
from zoneinfo import ZoneInfo

import pytest
from django.urls import reverse

from dashboards.models import Insight
from governance.roles import Role
from tests.conftest import EventBuilder
from tests.explorer.conftest import insert_person

pytestmark = pytest.mark.django_db

KIRI = "Pacific/Kiritimati"
LA = "America/Los_Angeles"
BERLIN = "Europe/Berlin"

# Kiritimati is UTC+14: the first is 23:50 on the 13th locally, the second 00:20:54 on the 14th;
# both are on 2026-09-13 in UTC.
BEFORE_MIDNIGHT = dt.datetime(2026, 9, 13, 9, 50, tzinfo=dt.UTC)
AFTER_MIDNIGHT = dt.datetime(2026, 9, 13, 10, 20, 54, tzinfo=dt.UTC)
RANGE = {"date_from": "2026-09-10", "date_to": "2026-09-20"}


@pytest.fixture
def zoned(make_project, alice, bob):
    def make(zone: str):
        return make_project("Atoll", members={alice: Role.ADMIN, bob: Role.EXEC}, time_zone=zone)

    return make


@pytest.fixture
def kiri(zoned):
    project = zoned(KIRI)
    events = EventBuilder(project.id)
    events.add("$pageview", "u1", BEFORE_MIDNIGHT, {"$current_url": "https://a.example/"}, session_id="s1")
    events.add("$pageview", "u1", AFTER_MIDNIGHT, {"$current_url": "https://a.example/b"}, session_id="s1")
    events.add("signup", "u1", BEFORE_MIDNIGHT - dt.timedelta(minutes=1), session_id="s1")
    events.add("pay", "u1", AFTER_MIDNIGHT + dt.timedelta(seconds=1), session_id="s1")
    events.flush()
    project.events = events
    return project


def local_text(moment: dt.datetime, zone: str, fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    return moment.astimezone(ZoneInfo(zone)).strftime(fmt)


def time_tags(html: str) -> list[str]:
    """The `datetime` attribute of every <time> a page rendered (local ISO with offset)."""
    return re.findall(r'<time datetime="([^"]+)"', html)


def trends_days(client, project, event: str = "$pageview", **range_) -> dict[str, int]:
    """The trends chart's daily buckets (the JSON API, same runner as the chart): local day -> count."""
    body = {"kind": "TrendsQuery", "series": [{"event": event}], "interval": "day", **range_}
    response = client.post(
        f"/api/projects/{project.pk}/query/", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    (series,) = response.json()["results"]
    return {d[:10]: n for d, n in zip(series["dates"], series["data"], strict=True) if n}


def events_list(client, project, **params) -> str:
    params = {"preset": "custom", **RANGE, **params}
    response = client.get(reverse("explorer:events", kwargs={"project_id": project.pk}), params)
    assert response.status_code == 200, response.content
    return response.content.decode()


# ------------------------------------------------------------------ events list
def test_events_list_shows_local_times_labelled_with_the_zone(alice_client, kiri):
    html = events_list(alice_client, kiri, event="$pageview")
    assert f"Time ({KIRI})" in html
    assert ">2026-09-14 00:20:54</time>" in html and ">2026-09-13 23:50:00</time>" in html
    assert time_tags(html) == ["2026-09-14T00:20:54+14:00", "2026-09-13T23:50:00+14:00"]
    assert "2026-09-13 10:20:54" not in html.replace('title="2026-09-13 10:20:54 UTC"', "")


def test_events_list_days_match_the_chart_buckets(alice_client, kiri):
    listed = Counter(t[:10] for t in time_tags(events_list(alice_client, kiri, event="$pageview")))
    assert trends_days(alice_client, kiri, **RANGE) == {"2026-09-13": 1, "2026-09-14": 1} == dict(listed)


@pytest.mark.parametrize("zone", [KIRI, LA])
def test_events_around_local_midnights_and_a_dst_change_land_on_the_charts_days(alice_client, zoned, zone):
    """Events one minute and 30 minutes either side of local midnight on days around
    LA's fall-back day (2026-11-01 has 25 hours): the list's local dates, counted, are the
    chart's daily buckets, and each listed time is the event's local time."""
    project = zoned(zone)
    tz = ZoneInfo(zone)
    builder = EventBuilder(project.id)
    expected = []
    for day in range(28, 35):  # 2026-10-28 .. 2026-11-03
        midnight = dt.datetime.combine(
            dt.date(2026, 10, 1) + dt.timedelta(days=day - 1), dt.time(), tzinfo=tz
        )
        for minutes in (-30, -1, 1, 30):
            moment = (midnight + dt.timedelta(minutes=minutes)).astimezone(dt.UTC)
            builder.add("tick", f"u{day}", moment)
            expected.append(moment)
    builder.flush()
    range_ = {"date_from": "2026-10-20", "date_to": "2026-11-10"}
    html = events_list(alice_client, project, event="tick", **range_)
    shown = time_tags(html)
    assert shown == [m.astimezone(tz).isoformat() for m in sorted(expected, reverse=True)]
    assert dict(Counter(t[:10] for t in shown)) == trends_days(alice_client, project, "tick", **range_)
    # The local date is not the UTC date for these events: the check would catch UTC times.
    assert any(m.astimezone(tz).date() != m.date() for m in expected)


# ------------------------------------------------------------------ event page
def test_event_page_heading_and_time_lines_agree(alice_client, kiri):
    html = events_list(alice_client, kiri, event="pay")
    link = re.search(r'href="(/project/\d+/events/[0-9a-f-]+/\?at=[^"]+)"', html).group(1)
    page = alice_client.get(link.replace("&amp;", "&")).content.decode()
    # pay: 2026-09-13 10:20:55 UTC = 2026-09-14 00:20:55 in Kiritimati
    assert re.search(r">2026-09-14 00:20:55\.000000</time> Pacific/Kiritimati", page)
    assert '<dd id="event-time-local">2026-09-14T00:20:55+14:00</dd>' in page
    assert "<dt>Time (UTC)</dt><dd>2026-09-13T10:20:55+00:00</dd>" in page


# ------------------------------------------------------------------ persons
def test_persons_list_and_person_page_show_local_times(alice_client, kiri):
    person = kiri.events.person_for("u1")
    created = dt.datetime(2026, 9, 13, 9, 40, tzinfo=dt.UTC)
    insert_person(kiri.id, person, {"name": "Una"}, created_at=created)
    persons = alice_client.get(reverse("explorer:persons", kwargs={"project_id": kiri.pk})).content.decode()
    assert f"Last seen ({KIRI})" in persons
    assert ">2026-09-14 00:20</time>" in persons  # last seen: pay at 00:20:55 local
    page = alice_client.get(
        reverse("explorer:person", kwargs={"project_id": kiri.pk, "person_id": person})
    ).content.decode()
    first_seen = local_text(BEFORE_MIDNIGHT - dt.timedelta(minutes=1), KIRI)
    assert f">{first_seen}</time> {KIRI}" in page and first_seen == "2026-09-13 23:49:00"
    assert f">2026-09-14 00:20:55</time> {KIRI}" in page
    assert f">2026-09-13 23:40:00</time> {KIRI}" in page  # created, was printed in UTC as "UTC"
    assert f"Time ({KIRI})" in page and "2026-09-14T00:20:54+14:00" in time_tags(page)


def test_overview_top_events_last_seen_is_local(alice_client, zoned):
    project = zoned(KIRI)
    recent = dt.datetime.now(dt.UTC).replace(second=0, microsecond=0) - dt.timedelta(hours=3)
    EventBuilder(project.id).add("recent", "u1", recent).flush()
    html = alice_client.get(reverse("project_overview", kwargs={"project_id": project.pk})).content.decode()
    assert f">{local_text(recent, KIRI, '%Y-%m-%d %H:%M')}</time> {KIRI}</td>" in html
    assert " UTC</td>" not in html


# ------------------------------------------------------------------ drill-downs
def test_trends_drill_down_shows_local_last_seen_and_range(alice_client, kiri):
    spec = {"kind": "TrendsQuery", "series": [{"event": "$pageview"}], "interval": "day", **RANGE}
    response = alice_client.get(
        reverse("trends:trends_persons", kwargs={"project_id": kiri.pk}),
        {"q": json.dumps(spec), "series": 0, "date": "2026-09-14T00:00:00+14:00", "period": "current"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200, html
    assert (
        ">2026-09-14 00:00</time> – <time" in html and ">2026-09-15 00:00</time> (Pacific/Kiritimati)" in html
    )
    assert "1 person " in html and f"Last seen ({KIRI})" in html
    assert ">2026-09-14 00:20:54</time>" in html  # the person's last $pageview of that local day


def test_funnel_drill_down_shows_local_reached_at(alice_client, kiri):
    spec = {"kind": "FunnelsQuery", **RANGE, "steps": [{"event": "signup"}, {"event": "pay"}]}
    response = alice_client.get(
        reverse("funnels:actors", kwargs={"project_id": kiri.pk}) + f"?q={quote(json.dumps(spec))}&step=1",
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200, html
    assert "1 converted" in html and f"Reached at ({KIRI})" in html
    assert ">2026-09-14 00:20:55</time>" in html


def test_paths_drill_down_shows_local_times(alice_client, kiri):
    q = json.dumps({"kind": "PathsQuery", **RANGE})
    response = alice_client.get(
        f"/project/{kiri.pk}/paths/sessions/",
        {"q": q, "node": "1_/", "target": "2_/b"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200, html
    assert f"At ({KIRI})" in html
    # The session at the node (/, step 1): 23:50 local on the 13th (09:50 UTC).
    assert time_tags(html) == ["2026-09-13T23:50:00+14:00"] and ">2026-09-13 23:50:00</time>" in html


def test_retention_drill_down_of_a_weekly_cohort_names_the_matrix_monday(alice_client, zoned):
    """The issue's case: the cohort starting Monday 2026-09-14 (Berlin) opened a list titled
    'cohort 2026-09-13 ... period starting 2026-10-04' (the UTC dates of local midnights)."""
    project = zoned(BERLIN)
    tz = ZoneInfo(BERLIN)
    builder = EventBuilder(project.id)
    # 00:30 on Mondays in Berlin is still Sunday in UTC.
    builder.add("open", "u1", dt.datetime(2026, 9, 14, 0, 30, tzinfo=tz))
    builder.add("open", "u1", dt.datetime(2026, 10, 5, 0, 30, tzinfo=tz))
    builder.add("open", "u2", dt.datetime(2026, 9, 20, 23, 50, tzinfo=tz))  # Sunday night: same week
    builder.flush()
    spec = {
        "kind": "RetentionQuery",
        "target_event": {"event": "open"},
        "period": "week",
        "date_from": "2026-09-14",
        "date_to": "2026-10-11",
    }
    matrix = alice_client.post(
        f"/api/projects/{project.pk}/query/", data=json.dumps(spec), content_type="application/json"
    ).json()
    row = matrix["results"][0]
    assert row["cohort_start"] == "2026-09-14" and row["values"] == [2, 0, 0, 1]
    response = alice_client.get(
        f"/project/{project.pk}/retention/persons/",
        {"q": json.dumps(spec), "cohort": 0, "offset": 3},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert response.status_code == 200, html
    title = re.search(r"<h3>(.*?)</h3>", html, re.S).group(1)
    assert "1 person" in title and f"cohort {row['cohort_start']} " in title
    period = re.search(r"period starting (\d{4}-\d\d-\d\d)", html).group(1)
    assert period == "2026-10-05" and dt.date.fromisoformat(period).weekday() == 0  # a Monday
    assert f"Last seen ({BERLIN})" in html and ">2026-10-05 00:30:00</time>" in html
    cohort = alice_client.get(
        f"/project/{project.pk}/retention/persons/",
        {"q": json.dumps(spec), "cohort": 0, "offset": 0},
        headers={"HX-Request": "true"},
    ).content.decode()
    assert "2 persons · cohort 2026-09-14 " in cohort


# ------------------------------------------------------------------ dashboards
def test_saved_insight_computed_at_is_local_and_labelled(alice_client, alice, kiri):
    insight = Insight.objects.create(
        project=kiri,
        name="Views",
        kind="TrendsQuery",
        spec={"kind": "TrendsQuery", "series": [{"event": "$pageview"}], "interval": "day", **RANGE},
        created_by=alice,
    )
    html = alice_client.get(
        reverse("dashboards:insight", kwargs={"project_id": kiri.pk, "insight_id": insight.pk})
    ).content.decode()
    insight.refresh_from_db()
    computed = local_text(insight.last_refresh_at, KIRI)
    assert f'title="{computed} {KIRI}">Computed' in html
    created = local_text(insight.created_at, KIRI, "%Y-%m-%d %H:%M")
    assert f">{created}</time> {KIRI}" in html


# ------------------------------------------------------------------ CSV and JSON
def test_csv_export_timestamps_are_local_iso_with_the_offset(alice_client, kiri):
    response = alice_client.get(
        reverse("explorer:events_export", kwargs={"project_id": kiri.pk}),
        {"preset": "custom", **RANGE, "event": "$pageview"},
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][1] == "timestamp"
    stamps = [r[1] for r in rows[1:]]
    assert stamps == ["2026-09-14T00:20:54.000000+14:00", "2026-09-13T23:50:00.000000+14:00"]
    assert [dt.datetime.fromisoformat(s) for s in stamps] == [AFTER_MIDNIGHT, BEFORE_MIDNIGHT]


def test_csv_export_offset_follows_dst_and_half_hour_zones(alice_client, zoned):
    for zone, moment, text in [
        (LA, dt.datetime(2026, 11, 1, 7, 30, tzinfo=dt.UTC), "2026-11-01T00:30:00.000000-07:00"),
        (LA, dt.datetime(2026, 11, 2, 7, 30, tzinfo=dt.UTC), "2026-11-01T23:30:00.000000-08:00"),
        (
            "Asia/Kathmandu",
            dt.datetime(2026, 11, 1, 18, 0, tzinfo=dt.UTC),
            "2026-11-01T23:45:00.000000+05:45",
        ),
    ]:
        project = zoned(zone)
        EventBuilder(project.id).add("x", "u", moment).flush()
        response = alice_client.get(
            reverse("explorer:events_export", kwargs={"project_id": project.pk}),
            {"preset": "custom", "date_from": "2026-10-25", "date_to": "2026-11-05"},
        )
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert rows[1][1] == text


def test_events_query_json_keeps_iso_timestamps_with_an_explicit_offset(client, kiri, api_key):
    response = client.post(
        f"/api/projects/{kiri.pk}/query/",
        data=json.dumps({"kind": "EventsQuery", "event": "$pageview", **RANGE}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api_key}"},
    )
    assert response.status_code == 200, response.content
    stamps = [r["timestamp"] for r in response.json()["results"]]
    assert [dt.datetime.fromisoformat(s) for s in stamps] == [AFTER_MIDNIGHT, BEFORE_MIDNIGHT]
    assert all(s.endswith("+00:00") for s in stamps)


# ------------------------------------------------------------------ the gate and the engine
def test_the_zone_is_active_only_inside_a_project_request(alice_client, kiri):
    from django.utils import timezone  # noqa: PLC0415

    events_list(alice_client, kiri)
    assert timezone.get_current_timezone_name() == "UTC"  # restored after the request
    keys = alice_client.get(reverse("api_keys"))  # a page without a project renders in UTC, and says so
    assert keys.status_code == 200 and "Created (UTC)" in keys.content.decode()


def test_cohort_pages_show_the_calculation_time_locally(alice_client, kiri):
    from cohorts.models import Cohort  # noqa: PLC0415

    calculated = dt.datetime(2026, 9, 13, 10, 20, tzinfo=dt.UTC)
    cohort = Cohort.objects.create(
        project=kiri,
        name="Static",
        kind=Cohort.Kind.STATIC,
        definition={"distinct_ids": ["u1"]},
        status=Cohort.Status.READY,
        last_calculated_at=calculated,
    )
    listing = alice_client.get(reverse("cohorts:cohorts", kwargs={"project_id": kiri.pk})).content.decode()
    assert f"Calculated ({KIRI})" in listing and "2026-09-14 00:20" in listing
    page = alice_client.get(
        reverse("cohorts:cohort", kwargs={"project_id": kiri.pk, "cohort_id": cohort.pk})
    ).content.decode()
    assert '<time datetime="2026-09-14T00:20:00+14:00"' in page and ">2026-09-14 00:20</time>" in page


CHDB_PROBE = """
import datetime as dt, sys, tempfile
sys.path.insert(0, {root!r})
from analytics_app.clickhouse.backends import ChdbBackend
b = ChdbBackend(tempfile.mkdtemp())
names, types, rows = b.execute(
    "SELECT toDateTime(0), fromUnixTimestamp64Micro(toInt64(86400000000)), toDateTime64(0, 6, 'UTC')", {{}}, {{}}
)
epoch = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
assert [v.tzinfo is not None for v in rows[0]] == [True, True, True], rows
assert list(rows[0]) == [epoch, epoch + dt.timedelta(days=1), epoch], rows
print("ok")
"""


def test_chdb_returns_aware_utc_datetimes_whatever_the_hosts_zone(tmp_path):
    """A DateTime whose type names no zone is printed in the session's zone, the host's TZ
    by default; the layer pins the session to UTC, so a host in Kiritimati reads UTC too."""
    root = str(Path(__file__).resolve().parents[2])
    result = subprocess.run(  # noqa: S603 - our own interpreter and a fixed script
        [sys.executable, "-c", CHDB_PROBE.format(root=root)],
        env={"TZ": KIRI, "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr[-2000:]


def test_driver_rows_are_normalized_to_aware_utc():
    """clickhouse-driver hands a zoneless DateTime back naive, as wall time in the server's
    zone; the layer makes it aware UTC (no server here, so the conversion itself is checked)."""
    from analytics_app.clickhouse.backends import DriverBackend  # noqa: PLC0415

    berlin = ZoneInfo(BERLIN)
    naive = dt.datetime(2026, 9, 14, 0, 30)
    assert DriverBackend._normalize(naive, berlin) == dt.datetime(2026, 9, 13, 22, 30, tzinfo=dt.UTC)
    assert DriverBackend._normalize(naive) == naive.replace(tzinfo=dt.UTC)
    aware = dt.datetime(2026, 9, 14, 0, 30, tzinfo=berlin)
    assert DriverBackend._normalize([aware], dt.UTC)[0].tzinfo is dt.UTC
    assert DriverBackend._normalize((1, aware))[1] == aware
    assert DriverBackend._normalize(uuid.UUID(int=1)) == uuid.UUID(int=1)
