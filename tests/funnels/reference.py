"""A deliberately naive Python reference of the funnel semantics in docs/funnels.md.

It works on plain event dicts ({uuid, event, person_id, ts, props, session_id}, with
person_id already the *current* person of the distinct_id) and a FunnelSpec, and
enumerates every attempt by scanning the stream; no cleverness, no shared code with
funnels/queries/ except the spec. The ordered and unordered reaches are additionally
checked against exhaustive searches over all chains / assignments of distinct events.
"""

from __future__ import annotations

import datetime as dt
import statistics
import uuid as uuidlib
from dataclasses import dataclass, field

from insights.blocks.breakdown import OTHER_VALUE
from tests.insights.reference import matches, prop_text

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


def micros(ts: dt.datetime) -> int:
    delta = ts - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


@dataclass
class Ev:
    ts: int
    first: int
    uid: int
    steps: frozenset
    excl: frozenset
    props: dict
    session_id: str
    uuid: str


@dataclass
class Actor:
    key: tuple
    person_id: object
    level: int  # number of steps reached (1..n)
    chain: list  # the counted attempt's events
    times: dict = field(
        default_factory=dict
    )  # step k -> seconds (from the earliest-start attempt reaching k)
    breakdown: str | None = None
    starts: list = field(default_factory=list)  # (start ts, reached count) of every non-void attempt


def _filters_ok(filters, props, person_props) -> bool:
    for f in filters:
        raw = f.to_json()
        if not matches(person_props if f.type == "person" else props, raw):
            return False
    return True


def streams(events, persons, spec, start: dt.datetime, end: dt.datetime):
    """actor key -> (person_id, events in stream order)."""
    n = len(spec.steps)
    lo, hi = micros(start), micros(end) + spec.window.micros
    out: dict = {}
    for e in events:
        ts = micros(e["ts"])
        if not lo <= ts < hi:
            continue
        person_props = persons.get(e["person_id"], {})
        if not _filters_ok(spec.properties, e["props"], person_props):
            continue
        steps = frozenset(
            k
            for k, s in enumerate(spec.steps)
            if e["event"] == s.event and _filters_ok(s.properties, e["props"], person_props)
        )
        excl = frozenset(
            x
            for x, s in enumerate(spec.exclusions)
            if e["event"] == s.event and _filters_ok(s.properties, e["props"], person_props)
        )
        if spec.order != "strict" and not steps and not excl:
            continue
        agg = spec.aggregate_by
        if agg.kind == "person":
            key = (e["person_id"],)
        elif agg.kind == "session":
            if not e.get("session_id"):
                continue
            key = (e["person_id"], e["session_id"])
        else:
            value = prop_text(e["props"], agg.property)
            if value == "":
                continue
            key = (e["person_id"], value)
        uid = uuidlib.UUID(str(e["uuid"]))
        ev = Ev(
            ts,
            min(steps) if steps else n,
            uid.int,
            steps,
            excl,
            e["props"],
            e.get("session_id") or "",
            str(uid),
        )
        out.setdefault(key, (e["person_id"], []))[1].append(ev)
    # Stream order (docs/funnels.md): time, the first step matched, the exclusion and
    # step masks as integers, an event breakdown's value, then the uuid's lowest
    # 64 - steps - exclusions (- 7 with an event breakdown) bits.
    nx = len(spec.exclusions)
    bd = spec.breakdown
    by_value = bd is not None and bd.type == "event"
    tie = (1 << (64 - n - nx - (7 if by_value else 0))) - 1

    def order(x):
        value = prop_text(x.props, bd.property).encode() if by_value else b""
        return (x.ts, x.first, sum(1 << i for i in x.excl), sum(1 << k for k in x.steps), value, x.uid & tie)

    for _, evs in out.values():
        evs.sort(key=order)
    return out


def attempts(evs: list[Ev], spec, lo: int, hi: int) -> list[list[int]]:
    """Every attempt (a list of stream positions, one per reached step), in start order."""
    n, w = len(spec.steps), spec.window.micros
    out = []
    for i, e in enumerate(evs):
        if not lo <= e.ts < hi:
            continue
        if spec.order == "unordered":
            if not e.steps:
                continue
            # Walk the window in stream order and keep an event when the kept events
            # can still be matched to pairwise different steps: the k-th kept event is
            # the earliest moment at which any k steps are done by distinct events.
            kept: list[int] = []
            for q in range(i, len(evs)):
                if evs[q].ts - e.ts > w:
                    break
                if evs[q].steps and matchable([evs[p].steps for p in kept + [q]]):
                    kept.append(q)
            assert kept[0] == i
            out.append(kept)
            continue
        if 0 not in e.steps:
            continue
        chain = [i]
        for k in range(1, n):
            if spec.order == "strict":
                q = chain[-1] + 1
                q = q if q < len(evs) and k in evs[q].steps else None
            else:
                q = next((q for q in range(chain[-1] + 1, len(evs)) if k in evs[q].steps), None)
            if q is None or evs[q].ts - e.ts > w:
                break
            chain.append(q)
        out.append(chain)
    return out


def matchable(step_sets: list) -> bool:
    """Can every event (given by the set of steps it matches) take its own step?
    Plain backtracking over the events."""

    def place(k: int, used: frozenset) -> bool:
        if k == len(step_sets):
            return True
        return any(place(k + 1, used | {j}) for j in step_sets[k] if j not in used)

    return place(0, frozenset())


