"""Identity merges count one person however the events are batched (issue 12, item 1).

posthog-js sends a visit's anonymous events and the `$identify` that merges them in
one request, and a group commit or a stream consumer batch can hold both too. Here a
returning user signs in on a new phone: the anonymous `pay` and `$identify(u9)` arrive
in one request, after u9 signed up last week on another device.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import re
import threading
import uuid

from django.db import connections
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from explorer.forms import PersonsSpec
from explorer.queries import PersonsQueryRunner
from funnels.queries import FunnelQueryRunner
from funnels.spec import FunnelSpec
from ingestion.views import project_for_token
from insights.blocks import EventSource, SQLBuilder
from retention.queries import RetentionQueryRunner
from retention.spec import RetentionSpec
from tests.conftest import examples
from tests.funnels import reference as funnel_ref
from tests.retention import reference as retention_ref
from trends.queries import TrendsQueryRunner
from trends.spec import TrendsSpec

from .conftest import ingested, person_of, send

LAST_WEEK = dt.datetime(2026, 5, 4, 9, 0, tzinfo=dt.UTC)
TODAY = dt.datetime(2026, 5, 11, 18, 30, tzinfo=dt.UTC)


def js_event(name: str, distinct_id: str, token: str, at: dt.datetime, *, anonymous=False, **props) -> dict:
    """An event as posthog-js (person_profiles: identified_only) sends it."""
    properties = {
        "token": token,
        "distinct_id": distinct_id,
        "$lib": "web",
        "$process_person_profile": not anonymous,
        "$is_identified": not anonymous,
        **props,
    }
    return {"uuid": str(uuid.uuid4()), "event": name, "properties": properties, "timestamp": at.isoformat()}


def js_identify(user_id: str, anon_id: str, token: str, at: dt.datetime) -> dict:
    e = js_event("$identify", user_id, token, at, **{"$anon_distinct_id": anon_id})
    e["$set"] = {"email": f"{user_id}@example.com"}
    return e


def post(client, project, events) -> None:
    response = send(client, "/i/v0/e/", {"api_key": project.api_token, "batch": events})
    assert response.status_code == 200, response.content


def test_returning_user_paying_on_a_new_phone_in_one_request_is_one_person(alice_client, project):
    client = alice_client
    token = project.api_token
    post(
        client,
        project,
        [
            js_event("$pageview", "laptop-anon", token, LAST_WEEK, anonymous=True),
            js_identify("u9", "laptop-anon", token, LAST_WEEK + dt.timedelta(minutes=1)),
            js_event("signup", "u9", token, LAST_WEEK + dt.timedelta(minutes=2)),
        ],
    )
    # Today, a new phone: the anonymous pay and the $identify flush in one request.
    post(
        client,
        project,
        [
            js_event("pay", "phone-anon", token, TODAY, anonymous=True),
            js_identify("u9", "phone-anon", token, TODAY + dt.timedelta(seconds=5)),
        ],
    )

    funnel = FunnelSpec.from_json(
        {
            "kind": "FunnelsQuery",
            "date_from": "2026-05-01",
            "date_to": "2026-05-12",
            "steps": [{"event": "signup"}, {"event": "pay"}],
            "window": {"value": 14, "unit": "day"},
        },
        project,
    )
    steps = FunnelQueryRunner(project, funnel).run().results[0].steps
    assert [s.count for s in steps] == [1, 1]

    trends = TrendsSpec.from_json(
        {
            "series": [{"event": "pay", "math": "dau"}, {"event": "signup", "math": "dau"}],
            "date_from": "2026-05-01",
            "date_to": "2026-05-12",
        },
        project,
    )
    series = TrendsQueryRunner(project, trends).run().series
    assert [s.total for s in series] == [1, 1]
    all_events = TrendsSpec.from_json(
        {"series": [{"event": e, "math": "dau"} for e in ("$pageview", "signup", "pay", "$identify")]}
        | {"date_from": "2026-05-01", "date_to": "2026-05-12"},
        project,
    )
    assert [s.total for s in TrendsQueryRunner(project, all_events).run().series] == [1, 1, 1, 1]

    u9 = person_of(project.id, "u9")
    assert person_of(project.id, "phone-anon")["id"] == u9["id"] == person_of(project.id, "laptop-anon")["id"]
    assert u9["is_deleted"] == 0 and u9["is_identified"] == 1
    assert u9["properties"] == {"email": "u9@example.com"}

    # The persons list and the person page show one person with every event.
    listed = client.get(f"/api/projects/{project.id}/persons/").json()["results"]
    assert [sorted(p["distinct_ids"]) for p in listed] == [["laptop-anon", "phone-anon", "u9"]]
    page = client.get(f"/project/{project.id}/persons/{u9['id']}/")
    assert page.status_code == 200
    rows = re.findall(
        r'<code>([^<]*)</code></a></td>\s*<td><a href="/project/\d+/persons/([0-9a-f-]+)/"',
        page.content.decode(),
    )
    assert sorted(rows) == sorted(
        (name, str(u9["id"])) for name in ("$pageview", "$identify", "signup", "pay", "$identify")
    )


def test_merges_read_stored_distinct_ids_once_per_batch(client, project, monkeypatch):
    """Merging the person of an id first seen in the batch reads nothing (ClickHouse has no
    rows of it yet); the stored persons a batch merges away are looked up in one query for
    the batch, not one per merge (~12 ms each)."""
    from ingestion import queries

    token = project.api_token
    post(client, project, [js_identify("u9", "laptop-anon", token, LAST_WEEK)])
    lookups: list[tuple[str, int]] = []
    one, many = queries.distinct_ids_of_person, queries.distinct_ids_of_persons
    monkeypatch.setattr(
        queries, "distinct_ids_of_person", lambda p, pid: lookups.append(("one", 1)) or one(p, pid)
    )
    monkeypatch.setattr(
        queries,
        "distinct_ids_of_persons",
        lambda p, pids: lookups.append(("batch", len(pids))) or many(p, pids),
    )
    post(
        client,
        project,
        [
            js_event("pay", "phone-anon", token, TODAY, anonymous=True),
            js_identify("u9", "phone-anon", token, TODAY),
            js_event("$pageview", "tablet-anon", token, TODAY),  # with a profile this time
            js_identify("u9", "tablet-anon", token, TODAY),
        ],
    )
    assert lookups == []
    post(
        client,
        project,
        [
            js_event("$pageview", d, token, TODAY, anonymous=True)
            for d in ("old-anon-1", "old-anon-2", "old-anon-3")
        ],
    )
    post(
        client,
        project,
        [js_identify("u9", d, token, TODAY) for d in ("old-anon-1", "old-anon-2", "old-anon-3")],
    )
    assert lookups == [("batch", 3)]
    u9 = person_of(project.id, "u9")
    everyone = ("laptop-anon", "phone-anon", "tablet-anon", "old-anon-1", "old-anon-2", "old-anon-3")
    assert {person_of(project.id, d)["id"] for d in everyone} == {u9["id"]}


# ---------------------------------------------------------------- one stream, every batching
#
# A generated stream for a few users, each with their own distinct_ids (so users are
# independent and their requests may interleave in any order, as different browsers'
# do): a returning user identified last week on device A, anonymous events on new
# devices (personless, as posthog-js's identified_only sends them, or with profiles),
# `$identify`, `$create_alias` and `$merge_dangerously` between any of the user's ids
# (chains a->b, b->c included), retried events (the same uuid again) and timestamps on a
# coarse grid (ties). It goes through capture in four batchings, each into a fresh
# project, and every batching must give the reference's persons, trends DAU, funnel
# and retention. No `sent_at` in the envelope: the skew correction would move every
# timestamp by the milliseconds between sends (it has its own tests).

WEEK_START = dt.datetime(2026, 5, 4, tzinfo=dt.UTC)  # a Monday; "today" is WEEK_START + 7 days
DAYS = 8
SECONDS = [0, 1, 60, 3600, 43_200]
NAMES = ["signup", "pay", "$pageview"]


def ids_of(user: int) -> list[str]:
    """The user's distinct_ids: two identified ids, three devices' anonymous ids."""
    return [f"u{user}", f"v{user}", f"a{user}-0", f"a{user}-1", f"a{user}-2"]


def at(day: int, second: int) -> dt.datetime:
    return WEEK_START + dt.timedelta(days=day, seconds=second)


action = st.one_of(
    st.fixed_dictionaries(
        {
            "kind": st.just("event"),
            "name": st.sampled_from(NAMES),
            "who": st.integers(0, 4),
            "anonymous": st.booleans(),
            "plan": st.sampled_from([None, "free", "pro"]),
            "day": st.integers(0, DAYS - 1),
            "second": st.sampled_from(SECONDS),
        }
    ),
    st.fixed_dictionaries(
        {
            "kind": st.sampled_from(["$identify", "$create_alias", "$merge_dangerously"]),
            "who": st.integers(0, 4),
            "other": st.integers(0, 4),
            "day": st.integers(0, DAYS - 1),
            "second": st.sampled_from(SECONDS),
        }
    ),
    st.fixed_dictionaries({"kind": st.just("retry"), "which": st.integers(0, 40)}),
)


def story(user: int, token: str, returning: bool, actions: list[dict], new_phone: bool) -> list[dict]:
    """One user's events, in the order their SDKs send them."""
    ids = ids_of(user)
    out: list[dict] = []

    def add(e: dict) -> None:
        e["uuid"] = str(uuid.uuid5(uuid.NAMESPACE_URL, f"merge-batching/{user}/{len(out)}"))
        out.append(e)

    if returning:  # last week on device A: browse, sign up, log in
        add(js_event("$pageview", ids[2], token, at(0, 0), anonymous=True))
        add(js_event("signup", ids[2], token, at(0, 60), anonymous=True))
        add(js_identify(ids[0], ids[2], token, at(0, 3600)))
    for a in actions:
        if a["kind"] == "retry":
            if out:
                out.append(out[a["which"] % len(out)])  # the same event again (same uuid)
            continue
        when = at(a["day"], a["second"])
        if a["kind"] == "event":
            e = js_event(a["name"], ids[a["who"]], token, when, anonymous=a["anonymous"])
            if a["plan"] and not a["anonymous"]:
                e["$set"] = {"plan": a["plan"]}
        elif a["kind"] == "$identify":
            e = js_identify(ids[a["who"] % 2], ids[a["other"]], token, when)  # identified ids: u, v
        else:  # posthog-js alias(alias, original): distinct_id=original, properties.alias=alias
            e = js_event(a["kind"], ids[a["who"]], token, when, alias=ids[a["other"]])
        add(e)
    if new_phone:  # today on a new phone: an anonymous pay, then the login
        add(js_event("pay", ids[3], token, at(DAYS - 1, 0), anonymous=True))
        add(js_identify(ids[0], ids[3], token, at(DAYS - 1, 1)))
    return out


