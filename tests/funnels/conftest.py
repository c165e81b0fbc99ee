"""Generated funnel data: hypothesis draws the persons and their events (so a failure
shrinks to the few events that matter), written into one fresh ClickHouse project per
example, one batch per table."""

from __future__ import annotations

import datetime as dt
import json
import uuid

import pytest
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from funnels.queries import base as funnel_base

BASE = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
DATE_FROM = BASE.isoformat()
DATE_TO = (BASE + dt.timedelta(minutes=8)).isoformat()
NAMES = ["a", "b", "c", "d"]


MISSING = "<missing>"


@pytest.fixture(params=["events", "funnel_events"])
def funnel_source(request, settings, monkeypatch):
    """Every funnel of the test reads `events`, then (a second run) `funnel_events` wherever
    its spec allows (FunnelSQL.source_table, whatever the range covers): both must give the
    reference's answers. Used by test_reference.py and test_funnel_cases.py."""
    if request.param == "events":
        settings.SEXTANT_FUNNEL_EVENTS = False
    else:
        settings.SEXTANT_FUNNEL_EVENTS = True
        monkeypatch.setattr(funnel_base, "FUNNEL_EVENTS_MIN_COVER", 0.0)
    return request.param


# One event: which of its person's distinct_ids, what, when. Times sit on a 15-second
# grid (ties, and steps exactly a window apart) from a minute before the range to past
# its end, some half a second off the grid; `tiebreak` orders equal times (it is the
# top of the event's uuid, which the stream order uses last).
event_st = st.fixed_dictionaries(
    {
        "second_id": st.booleans(),
        "event": st.sampled_from(NAMES + ["other"]),
        "tick": st.integers(-4, 47),
        "half_second": st.booleans(),
        "plan": st.sampled_from(["free", "pro", "", None, MISSING]),
        "org": st.sampled_from(["o1", "o2", "", MISSING]),
        "session": st.sampled_from(["", "s1", "s2"]),
        "tiebreak": st.integers(0, 2**32 - 1),
    }
)
person_st = st.fixed_dictionaries(
    {
        "second_id": st.booleans(),
        "tier": st.sampled_from(["gold", "silver", None, ""]),
        "events": st.lists(event_st, min_size=1, max_size=9),
    }
)


def datasets(max_persons: int = 20):
    """Persons (some with a second distinct_id merged into them), each with its events.
    The count is drawn first (uniform-ish, not st.lists' small average), so most data
    sets are busy enough to convert, and a failure still shrinks to one person."""
    return st.integers(1, max_persons).flatmap(lambda n: st.lists(person_st, min_size=n, max_size=n))


def generate(project, dataset, tie_grid: int = 15):
    """(project, events for the reference, persons' properties) for a drawn `dataset`,
    written into the fresh `project` (a ch_project()). Events carry the person at
    ingestion; person_distinct_ids merges each second distinct_id into the first one's
    person with a higher version (as $identify would)."""
    pid = project.id
    events, ref_events, mapping, persons = [], [], [], {}
    for p, drawn in enumerate(dataset):
        main = f"u{p}"
        person = uuid.uuid5(uuid.NAMESPACE_URL, f"{pid}/{main}")
        dids = [main] + ([f"u{p}x"] if drawn["second_id"] else [])
        mapping.append((main, person, 1))
        for extra in dids[1:]:
            own = uuid.uuid5(uuid.NAMESPACE_URL, f"{pid}/{extra}")
            mapping.append((extra, own, 1))
            mapping.append((extra, person, 2))
        persons[person] = {} if drawn["tier"] is None else {"tier": drawn["tier"]}
        for i, e in enumerate(drawn["events"]):
            did = dids[-1] if e["second_id"] else main
            ts = BASE + dt.timedelta(
                seconds=e["tick"] * tie_grid, microseconds=500_000 if e["half_second"] else 0
            )
            props = {key: e[key] for key in ("plan", "org") if e[key] != MISSING}
            session = f"{p}-{e['session']}" if e["session"] else ""
            ev_uuid = uuid.UUID(int=(e["tiebreak"] << 96) | (p << 16) | i, version=4)
            ingest_person = uuid.uuid5(uuid.NAMESPACE_URL, f"{pid}/{did}")
            events.append((str(ev_uuid), e["event"], did, str(ingest_person), ts, json.dumps(props), session))
            ref_events.append(
                {
                    "uuid": ev_uuid,
                    "event": e["event"],
                    "person_id": person,
                    "ts": ts,
                    "props": props,
                    "session_id": session,
                }
            )
    ch.insert(
        "events",
        {
            "uuid": [e[0] for e in events],
            "project_id": [pid] * len(events),
            "event": [e[1] for e in events],
            "distinct_id": [e[2] for e in events],
            "person_id": [e[3] for e in events],
            "timestamp": [e[4] for e in events],
            "properties": [e[5] for e in events],
            "session_id": [e[6] for e in events],
        },
    )
    ch.insert(
        "person_distinct_ids",
        {
            "project_id": [pid] * len(mapping),
            "distinct_id": [m[0] for m in mapping],
            "person_id": [str(m[1]) for m in mapping],
            "version": [m[2] for m in mapping],
        },
    )
    ch.insert(
        "persons",
        {
            "project_id": [pid] * len(persons),
            "id": [str(p) for p in persons],
            "created_at": [BASE] * len(persons),
            "properties": [json.dumps(v) for v in persons.values()],
            "version": [1] * len(persons),
        },
    )
    return project, ref_events, persons
