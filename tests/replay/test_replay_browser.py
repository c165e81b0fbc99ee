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
import re
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from analytics_app import clickhouse as ch
from analytics_app.models import Membership
from governance.roles import Role
from replay.queries import session_snapshots

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


# Keep-alive fetches never show up in Playwright's network events: each test page notes
# what every fetch got back in window.__sextantCalls.
CALL_RECORDER = """  <script>
    window.__sextantCalls = [];
    const realFetch = window.fetch;
    window.fetch = function (input, init) {
      const url = typeof input === "string" ? input : input.url;
      return realFetch.apply(this, arguments).then(
        (r) => { window.__sextantCalls.push([r.status, url]); return r; },
        (e) => { window.__sextantCalls.push([0, url + " " + e]); throw e; },
      );
    };
  </script>"""


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
{CALL_RECORDER}
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
{CALL_RECORDER}
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


def poll(fetch, ready, what: str, timeout: float = WAIT_SECONDS, describe=None):
    deadline = time.monotonic() + timeout
    while True:
        result = fetch()
        if ready(result):
            return result
        if time.monotonic() > deadline:
            seen = describe(result) if describe else str(result)[-3000:]
            pytest.fail(f"{what} did not arrive within {timeout}s; last seen: {seen}")
        time.sleep(0.5)


def stored_rows(project_id: int, session_id: str) -> list[dict]:
    return ch.query(
        "SELECT window_id, event_type, data FROM session_replay_snapshots "
        "WHERE project_id = {project_id:UInt32} AND session_id = {session_id:String} ORDER BY timestamp",
        {"project_id": project_id, "session_id": session_id},
    ).dicts()


def visit(page, live_url: str, project) -> str:
    """The visitor's session; returns its session id once every part of it is stored."""
    open_shop(page, live_url, project.api_token)
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

    # posthog-js flushes its recording buffer every 2 s once it has decided to record (it
    # buffers until then, and a buffer still held when the page unloads is lost): wait until
    # the first page's interactions are stored before leaving it.
    def first_page_stored(rows):
        clicks = sum(1 for r in rows if r["event_type"] == 3 and '"source":2,"type":2,' in r["data"])
        return clicks >= 7 and any(LATER_TEXT in r["data"] for r in rows)

    poll(
        lambda: (page.mouse.move(5, 5), stored_rows(project.id, session_id))[1],
        first_page_stored,
        "the first page's recording",
        describe=lambda rows: {"rows": len(rows), "calls": page.evaluate("() => window.__sextantCalls")},
    )
    first_page_calls = page.evaluate("() => window.__sextantCalls")
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

    def summary(rows):
        kinds = {}
        for r in rows:
            kinds[r["event_type"]] = kinds.get(r["event_type"], 0) + 1
        metas = [json.loads(r["data"])["data"].get("href") for r in rows if r["event_type"] == 4]
        return {
            "types": kinds,
            "metas": metas,
            "first page calls": first_page_calls,
            "calls": page.evaluate("() => window.__sextantCalls || []"),
            "warnings": ch.query(
                "SELECT type, details FROM ingestion_warnings WHERE project_id = {project_id:UInt32}",
                {"project_id": project.id},
            ).rows,
        }

    poll(lambda: stored_rows(project.id, session_id), complete, "both pages' recordings", describe=summary)
    return session_id


@pytest.mark.skipif(not os.environ.get("SEXTANT_RECORD_FIXTURES"), reason="re-records fixtures on demand")
def test_capture_fixtures(page, app_live_server, project):
    """Record the visitor and save its rrweb events as stored (ingestion decompresses the
    posthog-js cv 2024-10 parts; tests compress them again with replay.format.compress_event)."""
    session_id = visit(page, app_live_server.url, project)
    time.sleep(3)
    rows = stored_rows(project.id, session_id)
    events = [json.loads(r["data"]) for r in rows]
    FIXTURES.mkdir(exist_ok=True)
    (FIXTURES / "posthog_js_session.json").write_text(
        json.dumps({"posthog_js": VERSION, "session_id": session_id, "events": events}, indent=1) + "\n"
    )


# ----------------------------------------------------------------- end to end


def log_in(page, user, live_url: str) -> None:
    client = Client()
    client.force_login(user)
    page.context.clear_cookies()
    page.context.add_cookies(
        [
            {
                "name": settings.SESSION_COOKIE_NAME,
                "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
                "url": live_url,
            }
        ]
    )


def reference_counts(events: list[dict]) -> dict:
    """What the visitor did, counted the obvious way from the stored rrweb events."""
    incremental = [e["data"] for e in events if e["type"] == 3]
    return {
        "clicks": sum(1 for d in incremental if d["source"] == 2 and d.get("type") == 2),
        "keys": sum(1 for d in incremental if d["source"] == 5),
        "errors": sum(1 for e in events if e["type"] == 6 and e["data"]["payload"]["level"] == "error"),
    }