@st.composite
def scenarios(draw):
    n_users = draw(st.integers(1, 3))
    users = [
        {
            "returning": draw(st.booleans()),
            "actions": draw(st.lists(action, max_size=7)),
            "new_phone": draw(st.booleans()),
        }
        for _ in range(n_users)
    ]
    # Interleavings of the users' events: a list of user numbers, one per event, filled later.
    return {
        "users": users,
        "order_seed": draw(st.integers(0, 2**32 - 1)),
        "split_seed": draw(st.integers(0, 2**32 - 1)),
    }


class IdentityReference:
    """The identity rules of docs/ingestion.md ("Identity"), one event at a time, in send order."""

    def __init__(self):
        self.mapping: dict[str, int] = {}  # distinct_id -> person number
        self.rows: set[int] = set()  # persons with a persons row (not personless), not merged away
        self.identified: set[int] = set()
        self.properties: dict[int, dict] = {}
        self.created_at: dict[int, dt.datetime] = {}
        self._next = 0

    def new_person(self) -> int:
        self._next += 1
        return self._next

    def ensure(self, distinct_id: str, ts: dt.datetime) -> int:
        if distinct_id not in self.mapping:
            self.mapping[distinct_id] = self.new_person()
        person = self.mapping[distinct_id]
        if person not in self.rows:
            self.rows.add(person)
            self.created_at[person] = ts
        return person

    def merge(self, into: str, other: str, dangerous: bool, ts: dt.datetime) -> None:
        if into == other:
            return
        mine, theirs = self.mapping.get(into), self.mapping.get(other)
        if mine is None and theirs is None:
            self.mapping[other] = self.ensure(into, ts)
        elif mine is None:
            self.mapping[into] = theirs
            self.ensure(into, ts)
        elif theirs is None:
            self.mapping[other] = mine
        elif mine != theirs and (dangerous or theirs not in self.identified):
            person = self.ensure(into, ts)
            self.properties[person] = {**self.properties.get(theirs, {}), **self.properties.get(person, {})}
            stamps = [self.created_at[person], ts] + (
                [self.created_at[theirs]] if theirs in self.rows else []
            )
            self.created_at[person] = min(stamps)
            for distinct_id, p in self.mapping.items():
                if p == theirs:
                    self.mapping[distinct_id] = person
            self.rows.discard(theirs)  # its row is marked deleted

    def apply(self, event: dict) -> None:
        props, distinct_id = event["properties"], event["properties"]["distinct_id"]
        ts = dt.datetime.fromisoformat(event["timestamp"])
        if props["$process_person_profile"] is False:  # personless: an id, no row, no properties
            if distinct_id not in self.mapping:
                self.mapping[distinct_id] = self.new_person()
            return
        other = props.get("$anon_distinct_id") or props.get("alias")
        if other:
            self.merge(distinct_id, other, event["event"] == "$merge_dangerously", ts)
        person = self.ensure(distinct_id, ts)
        if event["event"] in ("$identify", "$create_alias", "$merge_dangerously"):
            self.identified.add(person)
        self.properties.setdefault(person, {}).update(event.get("$set") or {})


