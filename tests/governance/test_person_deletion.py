"""Person deletion (GDPR / CCPA): through the real capture endpoints, the page and the task,
then every ClickHouse table of the schema is searched for the person; nothing of them
remains, and the other persons' numbers are what they were."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid
from html.parser import HTMLParser

import pytest
from django.core.cache import cache
from django.urls import reverse

from analytics_app import clickhouse as ch
from cohorts.models import Cohort
from dashboards import cache as insight_cache
from governance import deletions, tasks
from governance.models import AuditEntry, DeletionRequest, hash_identifier
from governance.roles import Role
from ingestion.persons import personless_id
from replay.format import compress_event
from tests.ingestion.conftest import event, fresh_ingestion_state, send  # noqa: F401 - autouse fixture
from tests.replay.test_snapshots_api import recent_events, uuid7

pytestmark = pytest.mark.django_db

EMAIL = "vera.victim@example.com"
NAME = "Vera Victim"
VICTIM_IDS = ["anon-v1", "anon-v2", "victim-1"]
VICTIM_SESSIONS = ["sess-v1", "sess-v2"]
OTHERS = {
    "other-a": ("anon-oa", "ada@example.org", "Ada Other"),
    "other-b": ("anon-ob", "bo@example.org", "Bo Other"),
}
TRENDS = {"kind": "TrendsQuery", "series": [{"event": "signup", "math": "total"}], "date_from": "-7d"}
FUNNEL = {"kind": "FunnelsQuery", "date_from": "-7d", "steps": [{"event": "signup"}, {"event": "pay"}]}


def batch(client, project, *events):
    response = send(client, "/batch/", {"api_key": project.api_token, "batch": list(events)})
    assert response.status_code == 200, response.content
    return response


def identify(new_id, anon_id, **set_):
    e = event("$identify", new_id, **{"$anon_distinct_id": anon_id})
    e["$set"] = set_
    return e


def record(client, project, session_id, distinct_id, url):
    """A recording through /s/ as posthog-js sends it, its first page at `url`."""
    events = recent_events()
    for e in events:
        if e["type"] == 4:
            e["data"]["href"] = url
    rng = random.Random(session_id)
    payload = [
        {
            "uuid": str(uuid7(events[i]["timestamp"], rng)),
            "event": "$snapshot",
            "properties": {
                "$snapshot_data": [compress_event(e) for e in events[i : i + 10]],
                "$session_id": session_id,
                "$window_id": "w1",
                "distinct_id": distinct_id,
            },
        }
        for i in range(0, len(events), 10)
    ]
    response = send(client, "/s/", {"api_key": project.api_token, "batch": payload})
    assert response.status_code == 200, response.content


def ingest_person(client, project, user_id, anon_id, email, name, session):
    url = f"https://shop.test/account?who={email}"
    batch(
        client,
        project,
        event("$pageview", anon_id, **{"$current_url": url, "$session_id": session, "$pathname": "/account"}),
        identify(user_id, anon_id, email=email, name=name),
        event("signup", user_id, **{"$session_id": session, "plan": "pro", "contact": email}),
        event("pay", user_id, **{"$session_id": session, "amount": 12}),
    )
    record(client, project, session, anon_id, url)


@pytest.fixture
def world(client, project):
    ingest_person(client, project, "victim-1", "anon-v1", EMAIL, NAME, "sess-v1")
    # a second device, identified later; a quarantined event of the person
    bad = event("$pageview", "victim-1", **{"$session_id": "sess-v2", "$current_url": "https://shop.test/"})
    bad["timestamp"] = "not-a-date"
    batch(
        client,
        project,
        event("$pageview", "anon-v2", **{"$session_id": "sess-v2", "$current_url": "https://shop.test/m"}),
        identify("victim-1", "anon-v2"),
        bad,
    )
    for user_id, (anon_id, email, name) in OTHERS.items():
        ingest_person(client, project, user_id, anon_id, email, name, f"sess-{user_id}")
    theirs = event("$pageview", "other-a", note="victim")  # mentions a word of the victim's ids
    theirs["timestamp"] = "not-a-date either"
    batch(client, project, theirs)
    # with the persons merged away in the batch that created them, which no mapping names
    born = [uuid.UUID(personless_id(project.id, d)) for d in VICTIM_IDS]
    victim = sorted({*person_ids(project, VICTIM_IDS), *existing_persons(project, born)})
    assert len(victim) == 2  # the identified person, and anon-v2's, merged away in its batch (no mapping)
    others = person_ids(project, [d for u, (a, *_rest) in OTHERS.items() for d in (u, a)])
    ch.insert(
        "cohort_people",
        {
            "project_id": [project.id] * (len(victim) + len(others)),
            "cohort_id": [1] * (len(victim) + len(others)),
            "version": [1] * (len(victim) + len(others)),
            "person_id": [*victim, *others],
        },
    )
    Cohort.objects.create(
        project=project,
        name="VIPs",
        kind=Cohort.Kind.STATIC,
        definition={"distinct_ids": ["victim-1", "other-a"], "emails": [EMAIL.upper(), "bo@example.org"]},
    )
    return {"victim": victim, "others": others}


def existing_persons(project, ids) -> list[uuid.UUID]:
    rows = ch.query(
        "SELECT DISTINCT id FROM persons WHERE project_id = {project_id:UInt32} AND id IN {ids:Array(UUID)}",
        {"project_id": project.id, "ids": ids},
    )
    return [r[0] for r in rows.rows]


def person_ids(project, dids) -> list[uuid.UUID]:
    rows = ch.query(
        "SELECT DISTINCT person_id FROM person_distinct_ids WHERE project_id = {project_id:UInt32} AND distinct_id IN {d:Array(String)}",
        {"project_id": project.id, "d": dids},
    )
    return [r[0] for r in rows.rows]


NO_PROJECT_DATA = {"sextant_migrations"}  # the applied ClickHouse migrations (name, time)


def tables() -> list[str]:
    """Every table of the schema that holds rows (views only feed tables listed here)."""
    rows = ch.query(
        "SELECT name FROM system.tables WHERE database = currentDatabase() AND engine NOT LIKE '%View%'"
        " AND NOT is_temporary ORDER BY name",
        global_=True,
    )
    return [r[0] for r in rows.rows]


def rows_mentioning(project, needles: list[str]) -> dict[str, list]:
    """Per table, the project's rows in which one of `needles` appears anywhere."""
    found = {}
    for table in tables():
        columns = [r[0] for r in ch.query(f"DESCRIBE TABLE {table}", global_=True).rows]
        if table in NO_PROJECT_DATA:
            continue
        assert "project_id" in columns, (
            f"{table} has no project_id: decide how a person's rows are found there"
        )
        rows = ch.query(
            f"SELECT * FROM {table} WHERE project_id = {{project_id:UInt32}}", {"project_id": project.id}
        )
        hits = [r for r in rows.rows if any(n.lower() in repr(r).lower() for n in needles)]
        if hits:
            found[table] = hits
    return found


