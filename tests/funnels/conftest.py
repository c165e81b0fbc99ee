"""Generated funnel data: one fresh ClickHouse project per hypothesis example, many
small actors, inserted in one batch per table."""

from __future__ import annotations

import datetime as dt
import json
import random
import uuid

from analytics_app import clickhouse as ch

BASE = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
DATE_FROM = BASE.isoformat()
DATE_TO = (BASE + dt.timedelta(minutes=8)).isoformat()
NAMES = ["a", "b", "c", "d"]


def generate(project, seed: int, n_persons: int = 30, max_events: int = 9, tie_grid: int = 15):
    """(project, events for the reference, persons' properties) written into the fresh
    `project` (a ch_project()). Events carry the
    person at ingestion; person_distinct_ids merges some second distinct_ids into
    the first one's person with a higher version (as $identify would)."""
    rng = random.Random(seed)
    pid = project.id
    events, ref_events, mapping, persons = [], [], [], {}
    for p in range(n_persons):
        main = f"u{p}"
        person = uuid.uuid5(uuid.NAMESPACE_URL, f"{pid}/{main}")
        dids = [main] + ([f"u{p}x"] if rng.random() < 0.3 else [])
        mapping.append((main, person, 1))
        for extra in dids[1:]:
            own = uuid.uuid5(uuid.NAMESPACE_URL, f"{pid}/{extra}")
            mapping.append((extra, own, 1))
            mapping.append((extra, person, 2))
        tier = rng.choice(["gold", "silver", None, ""])
        persons[person] = {} if tier is None else {"tier": tier}
        for _ in range(rng.randint(1, max_events)):
            did = rng.choice(dids)
            name = rng.choice(NAMES + ["other"])
            ts = BASE + dt.timedelta(
                seconds=rng.randrange(-60, 720, tie_grid), microseconds=rng.choice([0, 0, 0, 500_000])
            )
            props = {}
            for key, choices in (("plan", ["free", "pro", "", None]), ("org", ["o1", "o2", ""])):
                roll = rng.choice(choices + ["<missing>"])
                if roll != "<missing>":
                    props[key] = roll
            session = rng.choice(["", f"{p}-s1", f"{p}-s2"])
            ev_uuid = uuid.UUID(int=rng.getrandbits(128), version=4)
            ingest_person = uuid.uuid5(uuid.NAMESPACE_URL, f"{pid}/{did}")
            events.append((str(ev_uuid), name, did, str(ingest_person), ts, json.dumps(props), session))
            ref_events.append(
                {
                    "uuid": ev_uuid,
                    "event": name,
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
