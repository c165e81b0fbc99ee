"""Headless Chromium for end-to-end tests (a pytest plugin).

Enable with ``pytest_plugins = ["tests.browser"]`` in tests/conftest.py (or
``-p tests.browser`` on the command line). Fixtures:

- ``browser``: one Playwright Chromium per session, Debian's /usr/bin/chromium
  (scripts/install_browser.sh), headless, fresh temporary profile.
- ``app_live_server``: like pytest-django's ``live_server`` (and started next to it,
  sharing its database), except that ``/static/`` goes through the application as in
  production: WhiteNoise serves files that exist and everything else falls through to
  the URL routes (``live_server`` answers every ``/static/`` URL from staticfiles'
  finders itself and 404s the rest, so routes such as posthog-js's lazy
  ``/static/<version>/lazy-recorder.js`` are unreachable through it).
- ``page``: a new context and page per test, under the app's real Content-Security-Policy.
  Give ``page.wait_for_function`` a function (``"() => expr"``), not an expression: Playwright
  evaluates a bare expression with ``new Function`` in the page, which the policy forbids. Everything the page logs is kept on
  ``page.console_messages`` (Playwright ConsoleMessage objects: ``.type``, ``.text``)
  and uncaught exceptions on ``page.page_errors``. Both are lists that may also be
  called like Playwright's own ``page.console_messages()`` / ``page.page_errors()``.
  When a test fails they are printed with the failure.

A missing Chromium skips browser tests locally and fails them when CI is set.
Mark browser tests ``@pytest.mark.browser`` and ``@pytest.mark.django_db(transaction=True)``
so the live server thread sees committed data.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("SEXTANT_CHROMIUM", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
DEFAULT_TIMEOUT_MS = 15_000


class _Collected(list):
    """A list that can also be called, like Playwright's page.console_messages()."""

    def __call__(self) -> list:
        return list(self)


def _require_chromium() -> None:
    if CHROMIUM.exists():
        return
    message = f"Chromium not found at {CHROMIUM}: run scripts/install_browser.sh"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set, so a missing browser is an error)", pytrace=False)
    pytest.skip(message)


@pytest.fixture(scope="session")
def browser():
    _require_chromium()
    try:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415
    except ImportError:  # pragma: no cover - playwright is a dev dependency
        if os.environ.get("CI"):
            raise
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    # Playwright's sync API keeps an asyncio loop registered as running on this thread
    # for as long as it is started, which makes Django refuse every ORM call made from
    # the test thread ("cannot call this from an async context"). The test thread never
    # really runs async code, so lift the guard while the browser lives (Playwright's
    # documented advice for Django).
    previous = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    playwright = sync_playwright().start()
    try:
        # A plain launch runs on a fresh temporary profile that Playwright deletes on close.
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()
        if previous is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = previous


class _InFlight:
    """Requests the live server has begun and not finished, up to the response's close()
    (where Django's request_finished closes the database connection)."""

    def __init__(self):
        self.count = 0
        self.lock = threading.Lock()

    def add(self, n: int) -> None:
        with self.lock:
            self.count += n

    def wait_idle(self, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while self.count and time.monotonic() < deadline:
            time.sleep(0.02)


in_flight = _InFlight()


class _Counted:
    def __init__(self, body):
        self.body = body

    def __iter__(self):
        return iter(self.body)

    def close(self):
        try:
            if hasattr(self.body, "close"):
                self.body.close()
        finally:
            in_flight.add(-1)


def _counting_handler(app):
    """No static files (the app serves them), and every request counted until it is closed."""

    def counted(environ, start_response):
        in_flight.add(1)
        try:
            return _Counted(app(environ, start_response))
        except BaseException:
            in_flight.add(-1)
            raise

    return counted


@pytest.fixture(scope="session")
def app_live_server(live_server):
    from pytest_django.live_server_helper import LiveServer  # noqa: PLC0415

    server = LiveServer(live_server.thread.host, start=False)
    server.thread.static_handler = _counting_handler
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _new_page(browser, request, *, bypass_csp: bool):
    context = browser.new_context(viewport={"width": 1280, "height": 800}, bypass_csp=bypass_csp)
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    page.console_messages = _Collected()
    page.page_errors = _Collected()
    page.on("console", lambda message: page.console_messages.append(message))
    page.on("pageerror", lambda error: page.page_errors.append(error))
    request.node._browser_page = page
    return page


@pytest.fixture
def page(browser, request):
    page = _new_page(browser, request, bypass_csp=False)
    try:
        yield page
    finally:
        page.context.close()
        # A poll or lazy view the page fired last may still be on the server: let it finish
        # before the test's database is flushed (it crashed the teardown under load).
        in_flight.wait_idle()


def format_page_log(page) -> str:
    lines = [f"console {m.type}: {m.text}" for m in page.console_messages]
    lines += [f"page error: {e}" for e in page.page_errors]
    return "\n".join(lines) or "(no console output)"


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    page = getattr(item, "_browser_page", None)
    if page is not None and report.failed and call.when in ("call", "setup"):
        report.sections.append(("browser console", format_page_log(page)))
    return report