def event_counts(project) -> dict[str, int]:
    rows = ch.query(
        "SELECT distinct_id, count() FROM events WHERE project_id = {project_id:UInt32} GROUP BY distinct_id",
        {"project_id": project.id},
    )
    return dict(rows.rows)


def query_api(client, project, body) -> dict:
    response = client.post(
        f"/api/projects/{project.pk}/query/", data=json.dumps(body), content_type="application/json"
    )
    assert response.status_code == 200, response.content
    return response.json()


class Elements(HTMLParser):
    """Every element's attributes and its text (the text directly inside it), in order."""

    def __init__(self, html: str):
        super().__init__()
        self.elements: list[dict] = []
        self._open: list[dict] = []
        self.feed(html)

    def handle_starttag(self, tag, attrs):
        element = {"tag": tag, **{k: v or "" for k, v in attrs}, "text": ""}
        self.elements.append(element)
        if tag not in {"input", "br", "meta", "link", "img"}:
            self._open.append(element)

    def handle_endtag(self, tag):
        while self._open and self._open.pop()["tag"] != tag:
            pass

    def handle_data(self, data):
        if self._open:
            self._open[-1]["text"] += data

    def find(self, **attrs) -> list[dict]:
        return [e for e in self.elements if all(e.get(k) == v for k, v in attrs.items())]


