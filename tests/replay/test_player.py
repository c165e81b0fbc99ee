"""The player page /project/<id>/replay/<session_id> and its replay frame /replay/frame/."""

from __future__ import annotations

import datetime as dt
import html
import json
import re

import pytest
from django.test import Client

from analytics_app.models import Membership
from governance.roles import Role

from .test_snapshots_api import recent_events, record


def page_url(project, session_id: str, query: str = "") -> str:
    return f"/project/{project.pk}/replay/{session_id}{query}"


def config_of(response) -> dict:
    match = re.search(
        r'<script type="application/json" id="player-config">(.*?)</script>', response.content.decode(), re.S
    )
    return json.loads(match.group(1))


@pytest.fixture
def session(project, events):
    recorded = recent_events()
    session_id = record(project, recorded, distinct_id="visitor-1")
    start_ms = recorded[0]["timestamp"]
    at = lambda ms: dt.datetime.fromtimestamp((start_ms + ms) / 1000, dt.UTC)  # noqa: E731
    props = {
        "$session_id": session_id,
        "$current_url": "https://shop.example/checkout?email=alice@example.com",
    }
    events.add("$pageview", "visitor-1", at(100), props)
    events.add("checkout clicked", "visitor-1", at(1500), {**props, "email": "alice@example.com"})
    events.add("other session", "visitor-1", at(1600), {"$session_id": "another-session"})
    events.flush()
    return session_id, recorded


@pytest.fixture
def support_client(client, make_user, project):
    support = make_user("sam@example.com")
    Membership.objects.create(user=support, project=project, role=Role.SUPPORT)
    client.force_login(support)
    return client


def test_page_renders_the_player_frame_controls_heatbar_and_panels(alice_client, project, session):
    session_id, recorded = session
    response = alice_client.get(page_url(project, session_id))
    assert response.status_code == 200
    body = response.content.decode()
    sandbox = re.search(r'<iframe id="replay-frame"[^>]* sandbox="([^"]*)"', body).group(1)
    assert sorted(sandbox.split()) == [
        "allow-same-origin",
        "allow-scripts",
    ]  # no forms, popups, top navigation
    for speed in (1, 2, 4, 8, 16):
        assert f'data-speed="{speed}"' in body
    assert 'id="rp-skip"' in body and 'id="rp-link"' in body
    assert re.search(r'<svg class="rp-heat"[^>]*><path d="M0,40 [^"]+Z"/>', body)
    config = config_of(response)
    assert config["snapshotsUrl"] == f"/api/projects/{project.pk}/recordings/{session_id}/snapshots/"
    assert config["durationMs"] == recorded[-1]["timestamp"] - recorded[0]["timestamp"]
    assert config["startOffset"] == 0
    assert config["momentUrl"].endswith(page_url(project, session_id))


def test_side_panel_lists_this_sessions_events_and_console_logs_with_offsets(alice_client, project, session):
    session_id, recorded = session
    body = alice_client.get(page_url(project, session_id)).content.decode()
    events_panel = body.split('id="rp-events"')[1].split("</ol>")[0]
    assert "$pageview" in events_panel and "checkout clicked" in events_panel
    assert "other session" not in events_panel
    assert 'data-seek="100"' in events_panel and 'data-seek="1500"' in events_panel
    console_panel = body.split('id="rp-console"')[1].split("</ol>")[0]
    assert "Payment failed for alice@example.com" in html.unescape(console_panel)
    error_at = next(
        e["timestamp"] for e in recorded if e["type"] == 6 and e["data"]["payload"]["level"] == "error"
    )
    assert f'data-seek="{error_at - recorded[0]["timestamp"]}"' in console_panel
    pages_panel = html.unescape(body.split('id="rp-pages"')[1].split("</ol>")[0])
    assert "http://shop.localhost/thanks?order=42&email=alice%40example.com" in pages_panel
    assert "rp-tick-console_error" in body and "rp-tick-rage_click" in body


def test_support_sees_masked_console_urls_and_properties(support_client, project, session):
    session_id, _ = session
    response = support_client.get(page_url(project, session_id))
    assert response.status_code == 200
    body = html.unescape(response.content.decode())
    assert "alice@example.com" not in body
    assert "alice%40example.com" not in body
    assert "Payment failed for *****************" in body  # the error stays readable, the e-mail not
    assert "thanks?order=**&email=" in body  # the page list keeps the path and parameter names


def test_t_opens_at_a_moment_and_is_clamped(alice_client, project, session):
    session_id, recorded = session
    duration = recorded[-1]["timestamp"] - recorded[0]["timestamp"]
    assert config_of(alice_client.get(page_url(project, session_id, "?t=1234")))["startOffset"] == 1234
    assert (
        config_of(alice_client.get(page_url(project, session_id, f"?t={duration + 99999}")))["startOffset"]
        == duration
    )


def test_at_epoch_ms_becomes_an_offset(alice_client, project, session):
    session_id, recorded = session
    start = recorded[0]["timestamp"]
    assert (
        config_of(alice_client.get(page_url(project, session_id, f"?at={start + 2500}")))["startOffset"]
        == 2500
    )
    assert (
        config_of(alice_client.get(page_url(project, session_id, f"?at={start - 60000}")))["startOffset"] == 0
    )


@pytest.mark.parametrize("query", ["?t=abc", "?t=-5", "?at=1.5", "?at=99999999999999999999"])
def test_bad_t_or_at_is_400(alice_client, project, session, query):
    response = alice_client.get(page_url(project, session[0], query))
    assert response.status_code == 400
    assert b"milliseconds" in response.content or b"out of range" in response.content


