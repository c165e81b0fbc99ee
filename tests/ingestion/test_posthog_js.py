"""The real posthog-js, in headless Chromium, against a live Sextant.

The shop page comes from another origin than Sextant (Playwright fulfils it), so
every call the SDK makes is cross-origin, exactly as on a customer's site: remote
config (config.js), the lazy-loaded recorder, /e/ and /i/v0/e/ events and /s/
recordings. Run with the browser plugin: ``pytest -p tests.browser -m browser``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from django.conf import settings

from analytics_app import clickhouse as ch

VERSION = (Path(settings.BASE_DIR) / "static" / "vendor" / "posthog-js" / "VERSION").read_text().strip()
# A different origin from Sextant's, so CORS is exercised. *.localhost is a secure context,
# and open_shop() grants it Local Network Access: a page Playwright fulfils counts as
# public, and Chromium would otherwise block its calls to Sextant on loopback.
SHOP_ORIGIN = "http://shop.localhost"
SECRET_INPUT = "hunter2-secret"
WAIT_SECONDS = 60  # generous: on a loaded 2-core machine the recorder may flush late; polls return early

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shop_page(live_url: str, token: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sextant test shop</title></head>
<body>
  <h1>Checkout</h1>
  <p class="intro">Thanks for shopping with us.</p>
  <label for="coupon">Coupon</label> <input id="coupon" name="coupon" type="text">
  <button id="buy" type="button">Buy now</button>
  <script>
    // Keep-alive fetches (all capture calls) never show up in Playwright's network
    // events, so the page notes what every fetch the SDK made got back.
    window.__sextantCalls = [];
    const realFetch = window.fetch;
    window.fetch = function (input, init) {{
      const url = typeof input === "string" ? input : input.url;
      const method = (init && init.method) || "GET";
      return realFetch.apply(this, arguments).then(
        (r) => {{ window.__sextantCalls.push([r.status, method, url]); return r; }},
        (e) => {{ window.__sextantCalls.push([0, method, url + " " + e]); throw e; }},
      );
    }};
  </script>
  <script src="{live_url}/static/vendor/posthog-js/{VERSION}/array.js"></script>
  <script>
    posthog.init({json.dumps(token)}, {{
      api_host: {json.dumps(live_url)},
      person_profiles: "identified_only",
      opt_out_useragent_filter: true,  // HeadlessChrome would be dropped as a bot
      session_recording: {{}},
    }});
    document.getElementById("buy").addEventListener("click", function () {{
      posthog.capture("checkout clicked", {{plan: "pro", price: 42}});
    }});
  </script>
</body>
</html>"""


def open_shop(page, live_url: str, token: str) -> None:
    page.context.grant_permissions(["local-network-access"], origin=SHOP_ORIGIN)
    page.route(
        f"{SHOP_ORIGIN}/**",
        lambda route: (
            route.fulfill(
                status=200, content_type="text/html; charset=utf-8", body=shop_page(live_url, token)
            )
            if route.request.url.rstrip("/") == SHOP_ORIGIN
            else route.fulfill(status=404, body="")
        ),
    )
    page.goto(f"{SHOP_ORIGIN}/")
    page.wait_for_function("() => window.posthog && window.posthog.__loaded")


def poll(fetch, ready, what: str, timeout: float = WAIT_SECONDS):
    """Call fetch() until ready(result) or the timeout; then fail saying what never arrived."""
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if ready(result):
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not arrive within {timeout}s; last seen: {result!r}")
        time.sleep(0.5)


def project_events(project_id: int) -> list[dict]:
    return ch.query(
        "SELECT event, distinct_id, toString(person_id) AS person_id, session_id, toString(properties) AS properties "
        "FROM events WHERE project_id = {project_id:UInt32} ORDER BY timestamp",
        {"project_id": project_id},
    ).dicts()


def person_of(project_id: int) -> dict[str, str]:
    rows = ch.query(
        "SELECT distinct_id, toString(argMax(person_id, version)) AS person_id "
        "FROM person_distinct_ids WHERE project_id = {project_id:UInt32} "
        "GROUP BY distinct_id HAVING argMax(is_deleted, version) = 0",
        {"project_id": project_id},
    ).dicts()
    return {r["distinct_id"]: r["person_id"] for r in rows}


def snapshot_types(project_id: int, session_id: str) -> dict[int, int]:
    rows = ch.query(
        "SELECT event_type, count() AS n FROM session_replay_snapshots "
        "WHERE project_id = {project_id:UInt32} AND session_id = {session_id:String} GROUP BY event_type",
        {"project_id": project_id, "session_id": session_id},
    ).dicts()
    return {int(r["event_type"]): int(r["n"]) for r in rows}