def counts(response) -> dict[str, int]:
    """The confirmation's counts, by their data-count name."""
    found = Elements(response.content.decode()).find()
    return {e["data-count"]: int(e["text"]) for e in found if "data-count" in e}


def page(project) -> str:
    return reverse("project_deletions", kwargs={"project_id": project.pk})


def request_deletion(client, project, kind, value, monkeypatch, django_capture_on_commit_callbacks):
    """Find, confirm, then run the queued task as the worker would."""
    queued = []
    monkeypatch.setattr(deletions.erase_person, "delay", lambda *args: queued.append(args))
    found = client.post(page(project), {"kind": kind, "identifier": value, "action": "find"})
    assert found.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(page(project), {"kind": kind, "identifier": value, "action": "confirm"})
    assert response.status_code == 302
    assert len(queued) == 1
    assert tasks.erase_person(*queued[0]) == DeletionRequest.Status.DONE
    return found


def test_nothing_of_the_person_remains_in_any_table(
    alice_client, project, world, monkeypatch, django_capture_on_commit_callbacks
):
    needles = [EMAIL, NAME, *VICTIM_IDS, *VICTIM_SESSIONS, *(str(p) for p in world["victim"])]
    before = rows_mentioning(project, needles)
    for table in (
        "events",
        "persons",
        "person_distinct_ids",
        "session_replay_snapshots",
        "session_replay_summaries",
        "session_paths",
        "sessionless_paths",
        "funnel_events",
        "path_node_keys",
        "cohort_people",
        "ingestion_warnings",
    ):
        assert table in before, f"the scenario plants nothing of the person in {table}"
    others_before = {d: n for d, n in event_counts(project).items() if d not in VICTIM_IDS}
    trends_before = query_api(alice_client, project, TRENDS)
    funnel_before = query_api(alice_client, project, FUNNEL)
    cached = insight_cache.compute(project, "TrendsQuery", TRENDS)
    key = insight_cache.cache_key(project, "TrendsQuery", cached.spec_json, insight_cache.NO_OVERRIDE)
    assert cache.get(key) is not None

    found = request_deletion(
        alice_client, project, "distinct_id", "anon-v2", monkeypatch, django_capture_on_commit_callbacks
    )
    assert counts(found) == {"persons": 2, "distinct_ids": 3, "events": 7, "recordings": 1}

    assert rows_mentioning(project, needles) == {}
    assert {d: n for d, n in event_counts(project).items()} == others_before
    assert cache.get(key) is None
    trends_after = query_api(alice_client, project, TRENDS)
    funnel_after = query_api(alice_client, project, FUNNEL)
    assert sum(trends_before["results"][0]["data"]) == 3
    assert sum(trends_after["results"][0]["data"]) == 2
    assert [s["count"] for s in funnel_before["results"][0]["steps"]] == [3, 3]
    assert [s["count"] for s in funnel_after["results"][0]["steps"]] == [2, 2]
    # the other persons' recordings, paths and cohort rows are still there
    left = rows_mentioning(project, ["other-a", "anon-ob", "sess-other-a", "sess-other-b"])
    assert {
        "events",
        "session_replay_snapshots",
        "session_replay_summaries",
        "session_paths",
        "sessionless_paths",
        "funnel_events",
        "ingestion_warnings",
    } <= set(left)
    cohort = Cohort.objects.get(project=project, name="VIPs")
    assert cohort.definition == {"distinct_ids": ["other-a"], "emails": ["bo@example.org"]}
    ids_left = ch.query(
        "SELECT count() FROM cohort_people WHERE project_id = {project_id:UInt32}", {"project_id": project.id}
    ).scalar()
    assert ids_left == len(world["others"])

    req = DeletionRequest.objects.get(project=project)
    assert req.status == "done" and req.steps_done == req.steps_total > 0 and req.finished_at
    assert req.identifier_hash == hash_identifier("distinct_id", "anon-v2")
    stored = json.dumps([req.identifier_masked, req.person_ids, req.counts, req.error])
    assert "anon-v2" not in stored and EMAIL not in stored
    entries = AuditEntry.objects.filter(project=project, action="data.delete_person").order_by("id")
    assert [e.after["status"] for e in entries] == ["requested", "done"]
    assert all("anon-v2" not in json.dumps([e.target, e.after]) for e in entries)
    assert entries[0].after["events"] == 7 and entries[1].after["left"]["events"] == 0