def replayed(page):
    """The replayed page: rrweb's iframe inside the sandboxed replay frame."""
    return page.frame_locator("#replay-frame").frame_locator(".replayer-wrapper iframe")


def open_player(page, live_url: str, project, session_id: str, query: str = "") -> None:
    page.goto(f"{live_url}/project/{project.pk}/replay/{session_id}{query}")
    page.wait_for_selector("body[data-replay-state=paused]", timeout=WAIT_SECONDS * 1000)
    replayed(page).locator("#coupon").wait_for(state="attached")


def test_recorded_visit_is_listed_and_replays_masked_by_role(
    page, app_live_server, project, alice, make_user, tmp_path
):
    live_url = app_live_server.url
    support = make_user("sam@example.com")
    Membership.objects.create(user=support, project=project, role=Role.SUPPORT)

    # 1. A visitor types, clicks (a rage click too), logs an error and navigates, recorded by posthog-js.
    session_id = visit(page, live_url, project)
    stored = session_snapshots(project, session_id)
    expected = reference_counts(stored)
    assert expected["errors"] == 1
    assert 7 <= expected["clicks"] <= 8  # the click that navigates may leave with the page
    assert expected["keys"] >= len(TYPED_COUPON) + len(TYPED_NOTE)

    # 2. The recording is in the recordings list with the right counts.
    log_in(page, alice, live_url)
    page.goto(f"{live_url}/project/{project.pk}/replay/?date_from=-1d")
    row = page.locator(f"tr[data-session='{session_id}']")
    row.wait_for()
    cells = row.locator("td").all_inner_texts()
    assert [int(cells[i]) for i in (4, 5, 6, 7)] == [
        expected["clicks"],
        expected["keys"],
        expected["errors"],
        1,
    ]
    assert cells[8] == f"{SHOP_ORIGIN}/"
    row.get_by_role("link", name="Watch ▶").click()
    page.wait_for_url(f"**/replay/{session_id}")

    # 3. The admin's replay: at the moment after typing, the replayed input holds the typed text.
    typed_at = next(
        e["timestamp"] for e in stored if e["type"] == 3 and e["data"].get("text") == TYPED_COUPON
    )
    offset = typed_at - stored[0]["timestamp"] + 300
    open_player(page, live_url, project, session_id, f"?t={offset}")
    frame = replayed(page)
    expect(frame.locator("#coupon")).to_have_value(TYPED_COUPON)
    expect(frame.locator("h1")).to_have_text("Checkout")
    page.screenshot(path=str(tmp_path / "player-admin.png"), full_page=True)

    # Controls: play advances, pause holds, the side panel seeks, → jumps 5 s, the moment link.
    page.click("#rp-play")
    page.wait_for_selector("body[data-replay-state=playing]")
    page.wait_for_function(f"() => Number(document.body.dataset.replayOffset) > {offset + 200}")
    page.click("#rp-play")
    page.wait_for_selector("body[data-replay-state=paused]")
    page.click("#tab-console")
    error_item = page.locator("#rp-console .rp-level-error")
    expect(error_item).to_contain_text(ERROR_TEXT)
    error_offset = int(error_item.get_attribute("data-seek"))
    error_item.click()
    page.wait_for_function(
        f"() => Math.abs(Number(document.body.dataset.replayOffset) - {error_offset}) < 50"
    )
    # the paragraph added 50 ms after the click is not there yet
    expect(frame.locator("#later")).to_have_count(0)
    expect(error_item).to_have_class(re.compile(r"\brp-current\b"))
    page.locator("body").click(position={"x": 5, "y": 5})
    page.keyboard.press("ArrowRight")
    duration = page.evaluate(
        "() => JSON.parse(document.getElementById('player-config').textContent).durationMs"
    )
    jumped = min(error_offset + 5000, duration)  # clamped to the end
    page.wait_for_function(f"() => Math.abs(Number(document.body.dataset.replayOffset) - {jumped}) < 1500")
    page.click("[data-speed='16']")
    expect(page.locator("[data-speed='16']")).to_have_attribute("aria-pressed", "true")
    page.click("#rp-link")
    link = page.locator("#rp-link-url").input_value()
    assert re.fullmatch(rf"{re.escape(live_url)}/project/{project.pk}/replay/{session_id}\?t=\d+", link)

    # 4. The support user (no view-PII) replays the same moment with every typed character masked;
    # under the project's default PII policy the heading and the button stay readable, the
    # e-mail address in the page text does not (docs/replay.md, "Masking by role").
    log_in(page, support, live_url)
    open_player(page, live_url, project, session_id, f"?t={offset}")
    frame = replayed(page)
    expect(frame.locator("#coupon")).to_have_value("*" * len(TYPED_COUPON))
    expect(frame.locator("h1")).to_have_text("Checkout")
    expect(frame.locator("#buy")).to_have_text("Buy now")
    expect(frame.locator("p.intro")).to_contain_text("Signed in as *****************.")
    page.screenshot(path=str(tmp_path / "player-support.png"), full_page=True)
    content = page.content() + frame.locator("html").inner_html()
    assert TYPED_COUPON not in content and "alice@example.com" not in content

    # The replay frame runs only our script files: its CSP blocks inline script, and the
    # recorded page's own scripts never ran in the replay.
    shell = page.frame_locator("#replay-frame").locator("body")
    assert shell.evaluate(
        "() => { const s = document.createElement('script'); s.textContent = 'window.__injected = 1';"
        " document.body.appendChild(s); return window.__injected === undefined; }"
    )
    assert frame.locator("body").evaluate("() => typeof window.posthog === 'undefined'")
    assert not page.page_errors, [str(e) for e in page.page_errors]