def expected(events: list[dict], project) -> dict:
    """What every batching must show: the reference's answers on the deduplicated stream."""
    seen: set[str] = set()
    unique = [e for e in events if not (e["uuid"] in seen or seen.add(e["uuid"]))]
    identity = IdentityReference()
    for e in unique:
        identity.apply(e)
    person = identity.mapping
    groups: dict[int, set[str]] = {}
    for distinct_id, p in person.items():
        groups.setdefault(p, set()).add(distinct_id)
    by_person: dict[int, set[str]] = {}
    for e in unique:
        by_person.setdefault(person[e["properties"]["distinct_id"]], set()).add(e["uuid"])
    flat = [
        {
            "uuid": e["uuid"],
            "event": e["event"],
            "did": e["properties"]["distinct_id"],
            "person_id": person[e["properties"]["distinct_id"]],
            "ts": dt.datetime.fromisoformat(e["timestamp"]),
            "props": {},
            "session_id": "",
        }
        for e in unique
    ]
    dau = []
    for name in NAMES:
        days = [
            len({e["person_id"] for e in flat if e["event"] == name and (e["ts"] - WEEK_START).days == d})
            for d in range(DAYS)
        ]
        dau.append((days, len({e["person_id"] for e in flat if e["event"] == name})))
    spec = FunnelSpec.from_json(FUNNEL, project)
    start, end = spec.date_range.resolve(project.tz)
    rows = funnel_ref.funnel(flat, {}, spec, start, end)
    return {
        "distinct_ids": {frozenset(g) for g in groups.values()},
        "events": {frozenset(u) for u in by_person.values()},
        "persons": {
            (
                frozenset(groups[p]),
                json.dumps(identity.properties.get(p, {}), sort_keys=True),
                p in identity.identified,
                identity.created_at[p],
            )
            for p in identity.rows
        },
        "dau": dau,
        "funnel": [s["count"] for s in rows[0]["steps"]] if rows else [0, 0],
        "retention": retention_ref.retention(
            flat,
            person,
            tz=project.tz,
            date_from=WEEK_START.date(),
            date_to=(WEEK_START + dt.timedelta(days=DAYS - 1)).date(),
            period="day",
            total_intervals=DAYS,
            retention_type="first_time",
            target=RETENTION["target_event"],
            returning=RETENTION["returning_event"],
        ),
    }


