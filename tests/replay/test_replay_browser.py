"""Session replay end to end, in headless Chromium with the real posthog-js.

A visitor on a shop (another origin, fulfilled by Playwright as in
tests/ingestion/test_posthog_js.py) types into inputs, clicks, triggers a console
error and navigates, while posthog-js records. The recording must then show up
in the recordings list with the right counts, and the player page must replay
it: with the typed text masked for a support user (no view-PII) and visible for
an admin.

``SEXTANT_RECORD_FIXTURES=1 pytest -p tests.browser tests/replay/test_replay_browser.py -k capture``
re-records tests/replay/fixtures/*.json (the real rrweb data the masking tests use).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from django.conf import settings

from analytics_app import clickhouse as ch

VERSION = (Path(settings.BASE_DIR) / "static" / "vendor" / "posthog-js" / "VERSION").read_text().strip()
SHOP_ORIGIN = "http://shop.localhost"
FIXTURES = Path(__file__).parent / "fixtures"
WAIT_SECONDS = 40

# What the visitor types and what the page shows: every one must be masked for support.
TYPED_COUPON = "SECRETCOUPON42"
TYPED_NOTE = "leave at door 7"
LATER_TEXT = "Order for Alice Smith confirmed"
CHANGED_TEXT = "Paid by Alice"
CONSOLE_TEXT = "checkout for alice@example.com"
ERROR_TEXT = "Payment failed for alice@example.com"
THANKS_QUERY = "order=42&email=alice%40example.com"

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def shop_html(live_url: str, token: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Sextant replay shop</title>
<style>body {{ font-family: sans-serif; margin: 2em; }} #buy {{ background: #2563eb; color: white; padding: .5em 1em; }}</style>
</head>
<body>
  <h1>Checkout</h1>
  <p class="intro">Signed in as alice@example.com. Help: https://shop.localhost/help?token=abc123</p>
  <p id="status">Not paid yet</p>
  <label for="coupon">Coupon</label> <input id="coupon" name="coupon" type="text" placeholder="Your coupon code">
  <label for="email">Email</label> <input id="email" name="email" type="email" value="prefilled@example.com">
  <label for="pw">Password</label> <input id="pw" type="password" value="pw-secret">
  <textarea id="note">initial note text</textarea>
  <select id="ship"><option value="std">Standard shipping</option><option value="exp">Express shipping</option></select>
  <button id="buy" type="button">Buy now</button>
  <a id="thanks" href="/thanks?{THANKS_QUERY}">Continue</a>
  <div id="log"></div>
  <script>
    // Keep-alive fetches never show up in Playwright's network events: note what each got back.
    window.__sextantCalls = [];
    const realFetch = window.fetch;
    window.fetch = function (input, init) {{
      const url = typeof input === "string" ? input : input.url;
      return realFetch.apply(this, arguments).then(
        (r) => {{ window.__sextantCalls.push([r.status, url]); return r; }},
        (e) => {{ window.__sextantCalls.push([0, url + " " + e]); throw e; }},
      );
    }};
  </script>
  <script src="{live_url}/static/vendor/posthog-js/{VERSION}/array.js"></script>
  <script>
    posthog.init({json.dumps(token)}, {{
      api_host: {json.dumps(live_url)},
      person_profiles: "identified_only",
      opt_out_useragent_filter: true,
      // This shop chose to record what visitors type (the project default masks inputs):
      // Sextant must mask it server-side for viewers without view-PII.
      session_recording: {{ maskAllInputs: false }},
    }});
    document.getElementById("buy").addEventListener("click", function () {{
      posthog.capture("checkout clicked", {{plan: "pro"}});
      console.log({json.dumps(CONSOLE_TEXT)}, {{card: "4111"}});
      console.error({json.dumps(ERROR_TEXT)});
      setTimeout(function () {{
        const p = document.createElement("p");
        p.id = "later";
        p.textContent = {json.dumps(LATER_TEXT)};
        document.getElementById("log").appendChild(p);
        document.getElementById("status").firstChild.nodeValue = {json.dumps(CHANGED_TEXT)};
        document.getElementById("email").setAttribute("value", "changed@example.com");
      }}, 50);
    }});
  </script>
</body>
</html>"""