def exhaustive_unordered_reach(evs, spec, lo, hi) -> int:
    """Most steps any attempt can complete: over every start and every assignment of
    distinct events inside its window to distinct steps (brute force)."""
    n, w = len(spec.steps), spec.window.micros

    def most(window, k, used) -> int:
        if k == len(window) or len(used) == n:
            return len(used)
        return max([most(window, k + 1, used)] + [most(window, k + 1, used | {j}) for j in window[k] - used])

    best = 0
    for i, e in enumerate(evs):
        if e.steps and lo <= e.ts < hi:
            best = max(best, most([x.steps for x in evs[i:] if x.ts - e.ts <= w], 0, frozenset()))
    return best


def exhaustive_ordered_reach(evs, spec, lo, hi) -> int:
    """Longest chain of distinct events strictly increasing in stream order (DFS)."""
    n, w, best = len(spec.steps), spec.window.micros, 0

    def dfs(pos, k, start_ts):
        nonlocal best
        best = max(best, k)
        if k == n:
            return
        for q in range(pos + 1, len(evs)):
            if evs[q].ts - start_ts > w:
                break
            if k in evs[q].steps:
                dfs(q, k + 1, start_ts)

    for i, e in enumerate(evs):
        if 0 in e.steps and lo <= e.ts < hi:
            dfs(i, 1, e.ts)
    return best


def is_void(chain, evs, spec) -> bool:
    w = spec.window.micros
    for x, excl in enumerate(spec.exclusions):
        a, b = excl.from_step, excl.to_step
        if a >= len(chain):
            continue
        t_a = evs[chain[a]].ts
        t_end = evs[chain[b]].ts if b < len(chain) else None
        for e in evs:
            if x not in e.excl or e.ts <= t_a:
                continue
            if (t_end is not None and e.ts < t_end) or (t_end is None and e.ts <= evs[chain[0]].ts + w):
                return True
    return False


def actors(events, persons, spec, start, end) -> list[Actor]:
    lo, hi = micros(start), micros(end)
    out = []
    for key, (person_id, evs) in streams(events, persons, spec, start, end).items():
        all_attempts = attempts(evs, spec, lo, hi)
        if spec.order == "ordered" and not spec.exclusions and len(evs) <= 12:
            assert max((len(c) for c in all_attempts), default=0) == exhaustive_ordered_reach(
                evs, spec, lo, hi
            )
        if spec.order == "unordered" and not spec.exclusions and len(evs) <= 8:
            assert max((len(c) for c in all_attempts), default=0) == exhaustive_unordered_reach(
                evs, spec, lo, hi
            )
        valid = [c for c in all_attempts if not is_void(c, evs, spec)]
        if not valid:
            continue
        level = max(len(c) for c in valid)
        best = next(c for c in valid if len(c) == level)
        actor = Actor(key, person_id, level, [evs[q] for q in best])
        actor.starts = [(evs[c[0]].ts, len(c)) for c in valid]
        for k in range(1, level):
            c = next(c for c in valid if len(c) > k)
            actor.times[k] = (evs[c[k]].ts - evs[c[k - 1]].ts) / 1e6
        actor.breakdown = breakdown_value(actor, spec, persons)
        out.append(actor)
    return out


def breakdown_value(actor: Actor, spec, persons) -> str | None:
    bd = spec.breakdown
    if bd is None:
        return None
    if bd.type == "person":
        return prop_text(persons.get(actor.person_id, {}), bd.property)
    values = [prop_text(e.props, bd.property) for e in actor.chain]
    if bd.attribution == "first_touch":
        return next((v for v in values if v != ""), "")
    if bd.attribution == "last_touch":
        return next((v for v in reversed(values) if v != ""), "")
    return values[bd.attribution] if bd.attribution < len(values) else ""


def median(values):
    return statistics.median(values) if values else None


def funnel(events, persons, spec, start, end) -> list[dict]:
    """[{breakdown_value, steps: [{count, average, median}]}] like FunnelResult.rows()."""
    n = len(spec.steps)
    found = actors(events, persons, spec, start, end)
    groups: dict = {}
    for a in found:
        groups.setdefault(a.breakdown, []).append(a)
    if spec.breakdown is not None:
        ranked = sorted(groups, key=lambda v: (-len(groups[v]), v))
        top = ranked[: spec.breakdown.limit]
        merged = {v: groups[v] for v in top}
        rest = [a for v in ranked[spec.breakdown.limit :] for a in groups[v]]
        if rest:
            merged[OTHER_VALUE] = rest
        groups = merged
    rows = []
    for value, members in groups.items():
        steps = []
        for k in range(n):
            reached = [a for a in members if a.level > k]
            times = [a.times[k] for a in reached] if k else []
            steps.append(
                {
                    "count": len(reached),
                    "average": (sum(times) / len(times)) if times else None,
                    "median": median(times),
                }
            )
        rows.append({"breakdown_value": value, "steps": steps})
    return rows


def actors_at(events, persons, spec, start, end, step: int, status: str, breakdown_value=None) -> set:
    found = actors(events, persons, spec, start, end)
    if breakdown_value is not None:
        rows = funnel(events, persons, spec, start, end)
        top = {r["breakdown_value"] for r in rows} - {OTHER_VALUE}
        if breakdown_value == OTHER_VALUE:
            found = [a for a in found if a.breakdown not in top]
        else:
            found = [a for a in found if a.breakdown == breakdown_value]
    if status == "converted":
        return {a.key for a in found if a.level - 1 >= step}
    return {a.key for a in found if a.level - 1 == step - 1}
