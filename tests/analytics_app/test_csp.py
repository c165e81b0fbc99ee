"""The Content-Security-Policy every page is sent, and that the templates need nothing it forbids:
no inline script, no on* handler, no hx-on (htmx evaluates those with Function()), no
javascript: URL. The browser half (no violation on any page, interactions included) is
tests/analytics_app/test_csp_browser.py."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.replay.test_player import _directives

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
DATA_SCRIPT_TYPES = {"application/json"}


class _ScriptFinder(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        line = self.getpos()[0]
        if tag == "script" and "src" not in attrs and attrs.get("type") not in DATA_SCRIPT_TYPES:
            self.found.append(f"line {line}: inline <script>")
        for name, value in attrs.items():
            if name.startswith("on") or name.startswith("hx-on") or name.startswith("data-hx-on"):
                self.found.append(f"line {line}: {name}= handler")
            if isinstance(value, str) and value.strip().lower().startswith("javascript:"):
                self.found.append(f"line {line}: {name}=javascript: URL")


def test_no_template_has_inline_script_or_handlers():
    offenders = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        finder = _ScriptFinder()
        finder.feed(path.read_text())
        if finder.found:
            offenders[str(path.relative_to(TEMPLATES))] = finder.found
    assert offenders == {}


def test_the_scanner_finds_what_it_looks_for():
    finder = _ScriptFinder()
    finder.feed(
        '<script>alert(1)</script><script type="application/json">{}</script><script src="/s.js"></script>'
        '<a href="javascript:x()" onclick="y()">a</a><div hx-on::after-swap="z()"></div>'
    )
    assert len(finder.found) == 4


@pytest.mark.parametrize(
    "path", ["/login/", "/", "/project/{pk}/", "/project/{pk}/funnels/", "/account/api-keys/"]
)
def test_every_page_is_sent_the_policy(alice_client, project, path):
    response = alice_client.get(path.format(pk=project.pk), follow=True)
    assert response.status_code == 200
    csp = _directives(response["Content-Security-Policy"])
    assert csp["script-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"] and csp["base-uri"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'self'"] and csp["default-src"] == ["'self'"]


def test_errors_and_anonymous_pages_get_it_too(client, alice_client, project):
    for response in (client.get("/login/"), alice_client.get("/project/999999/"), client.get("/health/")):
        assert "script-src 'self'" in response["Content-Security-Policy"]


def test_the_replay_frame_keeps_its_own_stricter_policy(client):
    csp = _directives(client.get("/replay/frame/")["Content-Security-Policy"])
    assert csp["default-src"] == ["'none'"] and csp["connect-src"] == ["'none'"]


def test_htmx_may_not_evaluate_strings(alice_client, project):
    body = alice_client.get(f"/project/{project.pk}/").content.decode()
    assert '"allowEval": false' in body
