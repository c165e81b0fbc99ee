"""Deterministic, realistic rrweb recordings for the demo, the tests and the benchmarks.

    events = session_events(seed=7, start_ms=1_790_000_000_000, urls=["https://shop.example/"])
    payloads = snapshot_payloads(project, "sess-1", "win-1", "user-1", events)   # like posthog-js
    write_sessions(project, [("sess-1", "win-1", "user-1", events)])           # through ingestion

A session is what posthog-js records: a meta event (href, viewport) and a full
snapshot of a plausible shop page per page view, then mouse moves, clicks (now
and then a burst of rage clicks, or a click on something that does not react),
inputs into a form, scrolls, DOM mutations, console logs/warnings/errors, and
navigations (a new meta + full snapshot, or a `$url_changed` custom event).
`snapshot_payloads` cuts the events into $snapshot chunks compressed the way
posthog-js "cv 2024-10" does, so data written through `write_sessions` takes the
same path as a browser's.
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from urllib.parse import urlsplit

from .format import compress_event

PAGES = ["/", "/products", "/products/blue-shirt", "/cart", "/checkout", "/account", "/help"]
HOST = "https://shop.example"
CONSOLE_MESSAGES = {
    "log": ["cart updated", "analytics ready", "rendered product grid"],
    "warn": ["slow network detected", "deprecated API: document.domain"],
    "error": [
        "TypeError: Cannot read properties of undefined (reading 'price')",
        "Failed to fetch /api/cart",
    ],
}


class _Ids:
    def __init__(self):
        self.n = 0

    def __call__(self) -> int:
        self.n += 1
        return self.n


def _el(ids: _Ids, tag: str, children=(), **attrs) -> dict:
    return {"type": 2, "tagName": tag, "attributes": attrs, "childNodes": list(children), "id": ids()}


def _text(ids: _Ids, text: str) -> dict:
    return {"type": 3, "textContent": text, "id": ids()}


def page_snapshot(path: str, rng: random.Random, cards: int | None = None) -> tuple[dict, dict]:
    """(full snapshot data, interesting node ids) for a shop page."""
    ids = _Ids()
    doc_id = ids()
    doctype = {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": ids()}
    nodes: dict[str, int] = {}
    links = [_el(ids, "a", [_text(ids, name.strip("/") or "Home")], href=name) for name in PAGES[:5]]
    nav = _el(ids, "nav", links, **{"class": "top-nav"})
    products = []
    for i in range(cards if cards is not None else rng.randint(3, 8)):
        price = f"{rng.randint(5, 120)}.{rng.randint(0, 99):02d} EUR"
        card = _el(
            ids,
            "div",
            [
                _el(ids, "h3", [_text(ids, f"Product {i + 1}")]),
                _el(ids, "span", [_text(ids, price)], **{"class": "price"}),
            ],
            **{"class": "card"},
        )
        products.append(card)
    email = _el(ids, "input", type="email", name="email", placeholder="you@example.com")
    name = _el(ids, "input", type="text", name="name")
    button = _el(
        ids, "button", [_text(ids, "Add to cart" if "product" in path else "Continue")], type="submit"
    )
    dead = _el(ids, "span", [_text(ids, "Free shipping over 50 EUR")], **{"class": "badge"})
    status = _el(ids, "div", [], id="status")
    form = _el(ids, "form", [email, name, button], action=path)
    main = _el(ids, "main", [_el(ids, "h1", [_text(ids, f"Shop — {path}")]), dead, *products, form, status])
    head = _el(
        ids,
        "head",
        [
            _el(ids, "title", [_text(ids, "Example shop")]),
            _el(ids, "style", [_text(ids, "body{font:14px sans-serif}")]),
        ],
    )
    body = _el(ids, "body", [nav, main, _el(ids, "footer", [_text(ids, "© Example shop")])])
    html = _el(ids, "html", [head, body], lang="en")
    nodes.update(
        button=button["id"],
        email=email["id"],
        name=name["id"],
        dead=dead["id"],
        status=status["id"],
        next_id=ids() + 1,
    )
    nodes["links"] = [link["id"] for link in links]
    return {
        "node": {"type": 0, "childNodes": [doctype, html], "id": doc_id},
        "initialOffset": {"left": 0, "top": 0},
    }, nodes


def session_events(
    seed: int,
    start_ms: int,
    urls: list[str] | None = None,
    *,
    pages: int | None = None,
    max_events: int = 400,
    cards: int | None = None,
    actions_per_page: int | None = None,
    visits: list[tuple[int, str]] | None = None,
    end_ms: int | None = None,
) -> list[dict]:
    """One session's plain rrweb events in time order (deterministic for a seed).

    `cards` sets the product cards per page (the size of each full snapshot),
    `actions_per_page` the interactions per page view (the length of the session).
    `visits` [(ms, url)] pins each page view to a time (the demo's analytics page views):
    its navigation (meta + full snapshot, or a `$url_changed` event) happens at exactly
    that millisecond and the page's interactions fill the time until the next visit, so
    the replay runs as long as the session and agrees with its events; the last page's
    until `end_ms`."""
    rng = random.Random(seed)
    urls = list(urls or [])
    if visits:
        urls = [href for _, href in visits]
        start_ms = visits[0][0]
    if not urls:
        urls = [HOST + rng.choice(PAGES) for _ in range(pages or rng.randint(1, 4))]
    t = start_ms
    events: list[dict] = []

    def emit(kind: int, data: dict, advance: int = 0) -> None:
        nonlocal t
        t += advance
        events.append({"type": kind, "data": data, "timestamp": t})

    for page_index, href in enumerate(urls):
        path = urlsplit(href).path or "/"
        snapshot, nodes = page_snapshot(path, rng, cards)
        until = None
        if visits:
            t = visits[page_index][0]
            until = visits[page_index + 1][0] if page_index + 1 < len(visits) else end_ms
        pinned = 0 if visits else None
        if page_index and rng.random() < 0.3:
            emit(
                5,
                {"tag": "$url_changed", "payload": {"href": href}},
                pinned if visits else rng.randint(50, 400),
            )
        else:
            advance = rng.randint(50, 400) if page_index else 0
            emit(4, {"href": href, "width": 1280, "height": 800}, 0 if visits else advance)
            emit(2, snapshot, rng.randint(0, 20))
        next_id = nodes["next_id"]
        budget = actions_per_page or rng.randint(4, 14)
        if until is not None:  # a pinned page: act until shortly before the next visit
            budget = 10_000
        for _ in range(budget):
            if len(events) >= max_events or (until is not None and t >= until - 2_000):
                break
            if until is not None:  # a real session reads between actions (and stays small)
                t += rng.randint(1_000, 8_000)
            action = rng.random()
            if action < 0.3:  # mouse path
                positions = [
                    {
                        "x": rng.randint(0, 1280),
                        "y": rng.randint(0, 800),
                        "id": rng.randint(1, 40),
                        "timeOffset": -50 * k,
                    }
                    for k in range(rng.randint(1, 6))
                ]
                emit(3, {"source": 1, "positions": positions}, rng.randint(100, 1500))
            elif action < 0.5:  # click on the button, and the page reacts
                x, y = rng.randint(100, 400), rng.randint(300, 500)
                emit(
                    3, {"source": 2, "type": 0, "id": nodes["button"], "x": x, "y": y}, rng.randint(200, 2000)
                )
                emit(3, {"source": 2, "type": 1, "id": nodes["button"], "x": x, "y": y}, rng.randint(30, 120))
                emit(3, {"source": 2, "type": 2, "id": nodes["button"], "x": x, "y": y}, 0)
                emit(
                    3,
                    {
                        "source": 0,
                        "texts": [],
                        "attributes": [],
                        "removes": [],
                        "adds": [
                            {
                                "parentId": nodes["status"],
                                "nextId": None,
                                "node": {"type": 3, "textContent": "Saved!", "id": next_id},
                            }
                        ],
                    },
                    rng.randint(20, 300),
                )
                next_id += 1
            elif action < 0.515:  # rage: 3-5 quick clicks on a badge that never reacts
                x, y = rng.randint(500, 700), rng.randint(100, 200)
                for k in range(rng.randint(3, 5)):
                    emit(
                        3,
                        {
                            "source": 2,
                            "type": 2,
                            "id": nodes["dead"],
                            "x": x + rng.randint(-3, 3),
                            "y": y + rng.randint(-3, 3),
                        },
                        rng.randint(1500, 3000) if k == 0 else rng.randint(80, 250),
                    )
            elif action < 0.68:  # type into the form
                field = rng.choice(["email", "name"])
                emit(
                    3,
                    {"source": 2, "type": 2, "id": nodes[field], "x": 200, "y": 420},
                    rng.randint(500, 2000),
                )
                text = ""
                word = "jane.doe@example.com" if field == "email" else "Jane Doe"
                for ch in word[: rng.randint(3, len(word))]:
                    text += ch
                    emit(
                        3,
                        {"source": 5, "text": text, "isChecked": False, "id": nodes[field]},
                        rng.randint(60, 300),
                    )
            elif action < 0.84:  # scroll
                emit(3, {"source": 3, "id": 1, "x": 0, "y": rng.randint(0, 2400)}, rng.randint(300, 3000))
            elif action < 0.93:  # console
                level = rng.choices(["log", "warn", "error"], [7, 2, 1])[0]
                message = rng.choice(CONSOLE_MESSAGES[level])
                emit(
                    6,
                    {
                        "plugin": "rrweb/console@1",
                        "payload": {"level": level, "trace": [], "payload": [f'"{message}"']},
                    },
                    rng.randint(100, 2000),
                )
            else:  # idle: the reader is reading
                t += rng.randint(5000, 20000)
        if until is not None:  # the page's last action may not run into the next visit
            while events and events[-1]["timestamp"] >= until:
                events.pop()
    return events


def uuid7(ms: int, rng: random.Random) -> uuid.UUID:
    """A UUIDv7 for a millisecond (time-ordered, as posthog-js makes chunk uuids)."""
    value = (
        (ms & (2**48 - 1)) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64 | 0b10 << 62 | rng.getrandbits(62)
    )
    return uuid.UUID(int=value)


def snapshot_payloads(
    token: str,
    session_id: str,
    window_id: str,
    distinct_id: str,
    events: list[dict],
    *,
    chunk_events: int = 50,
    seed: int = 0,
) -> list[dict]:
    """$snapshot events as posthog-js sends them to /s/ (cv 2024-10 compressed), one per chunk."""
    rng = random.Random(f"{session_id}/{seed}")
    chunks = []
    for start in range(0, len(events), chunk_events):
        part = [compress_event(e) for e in events[start : start + chunk_events]]
        chunks.append(
            {
                "uuid": str(uuid7(part[0]["timestamp"], rng)),
                "event": "$snapshot",
                "properties": {
                    "$snapshot_data": part,
                    "$session_id": session_id,
                    "$window_id": window_id,
                    "$snapshot_bytes": sum(len(str(e)) for e in part),
                    "token": token,
                    "distinct_id": distinct_id,
                },
                "timestamp": dt.datetime.fromtimestamp(part[-1]["timestamp"] / 1000, dt.UTC).isoformat(),
            }
        )
    return chunks


USER_AGENT = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
)


def write_sessions(project, sessions, *, user_agent: str = USER_AGENT, now: dt.datetime | None = None) -> int:
    """Store sessions [(session_id, window_id, distinct_id, events)] through the ingestion path
    (process_snapshots + write_jobs, so summaries are refreshed). Returns rrweb events stored."""
    from ingestion.processing import RequestContext  # noqa: PLC0415
    from ingestion.writer import write_jobs  # noqa: PLC0415

    from .ingest import process_snapshots  # noqa: PLC0415

    ctx = RequestContext(now=now or dt.datetime.now(dt.UTC), user_agent=user_agent)
    jobs = []
    count = 0
    for session_id, window_id, distinct_id, events in sessions:
        job, _ = process_snapshots(
            snapshot_payloads(project.api_token, session_id, window_id, distinct_id, events), project, ctx
        )
        jobs.append(job)
        count += len(job.snapshots)
        if sum(len(j.snapshots) for j in jobs) > 20_000:
            write_jobs(jobs)
            jobs = []
    if jobs:
        write_jobs(jobs)
    return count


def demo_step(project, options) -> str | None:
    """manage.py demo_setup's recordings step (registered in ReplayConfig.ready): `--recordings`
    of the demo's recent sessions, once (not when the project has recordings already)."""
    from analytics_app import clickhouse as ch  # noqa: PLC0415

    recorded = ch.query(
        "SELECT count() FROM session_replay_summaries WHERE project_id = {project_id:UInt32}",
        {"project_id": project.pk},
    ).scalar()
    if not recorded and options["recordings"]:
        written = demo_recordings(project, options["recordings"])
        return f"{written} demo session recordings"
    return None


def demo_recordings(project, count: int = 300, days: int = 14) -> int:
    """Record `count` of the project's recent analytics sessions (the demo data's), so the
    list, the player and deep links from insights find recordings. Returns sessions written."""
    from analytics_app import clickhouse as ch  # noqa: PLC0415

    from .queries import DEMO_SESSIONS_SQL  # noqa: PLC0415

    rows = ch.query(DEMO_SESSIONS_SQL, {"project_id": project.id, "days": days, "limit": count}).rows
    sessions = []
    for session_id, distinct_id, window_id, start, end, timeline in rows:
        seed = int(uuid.uuid5(uuid.NAMESPACE_URL, session_id).int % 2**32)
        end_ms = int(end.timestamp() * 1000) + 1000
        visits = _visits(int(start.timestamp() * 1000), timeline)
        if visits:
            # in real time: each page view is a navigation at its own time (max_events
            # bounds a long session's size; its later pages still navigate on time)
            events = session_events(seed, visits[0][0], visits=visits, end_ms=end_ms, max_events=1_500)
        else:
            events = session_events(seed, int(start.timestamp() * 1000) - 300)
        if events[-1]["timestamp"] < end_ms:  # the recording covers the session's analytics events
            events.append(
                {
                    "type": 3,
                    "data": {"source": 1, "positions": [{"x": 640, "y": 400, "id": 1, "timeOffset": 0}]},
                    "timestamp": end_ms,
                }
            )
        sessions.append((session_id, window_id or "demo-window", distinct_id, events))
    write_sessions(project, sessions)
    return len(sessions)


def _visits(start_ms: int, timeline) -> list[tuple[int, str]]:
    """[(ms, url)] of a session's page views from its events' sorted (time, url, event):
    each $pageview (a reload too), or, in a session without any, each change of URL. The
    first visit starts with the session's first event, so the recording covers it all."""
    rows = [(int(ts.timestamp() * 1000), url, event) for ts, url, event in timeline if url]
    visits = [(ms, url) for ms, url, event in rows if event == "$pageview"]
    if not visits:
        for ms, url, _ in rows:
            if not visits or visits[-1][1] != url:
                visits.append((ms, url))
    if visits and start_ms < visits[0][0]:  # events before the first page view: its page, loaded
        visits.insert(0, (start_ms, visits[0][1]))
    return visits