DATE_RANGE = {
    "date_from": WEEK_START.date().isoformat(),
    "date_to": (WEEK_START + dt.timedelta(days=DAYS - 1)).date().isoformat(),
}
FUNNEL = {
    "kind": "FunnelsQuery",
    **DATE_RANGE,
    "steps": [{"event": "signup"}, {"event": "pay"}],
    "window": {"value": 14, "unit": "day"},
}
RETENTION = {
    "kind": "RetentionQuery",
    **DATE_RANGE,
    "period": "day",
    "total_intervals": DAYS,
    "retention_type": "first_time",
    "target_event": {"event": "signup", "properties": []},
    "returning_event": {"event": "pay", "properties": []},
}


def partition(pairs) -> set[frozenset]:
    groups: dict = {}
    for member, owner in pairs:
        groups.setdefault(owner, set()).add(member)
    return {frozenset(g) for g in groups.values()}


def observed(project) -> dict:
    """What Sextant shows for the project: mapping, resolved events, persons list, insights."""
    params = {"project_id": project.id}
    mapping = ch.query(
        "SELECT distinct_id, argMax(person_id, version) FROM person_distinct_ids"
        " WHERE project_id = {project_id:UInt32} GROUP BY distinct_id",
        params,
    ).rows
    b = SQLBuilder(project.id)
    source = EventSource(project, b, None, None, need_person=True)
    resolved = ch.query(f"SELECT toString(uuid), person_id FROM ({source.sql()})", b.params).rows
    listed = PersonsQueryRunner(project, PersonsSpec(limit=100)).run().rows
    trends = TrendsQueryRunner(
        project, TrendsSpec.from_json({"series": [{"event": n, "math": "dau"} for n in NAMES], **DATE_RANGE})
    ).run()
    funnel = FunnelQueryRunner(project, FunnelSpec.from_json(FUNNEL, project)).run()
    retention = RetentionQueryRunner(project, RetentionSpec.from_json(RETENTION, project)).run()
    return {
        "distinct_ids": partition(mapping),
        "events": partition(resolved),
        "persons": {
            (
                frozenset(p.distinct_ids),
                json.dumps(p.properties, sort_keys=True),
                p.is_identified,
                p.created_at.astimezone(dt.UTC),
            )
            for p in listed
        },
        "dau": [(s.data, s.total) for s in trends.series],
        "funnel": [s.count for s in funnel.results[0].steps],
        "retention": [(r.cohort_start.astimezone(project.tz).date(), r.values) for r in retention.rows],
    }