def test_posthog_js_events_identify_and_recording(page, app_live_server, project, tmp_path):
    live_url = app_live_server.url
    sextant_responses: list[tuple[int, str, str]] = []
    page.context.on(
        "response",
        lambda r: (
            sextant_responses.append((r.status, r.request.method, r.url))
            if r.url.startswith(live_url)
            else None
        ),
    )
    page.context.on(
        "requestfailed", lambda r: sextant_responses.append((0, r.method, f"{r.url} {r.failure}"))
    )
    open_shop(page, live_url, project.api_token)
    # Remote config arrived (config.js), the recorder was lazy-loaded and runs.
    page.wait_for_function("() => window.posthog.sessionRecordingStarted()", timeout=WAIT_SECONDS * 1000)
    anon_id = page.evaluate("() => posthog.get_distinct_id()")
    session_id = page.evaluate("() => posthog.get_session_id()")
    assert anon_id and session_id

    page.fill("#coupon", SECRET_INPUT)
    page.click("#buy")
    page.screenshot(path=str(tmp_path / "shop-while-recording.png"))  # kept by pytest's tmp_path
    page.evaluate("() => posthog.identify('user@example.com', {email: 'user@example.com', plan: 'pro'})")
    page.click("#buy")  # a second click as the identified user, while recording keeps going

    events = poll(
        lambda: project_events(project.id),
        lambda rows: (
            {"$pageview", "$identify"} <= {r["event"] for r in rows}
            and sum(r["event"] == "checkout clicked" for r in rows) >= 2
        ),
        "$pageview, two 'checkout clicked' and $identify",
    )
    by_name: dict[str, list[dict]] = {}
    for row in events:
        by_name.setdefault(row["event"], []).append(row)

    pageview = by_name["$pageview"][0]
    assert pageview["distinct_id"] == anon_id
    assert pageview["session_id"] == session_id
    assert json.loads(pageview["properties"])["$current_url"] == f"{SHOP_ORIGIN}/"

    clicks = by_name["checkout clicked"]
    assert [c["distinct_id"] for c in clicks] == [anon_id, "user@example.com"]
    assert json.loads(clicks[0]["properties"])["plan"] == "pro"

    identify = by_name["$identify"][0]
    assert identify["distinct_id"] == "user@example.com"
    assert json.loads(identify["properties"])["$anon_distinct_id"] == anon_id

    persons = poll(
        lambda: person_of(project.id),
        lambda m: anon_id in m and "user@example.com" in m,
        "person_distinct_ids rows for both ids",
    )
    assert persons[anon_id] == persons["user@example.com"], persons

    types = poll(
        lambda: snapshot_types(project.id, session_id),
        lambda t: 2 in t and 3 in t,
        "recording chunks with an rrweb full snapshot (type 2) and incremental events (type 3)",
    )
    assert types[2] >= 1
    assert 4 in types  # Meta

    # The typed coupon was recorded as rrweb input events (incremental source 5), masked
    # (remote config says maskAllInputs), and is in no stored rrweb event as clear text.
    input_texts = poll(
        lambda: ch.query(
            "SELECT JSONExtractString(data, 'data', 'text') AS text FROM session_replay_snapshots "
            "WHERE project_id = {project_id:UInt32} AND event_type = 3 "
            "AND JSONExtractInt(data, 'data', 'source') = 5",
            {"project_id": project.id},
        ).column("text"),
        bool,
        "rrweb input events for the coupon field",
    )
    assert all(set(text) <= {"*"} for text in input_texts), input_texts
    leaked = ch.query(
        "SELECT count() FROM session_replay_snapshots "
        "WHERE project_id = {project_id:UInt32} AND position(data, {secret:String}) > 0",
        {"project_id": project.id, "secret": SECRET_INPUT},
    ).scalar()
    assert leaked == 0

    # The recording chunks are stored before their response reaches the browser: wait for
    # it (page.wait_for_timeout lets Playwright deliver the response events; sleep does not).
    for _ in range(WAIT_SECONDS * 4):
        if any("/s/" in r[2] for r in sextant_responses):
            break
        page.wait_for_timeout(250)
    sextant_responses += [
        tuple(c) for c in page.evaluate("() => window.__sextantCalls") if c[2].startswith(live_url)
    ]
    failures = [r for r in sextant_responses if r[0] == 0 or r[0] >= 400]
    assert not failures, f"requests to Sextant failed: {failures}\nall: {sextant_responses}"
    sdk_errors = [
        m.text
        for m in page.console_messages
        if m.type == "error" and ("posthog" in m.text.lower() or "[PostHog" in m.text)
    ]
    assert not sdk_errors, sdk_errors
    assert not page.page_errors, [str(e) for e in page.page_errors]
    # The whole chain went through Sextant: config.js, the versioned recorder, capture and replay.
    paths = {url[len(live_url) :].split("?")[0] for _, _, url in sextant_responses}
    assert f"/array/{project.api_token}/config.js" in paths
    assert f"/static/{VERSION}/lazy-recorder.js" in paths
    assert "/s/" in paths, sextant_responses
    assert "/e/" in paths or "/i/v0/e/" in paths, sextant_responses


def test_recording_off_sends_no_snapshots(page, app_live_server, make_project):
    project = make_project("No replay", recording_enabled=False)
    live_url = app_live_server.url
    requested: list[str] = []
    page.on("request", lambda r: requested.append(r.url) if r.url.startswith(live_url) else None)
    open_shop(page, live_url, project.api_token)
    page.click("#buy")
    poll(
        lambda: project_events(project.id),
        lambda rows: "checkout clicked" in {r["event"] for r in rows},
        "'checkout clicked'",
    )
    assert page.evaluate("() => posthog.sessionRecordingStarted()") is False
    assert not any("/s/" in url or "lazy-recorder" in url for url in requested), requested
    assert snapshot_types(project.id, page.evaluate("() => posthog.get_session_id()")) == {}
