"""Identity merges count one person however the events are batched (issue 12, item 1).

posthog-js sends a visit's anonymous events and the `$identify` that merges them in
one request, and a group commit or a stream consumer batch can hold both too. Here a
returning user signs in on a new phone: the anonymous `pay` and `$identify(u9)` arrive
in one request, after u9 signed up last week on another device.
"""

from __future__ import annotations

import datetime as dt
import uuid

from funnels.queries import FunnelQueryRunner
from funnels.spec import FunnelSpec
from insights.trends.queries import TrendsQueryRunner
from insights.trends.spec import TrendsSpec

from .conftest import person_of, send

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


def test_returning_user_paying_on_a_new_phone_in_one_request_is_one_person(client, project):
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