# ---------------------------------------------------------------- the batchings


def deliver(project, requests: list[list[dict]], drain_after: list[bool]) -> None:
    """POST each request like posthog-js; with the Redis stream, run the consumer after the
    requests marked in drain_after (so one consumer batch holds the requests in between)."""
    client = Client()
    for events, drain in zip(requests, drain_after, strict=True):
        if not events:
            continue  # an SDK sends no empty batch
        response = client.post(
            "/i/v0/e/",
            data=json.dumps({"api_key": project.api_token, "batch": events}),
            content_type="application/json",
        )
        assert response.status_code == 200, response.content
        if drain:
            ingested()
    ingested()


def chunks(items: list, rng: random.Random) -> list[list]:
    out, start = [], 0
    while start < len(items):
        size = rng.randint(1, 4)
        out.append(items[start : start + size])
        start += size
    return out


def interleave(stories: list[list[dict]], rng: random.Random) -> list[dict]:
    """The users' events merged in a random order that keeps each user's own order."""
    slots = [u for u, s in enumerate(stories) for _ in s]
    rng.shuffle(slots)
    positions = [0] * len(stories)
    out = []
    for u in slots:
        out.append(stories[u][positions[u]])
        positions[u] += 1
    return out


def concurrent(project, stories: list[list[dict]], rng: random.Random) -> None:
    """One thread per user sends its requests in order; the users' requests race. Embedded,
    the group-commit writer takes several users' requests in one batch; with Redis, one
    consumer batch takes all of them."""
    plans = [chunks(s, rng) for s in stories]
    failures: list = []

    def run(requests):
        try:
            client = Client()
            for events in requests:
                body = json.dumps({"api_key": project.api_token, "batch": events})
                response = client.post("/i/v0/e/", data=body, content_type="application/json")
                if response.status_code != 200:
                    failures.append(response.content)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            failures.append(repr(exc))
        finally:
            connections.close_all()  # a request keeps its connection (CONN_MAX_AGE); the thread ends here

    threads = [threading.Thread(target=run, args=(p,)) for p in plans]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not failures and not any(t.is_alive() for t in threads), failures
    ingested()