def test_player_replays_a_stored_recording(page, app_live_server, project, alice, tmp_path):
    """The player alone, on the fixture recording stored through ingestion: it opens at ?t,
    and the timeline seeks."""
    from .test_snapshots_api import recent_events, record  # noqa: PLC0415

    events = recent_events()
    session_id = record(project, events)
    log_in(page, alice, app_live_server.url)
    open_player(page, app_live_server.url, project, session_id, "?t=100")
    frame = replayed(page)
    expect(frame.locator("h1")).to_have_text("Checkout")
    expect(frame.locator("#later")).to_have_count(0)
    later_at = (
        next(e["timestamp"] for e in events if e["type"] == 3 and e["data"]["source"] == 0)
        - events[0]["timestamp"]
    )
    box = page.locator("#rp-timeline").bounding_box()
    duration = events[-1]["timestamp"] - events[0]["timestamp"]
    fraction = (later_at + 300) / duration
    page.mouse.click(box["x"] + box["width"] * fraction, box["y"] + 5)
    expect(frame.locator("#later")).to_have_text(LATER_TEXT)
    # Space plays and pauses, also when the replay itself has the focus.
    page.keyboard.press("Space")
    page.wait_for_selector("body[data-replay-state=playing]")
    page.locator("#replay-frame").click()
    page.keyboard.press("Space")
    page.wait_for_selector("body[data-replay-state=paused]")
    page.keyboard.press("ArrowLeft")
    page.wait_for_function("() => Number(document.body.dataset.replayOffset) < 1000")
    page.screenshot(path=str(tmp_path / "player.png"), full_page=True)
    assert not page.page_errors, [str(e) for e in page.page_errors]


def test_player_switches_between_browser_windows(page, app_live_server, project, alice):
    """Two tabs of one session: each is its own rrweb recording, played one at a time on the
    session's clock."""
    from .test_snapshots_api import recent_events, record  # noqa: PLC0415

    events = recent_events()
    second_page = next(i for i, e in enumerate(events) if e["type"] == 4 and "/thanks" in e["data"]["href"])
    session_id = record(project, events[:second_page], window_id="tab-1")
    record(project, events[second_page:], session_id=session_id, window_id="tab-2")
    log_in(page, alice, app_live_server.url)
    end = events[-1]["timestamp"] - events[0]["timestamp"]
    page.goto(f"{app_live_server.url}/project/{project.pk}/replay/{session_id}?t={end}")
    page.wait_for_selector("body[data-replay-state=paused]")
    expect(page.locator("#rp-window")).to_have_value("tab-1")  # the busier window
    expect(replayed(page).locator("h1")).to_have_text("Checkout")
    page.select_option("#rp-window", "tab-2")
    page.wait_for_selector("body[data-replay-state=paused]")
    expect(replayed(page).locator("h1")).to_have_text("Thank you, Alice")
    assert page.evaluate("() => Number(document.body.dataset.replayOffset)") >= end - 100
    assert not page.page_errors, [str(e) for e in page.page_errors]


def test_capture_side_masks_all_text_when_the_project_asks(page, app_live_server, make_project, alice):
    """The remote config's maskTextSelector "*" (project.recording_mask_all_text) makes
    posthog-js mask every text before it leaves the browser."""
    project = make_project("Masked shop", members={alice: Role.ADMIN}, recording_mask_all_text=True)
    open_shop(page, app_live_server.url, project.api_token)
    session_id = page.evaluate("() => posthog.get_session_id()")
    page.click("#coupon")
    page.keyboard.type(TYPED_COUPON, delay=10)
    page.mouse.move(10, 10)
    rows = poll(
        lambda: stored_rows(project.id, session_id),
        lambda rows: any(r["event_type"] == 2 for r in rows) and any('"source":5' in r["data"] for r in rows),
        "the masked shop's full snapshot and input events",
    )
    stored = json.dumps([r["data"] for r in rows])
    assert "Checkout" not in stored and "alice@example.com" not in stored
    config = next(json.loads(r["data"]) for r in rows if '"$remote_config_received"' in r["data"])
    assert config["data"]["payload"]["masking"] == {"maskAllInputs": True, "maskTextSelector": "*"}
