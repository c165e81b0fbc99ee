"""Act on any number: a drill-down's people saved as a static cohort, exported as CSV and
opened in the recordings list; an insight's result table exported as CSV / JSON.

Generated data (seeded) with more persons than a drill-down page shows; each list is
checked against a plain Python reference of who should be in it.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import random
from urllib.parse import parse_qs, urlsplit

import pytest
from django.urls import reverse

from analytics_app import clickhouse as ch
from cohorts.models import Cohort
from cohorts.queries import cohort_members
from governance.models import AuditEntry
from governance.roles import Role
from tests.clock import at_test_time
from tests.conftest import examples
from tests.html import parse

pytestmark = pytest.mark.django_db

NOW = at_test_time(lambda now: now)
TODAY = at_test_time(lambda now: now.replace(hour=0, minute=0, second=0, microsecond=0))
N = 160  # more than a drill-down page (100)
URL = "https://example.com"

FUNNEL = {"kind": "FunnelsQuery", "date_from": "-7d", "steps": [{"event": "signup"}, {"event": "pay"}]}
RETENTION = {"kind": "RetentionQuery", "target_event": {"event": "open"}, "period": "day", "date_from": "-6d"}
TRENDS = {"kind": "TrendsQuery", "series": [{"event": "open"}], "date_from": "-6d", "interval": "day"}
PATHS = {"kind": "PathsQuery", "date_from": "-7d"}


def day(d: int) -> dt.datetime:
    """Noon of day `d` of the -6d range (day 0 = six days ago)."""
    return TODAY - dt.timedelta(days=6 - d) + dt.timedelta(hours=12)


class World:
    def __init__(self, events, seed: int):
        rng = random.Random(seed)
        self.events = events
        self.dids = [f"u{seed}-{i}" for i in range(N)]
        self.pid = {d: str(events.person_for(d)) for d in self.dids}
        self.paid, self.open_days, self.pricing = set(), {}, set()
        for d in self.dids:
            events.add("signup", d, NOW - dt.timedelta(hours=5))
            if rng.random() < 0.6:
                events.add("pay", d, NOW - dt.timedelta(hours=4))
                self.paid.add(d)
            # opens: everyone on day 1 (their first), then a random set of days 2-4
            days = {1} | {k for k in (2, 3, 4) if rng.random() < 0.5}
            self.open_days[d] = days
            for k in sorted(days):
                events.add("open", d, day(k))
            page = "/pricing" if rng.random() < 0.4 else "/blog"
            self.pricing.update({d} if page == "/pricing" else set())
            sid = f"s-{d}"
            events.add(
                "$pageview", d, NOW - dt.timedelta(hours=3), {"$current_url": URL + "/"}, session_id=sid
            )
            events.add(
                "$pageview", d, NOW - dt.timedelta(hours=3) + dt.timedelta(seconds=10),
                {"$current_url": URL + page}, session_id=sid,
            )  # fmt: skip
        events.flush()
        props = [
            {"email": f"{d}@example.com"} if i % 2 == 0 else ({"name": f"Person {i}"} if i % 3 else {})
            for i, d in enumerate(self.dids)
        ]
        ch.insert(
            "persons",
            {
                "project_id": [events.project_id] * N,
                "id": [self.pid[d] for d in self.dids],
                "created_at": [NOW] * N,
                "properties": [json.dumps(p) for p in props],
                "version": [1] * N,
            },
        )
        self.props = {self.pid[d]: p for d, p in zip(self.dids, props, strict=True)}

    def persons(self, dids) -> set[str]:
        return {self.pid[d] for d in dids}

    # -------- the Python references, one per drill-down
    def cases(self) -> list[tuple[str, dict, set[str]]]:
        return [
            (
                "funnels",
                {"q": json.dumps(FUNNEL), "step": "1", "status": "converted"},
                self.persons(self.paid),
            ),
            (
                "funnels",
                {"q": json.dumps(FUNNEL), "step": "1", "status": "dropped"},
                self.persons(set(self.dids) - self.paid),
            ),
            (
                "retention",
                {"q": json.dumps(RETENTION), "cohort": "1", "offset": "0"},
                self.persons(self.dids),
            ),
            (
                "retention",
                {"q": json.dumps(RETENTION), "cohort": "1", "offset": "2"},
                self.persons(d for d in self.dids if 3 in self.open_days[d]),
            ),
            (
                "trends",
                {"q": json.dumps(TRENDS), "series": "0", "date": (TODAY - dt.timedelta(days=4)).isoformat()},
                self.persons(d for d in self.dids if 2 in self.open_days[d]),
            ),
            ("paths", {"q": json.dumps(PATHS), "node": "1_/"}, self.persons(self.dids)),
            (
                "paths",
                {"q": json.dumps(PATHS), "node": "1_/", "target": "2_/pricing"},
                self.persons(self.pricing),
            ),
        ]


DRILL_URLS = {
    "funnels": "funnels:actors",
    "retention": "retention:retention_persons",
    "trends": "trends:trends_persons",
    "paths": "paths:paths_sessions",
}


@pytest.fixture
def world(events):
    return World(events, 7)


def members(project, cohort) -> set[str]:
    cohort.refresh_from_db()
    size, rows = cohort_members(project, cohort, limit=100_000)
    assert size == len(rows)
    return {r["person_id"] for r in rows}


def test_save_as_cohort_holds_exactly_the_drill_downs_people(alice_client, project, world):
    for kind, params, expected in world.cases():
        assert len(expected) > 0
        # the drill-down itself shows one page, and offers the action with its own query
        drill = alice_client.get(
            reverse(DRILL_URLS[kind], kwargs={"project_id": project.pk}),
            params,
            headers={"HX-Request": "true"},
        )
        assert drill.status_code == 200, (kind, drill.content[:500])
        doc = parse(drill)
        # each row names the person (e-mail, else name, else distinct_id) and gives the distinct_id
        did_of = {v: k for k, v in world.pid.items()}
        links = doc.select("a.person-name")
        assert 0 < len(links) <= 100
        for a in links:
            pid = a.attrs["href"].rstrip("/").rsplit("/", 1)[1]
            props = world.props[pid]
            assert a.text.strip() == (props.get("email") or props.get("name") or did_of[pid]), kind
        assert {td.text.strip() for td in doc.select("td.distinct-id")} <= set(world.dids)
        form = doc.one("form.people-cohort")
        posted = {
            i.attrs["name"]: i.attrs.get("value", "") for i in form.select("input") if i.attrs.get("name")
        }
        assert {k: posted[k] for k in params} == params
        assert posted["name"]  # named after the insight and the number
        posted["name"] = (
            f"{kind} {params.get('status') or params.get('offset') or params.get('target') or 'all'}"
        )
        response = alice_client.post(form.attrs["action"], posted)
        assert response.status_code == 302, (kind, response.content[:500])
        cohort = Cohort.objects.get(project=project, name=posted["name"])
        assert response["Location"] == reverse(
            "cohorts:cohort", kwargs={"project_id": project.pk, "cohort_id": cohort.pk}
        )
        assert cohort.kind == Cohort.Kind.STATIC and cohort.status == Cohort.Status.READY
        assert members(project, cohort) == expected, kind
        assert cohort.count == len(expected)
        assert AuditEntry.objects.filter(action="cohort.from_insight", target=posted["name"]).exists()
    # more than a page: the cohort has all of them, not the 100 shown
    assert max(len(e) for _, _, e in world.cases()) > 100


@pytest.mark.parametrize("seed", range(examples(2)))
def test_people_of_every_list_match_the_reference_on_other_data(alice_client, project, events, seed):
    """The exported people equal the reference for several generated worlds."""
    w = World(events, 100 + seed)
    for kind, params, expected in w.cases():
        response = alice_client.get(
            reverse("insights:people_export", kwargs={"project_id": project.pk, "kind": kind}), params
        )
        assert response.status_code == 200, (kind, response.content[:300])
        rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
        assert {r[2] for r in rows[1:]} == expected, kind
        assert len(rows) - 1 == len(expected)


def test_export_csv_has_display_name_and_distinct_id(alice_client, project, world):
    kind, params, expected = world.cases()[0]
    response = alice_client.get(
        reverse("insights:people_export", kwargs={"project_id": project.pk, "kind": kind}), params
    )
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0] == ["name", "distinct_id", "person_id", "reached_step", "reached_at"]
    by_pid = {r[2]: r for r in rows[1:]}
    did_of = {v: k for k, v in world.pid.items()}
    for pid, row in by_pid.items():
        props = world.props[pid]
        assert row[0] == props.get("email") or props.get("name") or did_of[pid]
        assert row[1] == did_of[pid]
        assert row[3] == "2"
    assert AuditEntry.objects.filter(action="export.csv").exists()


def test_pii_is_masked_in_the_csv_for_roles_without_view_pii(client, make_user, project, world):
    pm = make_user("pm@example.com")
    project.memberships.create(user=pm, role=Role.PM)
    client.force_login(pm)
    kind, params, expected = world.cases()[2]
    response = client.get(
        reverse("insights:people_export", kwargs={"project_id": project.pk, "kind": kind}), params
    )
    assert response.status_code == 200
    text = b"".join(response.streaming_content).decode()
    assert "@example.com" not in text and "Person 3" not in text
    rows = list(csv.reader(io.StringIO(text)))
    assert {r[2] for r in rows[1:]} == expected
    # the drill-down page masks the same way
    drill = client.get(
        reverse(DRILL_URLS[kind], kwargs={"project_id": project.pk}), params, headers={"HX-Request": "true"}
    )
    assert "@example.com" not in drill.content.decode()


@pytest.mark.parametrize("role", [Role.EXEC, Role.SUPPORT])
def test_roles_without_export_or_edit_cannot_act(client, make_user, project, world, role):
    user = make_user(f"{role}@example.com")
    project.memberships.create(user=user, role=role)
    client.force_login(user)
    kind, params, _ = world.cases()[0]
    base = {"project_id": project.pk, "kind": kind}
    assert client.get(reverse("insights:people_export", kwargs=base), params).status_code == 403
    assert client.post(reverse("cohorts:from_people", kwargs=base), params).status_code == 403
    assert not Cohort.objects.filter(project=project).exists()
    for fmt in ("csv", "json"):
        url = reverse("insights:result_export", kwargs={**base, "fmt": fmt})
        assert client.get(url, {"q": json.dumps(FUNNEL)}).status_code == 403
    doc = parse(
        client.get(
            reverse(DRILL_URLS[kind], kwargs={"project_id": project.pk}),
            params,
            headers={"HX-Request": "true"},
        )
    )
    assert not doc.select("form.people-cohort") and not doc.select("[data-export-people]")
    assert bool(doc.select("[data-watch-recordings]")) == (role == Role.SUPPORT)


def test_bad_drill_down_is_a_400(alice_client, project):
    base = {"project_id": project.pk}
    assert (
        alice_client.post(
            reverse("cohorts:from_people", kwargs={**base, "kind": "funnels"}), {"q": "{"}
        ).status_code
        == 400
    )
    assert (
        alice_client.get(reverse("insights:people_export", kwargs={**base, "kind": "nope"}), {}).status_code
        == 400
    )
    assert not Cohort.objects.filter(project=project).exists()


def test_watch_recordings_filters_the_list_to_those_people(alice_client, project, world):
    kind, params, expected = world.cases()[6]  # the edge to /pricing
    doc = parse(
        alice_client.get(
            reverse(DRILL_URLS[kind], kwargs={"project_id": project.pk}),
            params,
            headers={"HX-Request": "true"},
        )
    )
    link = doc.one("[data-watch-recordings]").attrs["href"]
    query = parse_qs(urlsplit(link).query)
    assert query["people"] == ["paths"]
    from django.http import QueryDict  # noqa: PLC0415

    from insights.people import people_list  # noqa: PLC0415
    from replay.forms import RecordingsSpec  # noqa: PLC0415
    from replay.queries import RecordingsQueryRunner  # noqa: PLC0415

    class Req:
        pass

    req = Req()
    req.project, req.GET = project, QueryDict(query["people_q"][0])
    from governance.presenter import Presenter  # noqa: PLC0415

    req.presenter = Presenter.unrestricted()
    req.perms = frozenset()
    assert set(people_list(req, "paths").person_ids) == expected
    # the list page binds those persons (no summaries in this world: an empty list, 200)
    response = alice_client.get(link)
    assert response.status_code == 200
    assert parse(response).one(".people-filter").text.startswith("People of")
    spec = RecordingsSpec.from_query(
        {"people": "paths", "people_q": query["people_q"][0], "date_from": "-30d"}
    )
    sql, params_ = RecordingsQueryRunner(project, spec).build()
    assert "has(" in sql


def _csv(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_result_tables_export_as_csv_and_json_equal_to_the_result(alice_client, project, world):
    from funnels.queries import FunnelQueryRunner  # noqa: PLC0415
    from funnels.spec import FunnelSpec  # noqa: PLC0415
    from governance.presenter import Presenter  # noqa: PLC0415

    def get(kind, fmt, spec):
        url = reverse("insights:result_export", kwargs={"project_id": project.pk, "kind": kind, "fmt": fmt})
        response = alice_client.get(url, {"q": json.dumps(spec)})
        assert response.status_code == 200, (kind, response.content[:300])
        return _csv(response) if fmt == "csv" else json.loads(response.content)

    # funnels: the step counts of the reference
    rows = get("funnels", "csv", FUNNEL)
    assert rows[0][:4] == ["breakdown_value", "step", "event", "count"]
    assert rows[0][-1] == "label" and [r[-1] for r in rows[1:]] == ["signup", "pay"]  # no filters: the event
    assert [(r[1], r[2], r[3], r[6]) for r in rows[1:]] == [
        ("1", "signup", str(N), "0"),
        ("2", "pay", str(len(world.paid)), str(N - len(world.paid))),
    ]
    payload = (
        FunnelQueryRunner(project, FunnelSpec.from_json(FUNNEL, project))
        .run()
        .to_json(Presenter.unrestricted())
    )
    assert [float(r[4]) for r in rows[1:]] == [s["conversion_rate"] for s in payload["results"][0]["steps"]]
    # retention: cohort day 1 has everyone; offset k the persons who opened on day 1 + k
    rows = get("retention", "csv", RETENTION)
    day1 = next(r for r in rows[1:] if r[1] == day(1).date().isoformat())
    assert day1[2] == str(N)
    assert [int(v) for v in day1[3:7]] == [
        N,
        *(sum(1 for d in world.dids if k in world.open_days[d]) for k in (2, 3, 4)),
    ]
    # trends: opens per day
    table = get("trends", "json", TRENDS)
    assert table["columns"][0] == "series" and table["columns"][-1] == "total"
    (series,) = table["rows"]
    per_day = [sum(1 for d in world.dids if k in world.open_days[d]) for k in range(7)]
    assert series[1:-1] == per_day and series[-1] == sum(per_day)
    csv_rows = get("trends", "csv", TRENDS)
    assert csv_rows[0] == table["columns"] and [float(v) for v in csv_rows[1][1:]] == series[1:]
    # paths: the two edges from / with their session counts
    rows = get("paths", "csv", PATHS)
    edges = {(r[1], r[2]): int(r[3]) for r in rows[1:] if r[0] == "edge"}
    assert edges == {("1_/", "2_/pricing"): len(world.pricing), ("1_/", "2_/blog"): N - len(world.pricing)}


def test_saved_insight_page_offers_the_export(alice_client, project, world):
    from dashboards.models import Insight  # noqa: PLC0415

    insight = Insight.objects.create(project=project, name="Signups", kind="FunnelsQuery", spec=FUNNEL)
    doc = parse(
        alice_client.get(
            reverse("dashboards:insight", kwargs={"project_id": project.pk, "insight_id": insight.pk})
        )
    )
    link = doc.one('[data-export-result="csv"]').attrs["href"]
    response = alice_client.get(link)
    assert response.status_code == 200
    assert _csv(response)[1][3] == str(N)


def test_result_export_masks_pii_as_shown_to_the_role(client, make_user, project, world):
    """A breakdown by the person's e-mail: the PM (no view-PII) gets the masked labels the
    page shows them, never an address; the admin gets the addresses."""
    from governance.presenter import Presenter  # noqa: PLC0415
    from trends.queries import TrendsQueryRunner  # noqa: PLC0415
    from trends.spec import TrendsSpec  # noqa: PLC0415

    spec = {**TRENDS, "breakdown": {"property": "email", "type": "person", "limit": 5}}
    pm = make_user("pm@example.com")
    project.memberships.create(user=pm, role=Role.PM)
    client.force_login(pm)
    url = reverse("insights:result_export", kwargs={"project_id": project.pk, "kind": "trends", "fmt": "csv"})
    response = client.get(url, {"q": json.dumps(spec)})
    assert response.status_code == 200
    rows = _csv(response)
    assert "@example.com" not in json.dumps(rows)
    shown = TrendsQueryRunner(project, TrendsSpec.from_json(spec, project)).run()
    payload = shown.to_json(Presenter.for_request(project, {"view_insights"}))
    assert [r[0] for r in rows[1:]] == [r["label"] for r in payload["results"]]
    assert [[float(v) for v in r[1:]] for r in rows[1:]] == [
        [*r["data"], r["total"]] for r in payload["results"]
    ]
    assert len(rows) > 2  # several (masked) breakdown values
    client.force_login(project.memberships.get(role=Role.ADMIN).user)
    assert "@example.com" in b"".join(client.get(url, {"q": json.dumps(spec)}).streaming_content).decode()


def _num(text: str) -> float:
    return float(text.replace(",", "").replace("%", "").strip() or "nan")


def test_exported_tables_equal_the_rendered_result_tables(alice_client, project, world):
    """For each kind, the exported CSV holds the numbers the builder page renders."""

    def page(kind_url, spec):
        response = alice_client.get(
            reverse(kind_url, kwargs={"project_id": project.pk}), {"q": json.dumps(spec)}
        )
        assert response.status_code == 200
        return parse(response)

    def export(kind, spec):
        url = reverse("insights:result_export", kwargs={"project_id": project.pk, "kind": kind, "fmt": "csv"})
        return _csv(alice_client.get(url, {"q": json.dumps(spec)}))

    # funnels: step label, converted and dropped as in table.funnel-steps; the export links are there
    doc = page("funnels:funnel", FUNNEL)
    assert doc.select('[data-export-result="csv"]') and doc.select('[data-export-result="json"]')
    shown = [
        [td.text.strip() for td in tr.find_all("td")] for tr in doc.select("table.funnel-steps tbody tr")
    ]
    rows = export("funnels", FUNNEL)[1:]
    assert [(f"{r[1]}. {r[2]}", int(r[3]), f"{float(r[4]):.1%}") for r in rows] == [
        (s[0], int(_num(s[1])), s[2]) for s in shown
    ]
    assert [int(r[6]) for r in rows[1:]] == [int(_num(s[4])) for s in shown[1:]]
    # trends (table display): label, each interval's value and the total
    spec = {**TRENDS, "display": "table"}
    doc = page("trends:trends", spec)
    shown = [
        [td.text.strip() for td in tr.find_all("td")] for tr in doc.select("table.trends-table tbody tr")
    ]
    rows = export("trends", spec)[1:]
    assert [[r[0], *(_num(v) for v in r[1:])] for r in rows] == [
        [s[0], *(_num(v) for v in s[1:])] for s in shown
    ]
    # retention: each cell's count (its title says "<value> of <size> persons")
    doc = page("retention:retention", RETENTION)
    shown = {}
    for tr in doc.select("table.retention-matrix tbody tr"):
        if "mean" in (tr.attrs.get("class") or ""):
            continue
        cohort = tr.find_all("td")[0].text.strip()
        shown[cohort] = [
            int(td.attrs["title"].split(": ")[1].split(" of ")[0]) for td in tr.select("td[title]")
        ]
    assert sum(1 for v in shown.values() if v) >= 2
    rows = export("retention", RETENTION)[1:]
    exported = {r[1]: [int(v) for v in r[3:] if v != ""] for r in rows}
    assert {c: v for c, v in exported.items() if v} == {
        next(k for k in exported if k in c): v for c, v in shown.items() if v
    }
    # paths: the edges table (step, from, to, sessions)
    doc = page("paths:paths", PATHS)
    table = next(t for t in doc.select("table.table") if "From" in t.text and "Avg. time" in t.text)
    shown = {
        (int(tds[0].text), tds[1].text.strip(), tds[2].text.strip()): int(_num(tds[3].text))
        for tds in (tr.find_all("td") for tr in table.select("tbody tr"))
    }
    assert len(shown) == 2
    rows = export("paths", PATHS)[1:]
    assert {
        (int(r[1].split("_", 1)[0]), r[1].split("_", 1)[1], r[2].split("_", 1)[1]): int(r[3])
        for r in rows
        if r[0] == "edge"
    } == shown