@settings(
    max_examples=examples(6),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(scenario=scenarios())
@example(  # a chain in one request: a1 -> a2 (alias), a2 -> v (identify), v -> u (dangerous), and a retry
    scenario={
        "users": [
            {
                "returning": True,
                "actions": [
                    {
                        "kind": "event",
                        "name": "pay",
                        "who": 3,
                        "anonymous": True,
                        "plan": None,
                        "day": 7,
                        "second": 0,
                    },
                    {
                        "kind": "event",
                        "name": "$pageview",
                        "who": 4,
                        "anonymous": False,
                        "plan": "pro",
                        "day": 7,
                        "second": 0,
                    },
                    {"kind": "$create_alias", "who": 4, "other": 3, "day": 7, "second": 60},
                    {"kind": "$identify", "who": 1, "other": 4, "day": 7, "second": 60},
                    {"kind": "$merge_dangerously", "who": 0, "other": 1, "day": 7, "second": 3600},
                    {"kind": "$identify", "who": 1, "other": 2, "day": 7, "second": 3600},
                    {"kind": "retry", "which": 3},
                ],
                "new_phone": True,
            },
            {"returning": True, "actions": [], "new_phone": False},
        ],
        "order_seed": 1,
        "split_seed": 2,
    }
)
def test_every_batching_shows_the_same_persons_and_insights_as_the_reference(make_project, scenario):
    results = {}
    reference = None
    for batching in ("one event per request", "one request", "random splits", "concurrent users"):
        project = make_project(f"merge batching: {batching}")
        project_for_token(project.api_token)  # request threads cannot see the test's uncommitted row
        token = project.api_token
        stories = [
            story(u, token, user["returning"], user["actions"], user["new_phone"])
            for u, user in enumerate(scenario["users"])
        ]
        canonical = interleave(stories, random.Random(scenario["order_seed"]))
        rng = random.Random(scenario["split_seed"])
        if batching == "one event per request":
            deliver(project, [[e] for e in canonical], [True] * len(canonical))
        elif batching == "one request":
            deliver(project, [canonical], [True])
        elif batching == "random splits":  # another interleaving, cut anywhere, drained anywhere
            requests = chunks(interleave(stories, rng), rng)
            deliver(project, requests, [rng.random() < 0.4 for _ in requests])
        else:
            concurrent(project, stories, rng)
        if reference is None:
            reference = expected(canonical, project)
        results[batching] = observed(project)
        assert results[batching] == reference, batching