def test_person_and_other_recordings(alice_client, project, session):
    session_id, recorded = session
    later = [{**e, "timestamp": e["timestamp"] + 3_600_000} for e in recorded]
    other_id = record(project, later, distinct_id="visitor-1")
    body = alice_client.get(page_url(project, session_id)).content.decode()
    person = body.split('class="card rp-person"')[1].split("</section>")[0]
    assert "visitor-1" in person
    assert page_url(project, other_id) in person
    assert page_url(project, session_id) + '"' not in person  # not itself


def test_exec_without_view_recordings_is_403(client, bob, project, session):
    client.force_login(bob)
    assert client.get(page_url(project, session[0])).status_code == 403


def test_stranger_is_404(client, charlie, project, other_project, session):
    client.force_login(charlie)
    assert client.get(page_url(project, session[0])).status_code == 404


def test_anonymous_is_sent_to_login(client, project, session):
    response = client.get(page_url(project, session[0]))
    assert response.status_code == 302 and "login" in response["Location"]


def test_unknown_session_is_404(alice_client, project, session):
    assert alice_client.get(page_url(project, "never-recorded")).status_code == 404


def test_malformed_session_id_is_400(alice_client, project):
    assert alice_client.get(page_url(project, "semi;colon")).status_code == 400


def test_frame_is_a_static_page_with_a_strict_csp(client):
    response = client.get("/replay/frame/")
    assert response.status_code == 200
    csp = response["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "connect-src 'none'" in csp and "default-src 'none'" in csp
    body = response.content.decode()
    assert "rrweb-player.min.js" in body and "replay/frame.js" in body
    assert "<script>" not in body  # no inline script: the CSP forbids it


def test_an_email_distinct_id_is_masked_for_support(support_client, alice, project):
    session_id = record(project, recent_events(), distinct_id="ann@example.com")
    assert "ann@example.com" not in support_client.get(page_url(project, session_id)).content.decode()
    admin = Client()
    admin.force_login(alice)
    assert "ann@example.com" in admin.get(page_url(project, session_id)).content.decode()


def test_a_session_with_two_windows_plays_the_busiest_and_offers_the_other(alice_client, project):
    events = recent_events()
    session_id = record(project, events[:30], window_id="tab-1")
    record(
        project,
        [{**e, "timestamp": e["timestamp"] + 500} for e in events],
        session_id=session_id,
        window_id="tab-2",
    )
    response = alice_client.get(page_url(project, session_id))
    assert config_of(response)["windowId"] == "tab-2"
    body = response.content.decode()
    options = re.findall(r'<option value="(tab-\d)"( selected)?>', body)
    assert options == [("tab-1", ""), ("tab-2", " selected")]


def test_a_single_window_session_has_no_window_picker(alice_client, project, session):
    response = alice_client.get(page_url(project, session[0]))
    assert config_of(response)["windowId"] is None and 'id="rp-window"' not in response.content.decode()


def _directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        if part.strip():
            name, *values = part.split()
            out[name] = values
    return out


def _frame_csp(client, player_response) -> dict[str, list[str]]:
    src = re.search(r'<iframe id="replay-frame"[^>]* src="([^"]*)"', player_response.content.decode()).group(
        1
    )
    return _directives(client.get(html.unescape(src))["Content-Security-Policy"])


RESOURCE_DIRECTIVES = ("img-src", "font-src", "media-src")


def test_by_default_the_replay_loads_resources_from_the_recorded_site_only(alice_client, project, session):
    session_id, recorded = session
    href = next(e["data"]["href"] for e in recorded if e["type"] == 4)
    origin = re.match(r"https?://[^/]+", href).group(0)
    csp = _frame_csp(alice_client, alice_client.get(page_url(project, session_id)))
    for directive in RESOURCE_DIRECTIVES:
        assert csp[directive][0] == origin and "*" not in csp[directive], directive
    assert csp["style-src"] == ["'self'", "'unsafe-inline'", origin]
    assert csp["connect-src"] == ["'none'"] and csp["script-src"] == ["'self'"]


@pytest.mark.parametrize(("setting", "sources"), [("none", ["'self'"]), ("any", ["*"])])
def test_the_project_setting_blocks_or_allows_outside_resources(
    alice_client, project, session, setting, sources
):
    project.replay_resources = setting
    project.save()
    csp = _frame_csp(alice_client, alice_client.get(page_url(project, session[0])))
    for directive in RESOURCE_DIRECTIVES:
        assert csp[directive][: len(sources)] == sources, directive
        assert csp[directive][len(sources)] == "data:"


@pytest.mark.parametrize(
    "query",
    [
        "resources=origin&origin=https://a.example;+script-src+*",
        "resources=origin&origin=javascript:alert(1)",
        "resources=origin&origin=*",
        "resources=everything",
        "",
    ],
)
def test_a_forged_frame_query_cannot_widen_the_policy(client, query):
    csp = _directives(client.get(f"/replay/frame/?{query}")["Content-Security-Policy"])
    assert csp["img-src"] == ["'self'", "data:", "blob:"]
    assert csp["script-src"] == ["'self'"] and csp["connect-src"] == ["'none'"]


def test_the_setting_is_on_the_project_settings_page(alice_client, project):
    url = f"/project/{project.pk}/settings/"
    page = alice_client.get(url).content.decode()
    assert 'name="replay_resources"' in page