def test_a_request_by_email_finds_the_person_by_the_email_property(
    alice_client, project, world, monkeypatch, django_capture_on_commit_callbacks
):
    found = request_deletion(
        alice_client,
        project,
        "email",
        " Vera.Victim@EXAMPLE.com ",
        monkeypatch,
        django_capture_on_commit_callbacks,
    )
    assert counts(found)["distinct_ids"] == 3
    assert rows_mentioning(project, [EMAIL, *VICTIM_IDS]) == {}
    assert set(event_counts(project)) == {d for u, (a, *_r) in OTHERS.items() for d in (u, a)}
    req = DeletionRequest.objects.get(project=project)
    assert req.identifier_masked == "V•••@E•••"
    assert req.identifier_hash == hash_identifier("email", EMAIL)
    kept = json.dumps([req.identifier_masked, req.person_ids, req.counts, req.error]).lower()
    audited = json.dumps(
        list(AuditEntry.objects.filter(project=project).values_list("target", "before", "after"))
    ).lower()
    assert "victim" not in kept and "victim" not in audited


def test_the_same_distinct_id_coming_back_is_a_new_person_without_the_old_properties(
    alice_client, client, project, world, monkeypatch, django_capture_on_commit_callbacks
):
    request_deletion(
        alice_client,
        project,
        "person",
        str(person_ids(project, ["victim-1"])[0]),  # the id the explorer's person page shows
        monkeypatch,
        django_capture_on_commit_callbacks,
    )
    comeback = event("$pageview", "victim-1")
    comeback["$set"] = {"plan": "free"}
    batch(client, project, comeback)
    assert rows_mentioning(project, [EMAIL, NAME]) == {}
    rows = ch.query(
        "SELECT id, argMax(properties, version) FROM persons"
        " WHERE project_id = {project_id:UInt32} AND id NOT IN {others:Array(UUID)} GROUP BY id",
        {"project_id": project.id, "others": world["others"]},
    )
    assert [json.loads(r[1]) for r in rows.rows] == [{"plan": "free"}]


def test_an_unknown_identifier_finds_nothing(alice_client, project, world):
    for kind, value in [
        ("distinct_id", "nobody"),
        ("email", "no@one.test"),
        ("person", str(uuid.uuid4())),
        ("person", "xyz"),
    ]:
        response = alice_client.post(page(project), {"kind": kind, "identifier": value, "action": "confirm"})
        assert response.status_code == 200
        assert Elements(response.content.decode()).find(id="not-found")
        assert not Elements(response.content.decode()).find(id="confirm-deletion")
    assert not DeletionRequest.objects.exists()
    assert alice_client.post(page(project), {"kind": "phone", "identifier": "x"}).status_code == 400
    assert alice_client.post(page(project), {"kind": "email", "identifier": ""}).status_code == 400


def test_only_admins_may_delete(client, project, make_user, other_project, charlie):
    for role in (Role.ANALYST, Role.PM, Role.EXEC, Role.SUPPORT):
        user = make_user(f"{role}@example.com")
        from analytics_app.models import Membership  # noqa: PLC0415

        Membership.objects.create(user=user, project=project, role=role)
        client.force_login(user)
        assert client.get(page(project)).status_code == 403
        assert client.post(page(project), {"kind": "distinct_id", "identifier": "x"}).status_code == 403
    client.force_login(charlie)
    assert client.get(page(project)).status_code == 404
    assert client.post(page(project), {"kind": "distinct_id", "identifier": "x"}).status_code == 404