def thanks_html(live_url: str, token: str) -> str:
    return f"""<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Thanks</title></head>
<body>
  <h1>Thank you, Alice</h1>
  <p id="summary">Your order 42 is on its way.</p>
  <script>
    // Keep-alive fetches never show up in Playwright's network events: note what each got back.
    window.__sextantCalls = [];
    const realFetch = window.fetch;
    window.fetch = function (input, init) {{
      const url = typeof input === "string" ? input : input.url;
      return realFetch.apply(this, arguments).then(
        (r) => {{ window.__sextantCalls.push([r.status, url]); return r; }},
        (e) => {{ window.__sextantCalls.push([0, url + " " + e]); throw e; }},
      );
    }};
  </script>
  <script src="{live_url}/static/vendor/posthog-js/{VERSION}/array.js"></script>
  <script>
    posthog.init({json.dumps(token)}, {{
      api_host: {json.dumps(live_url)}, person_profiles: "identified_only",
      opt_out_useragent_filter: true, session_recording: {{ maskAllInputs: false }},
    }});
  </script>
</body>
</html>"""


def open_shop(page, live_url: str, token: str) -> None:
    def fulfil(route):
        path = route.request.url[len(SHOP_ORIGIN) :].split("?")[0]
        if path in ("", "/"):
            body = shop_html(live_url, token)
        elif path == "/thanks":
            body = thanks_html(live_url, token)
        else:
            return route.fulfill(status=404, body="")
        return route.fulfill(status=200, content_type="text/html; charset=utf-8", body=body)

    page.context.grant_permissions(["local-network-access"], origin=SHOP_ORIGIN)
    page.route(f"{SHOP_ORIGIN}/**", fulfil)
    page.goto(f"{SHOP_ORIGIN}/")
    page.wait_for_function("() => window.posthog && window.posthog.__loaded")
    page.wait_for_function("() => window.posthog.sessionRecordingStarted()", timeout=WAIT_SECONDS * 1000)


def poll(fetch, ready, what: str, timeout: float = WAIT_SECONDS):
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if ready(result):
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not arrive within {timeout}s; last seen: {str(result)[-3000:]}")
        time.sleep(0.5)


def stored_rows(project_id: int, session_id: str) -> list[dict]:
    return ch.query(
        "SELECT window_id, event_type, data FROM session_replay_snapshots "
        "WHERE project_id = {project_id:UInt32} AND session_id = {session_id:String} ORDER BY timestamp",
        {"project_id": project_id, "session_id": session_id},
    ).dicts()


def visit(page, live_url: str, token: str) -> str:
    """The visitor's session; returns its session id once every part of it is stored."""
    open_shop(page, live_url, token)
    session_id = page.evaluate("() => posthog.get_session_id()")
    page.wait_for_timeout(300)
    page.click("#coupon")
    page.keyboard.type(TYPED_COUPON, delay=20)
    page.click("#note")
    page.keyboard.press("End")
    page.keyboard.type(" " + TYPED_NOTE, delay=20)
    page.select_option("#ship", "exp")
    page.click("#buy")
    page.wait_for_selector("#later")
    for _ in range(4):  # a rage click: 3+ clicks on one spot within a second
        page.click("h1", delay=10)
    page.mouse.wheel(0, 200)
    page.wait_for_timeout(2500)  # posthog-js flushes its recording buffer every 2 s
    page.click("#thanks")
    page.wait_for_url(f"{SHOP_ORIGIN}/thanks?*")
    page.wait_for_function("() => window.posthog && window.posthog.sessionRecordingStarted()")
    assert page.evaluate("() => posthog.get_session_id()") == session_id
    page.evaluate("() => { document.getElementById('summary').textContent = 'Shipped to Alice Smith'; }")
    # posthog-js sends the new page's recording once the visitor moves; give it two flushes.
    page.mouse.move(100, 100)
    page.mouse.move(300, 200, steps=5)
    page.wait_for_timeout(5000)

    def complete(rows):
        metas = [json.loads(r["data"]) for r in rows if r["event_type"] == 4]
        thanks_page = any("/thanks" in str((m.get("data") or {}).get("href", "")) for m in metas)
        return (
            thanks_page
            and sum(r["event_type"] == 2 for r in rows) >= 2
            and any("Shipped" in r["data"] for r in rows)
        )

    poll(lambda: stored_rows(ch_project_id(page), session_id), complete, "both pages' recordings")
    return session_id


def ch_project_id(page) -> int:
    return page._sextant_project_id


@pytest.mark.skipif(not os.environ.get("SEXTANT_RECORD_FIXTURES"), reason="re-records fixtures on demand")
def test_capture_fixtures(page, app_live_server, project):
    """Record the visitor and save the stored rrweb events (as received) as fixtures."""
    page._sextant_project_id = project.id
    session_id = visit(page, app_live_server.url, project.api_token)
    time.sleep(3)
    rows = stored_rows(project.id, session_id)
    events = [json.loads(r["data"]) for r in rows]
    FIXTURES.mkdir(exist_ok=True)
    (FIXTURES / "posthog_js_session.json").write_text(
        json.dumps({"posthog_js": VERSION, "session_id": session_id, "events": events}, indent=1) + "\n"
    )