def test_the_request_list_is_polled_while_a_request_runs(alice_client, project, alice):
    DeletionRequest.objects.create(
        project=project,
        requested_by=alice,
        identifier_kind="email",
        identifier_hash="0" * 64,
        identifier_masked="a•••@b•••",
        status="running",
        steps_done=2,
        steps_total=6,
    )
    full = Elements(alice_client.get(page(project)).content.decode())
    polled = full.find(id="deletion-requests")
    assert polled and polled[0]["hx-trigger"] == "every 2s" and polled[0]["hx-get"] == page(project)
    assert not [e for e in full.find(tag="script") if "src" not in e]  # no inline script
    partial = Elements(alice_client.get(page(project), headers={"HX-Request": "true"}).content.decode())
    assert partial.elements[0]["id"] == "deletion-requests"  # the list only, for the swap
    assert not partial.find(tag="h1")
    bar = partial.find(tag="progress")
    assert (bar[0]["value"], bar[0]["max"]) == ("2", "6")
    DeletionRequest.objects.update(status="done", finished_at=dt.datetime.now(dt.UTC))
    done = Elements(alice_client.get(page(project), headers={"HX-Request": "true"}).content.decode())
    assert "hx-trigger" not in done.find(id="deletion-requests")[0]  # polling stops
    assert not done.find(tag="progress")


def test_a_failed_run_says_why_and_running_it_again_finishes_the_job(
    alice_client, project, world, monkeypatch, django_capture_on_commit_callbacks
):
    from governance import deletion  # noqa: PLC0415

    queued = []
    monkeypatch.setattr(deletions.erase_person, "delay", lambda *args: queued.append(args))
    with django_capture_on_commit_callbacks(execute=True):
        alice_client.post(page(project), {"kind": "email", "identifier": EMAIL, "action": "confirm"})
    real = dict(deletion.STEPS)

    def broken(project, target, scope):
        raise RuntimeError("disk full")

    monkeypatch.setattr(
        deletion, "STEPS", [(n, broken if n == "recordings" else f) for n, f in deletion.STEPS]
    )
    with pytest.raises(RuntimeError):
        tasks.erase_person(*queued[0])
    req = DeletionRequest.objects.get(project=project)
    assert (req.status, req.steps_done, req.error) == ("failed", 2, "RuntimeError: disk full")
    row = Elements(alice_client.get(page(project)).content.decode()).find(
        tag="tr", **{"data-status": "failed"}
    )
    assert len(row) == 1
    monkeypatch.setattr(deletion, "STEPS", list(real.items()))
    assert tasks.erase_person(*queued[0]) == "done"
    assert tasks.erase_person(*queued[0]) == "done"  # a second delivery changes nothing
    assert rows_mentioning(project, [EMAIL, NAME, *VICTIM_IDS, *(str(p) for p in world["victim"])]) == {}
    statuses = list(
        AuditEntry.objects.filter(project=project, action="data.delete_person")
        .order_by("id")
        .values_list("after__status", flat=True)
    )
    assert statuses == ["requested", "failed", "done"]


def test_a_writer_in_another_process_drops_its_person_cache_before_its_next_batch(
    client, project, world, monkeypatch
):
    from governance import deletion  # noqa: PLC0415
    from ingestion import writer  # noqa: PLC0415

    # the deletion runs in a worker process: this process (the writer) only sees the shared key
    monkeypatch.setattr(
        deletion, "forget_persons", lambda *args: cache.set(writer.DELETIONS_KEY, "bumped elsewhere", None)
    )
    deletion.erase(project, deletion.find_persons(project, "email", EMAIL))
    comeback = event("$pageview", "victim-1")
    comeback["$set"] = {"plan": "free"}
    batch(client, project, comeback)
    assert rows_mentioning(project, [EMAIL, NAME]) == {}
