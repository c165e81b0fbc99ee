"""Webhook URL safety: only public addresses by default (resolved on save and at send
time, the checked address is the one connected to), no redirects, a setting for on-prem
installs. A refused send is in the notification log with its reason, once."""

from __future__ import annotations

import datetime as dt
import ipaddress
import socket
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from alerts import webhooks
from alerts.forms import AlertForm
from alerts.models import AlertEvent, AlertRule, Notification
from alerts.notify import notify

T = dt.datetime(2026, 6, 24, 14, tzinfo=dt.UTC)

REFUSED = [
    "127.0.0.1",
    "127.5.5.5",
    "0.0.0.0",
    "10.1.2.3",
    "172.16.0.1",
    "192.168.1.1",
    "169.254.169.254",  # cloud metadata
    "100.64.0.1",  # shared address space (CGNAT)
    "224.0.0.1",
    "240.0.0.1",
    "255.255.255.255",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "ff02::1",
    "::ffff:127.0.0.1",  # IPv4-mapped loopback
    "::ffff:169.254.169.254",
]
PUBLIC = ["93.184.216.34", "1.1.1.1", "8.8.8.8", "2606:4700:4700::1111"]


@pytest.mark.parametrize("address", REFUSED)
def test_non_public_addresses_are_refused(address):
    assert webhooks.refused_reason(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass(address):
    assert webhooks.refused_reason(address) is None
    assert ipaddress.ip_address(address).is_global  # the reference


@pytest.fixture
def dns(monkeypatch):
    """Host names resolved from a table (no network in tests): name -> addresses."""
    table = {}

    def info(address, port):
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return (family, socket.SOCK_STREAM, 6, "", (address, port))

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            return [info(str(ipaddress.ip_address(host)), port)]  # a literal address
        except ValueError:
            pass
        if host not in table:
            raise OSError("Name or service not known")
        return [info(a, port) for a in table[host]]

    monkeypatch.setattr(webhooks.socket, "getaddrinfo", getaddrinfo)
    return table


def test_every_resolved_address_must_be_public(dns):
    dns["hooks.example.com"] = ["93.184.216.34"]
    dns["sneaky.example.com"] = ["93.184.216.34", "10.0.0.5"]  # one private answer is enough
    assert webhooks.resolve("https://hooks.example.com/x?y=1") == (
        "https",
        "hooks.example.com",
        443,
        "/x?y=1",
        "93.184.216.34",
    )
    with pytest.raises(webhooks.UnsafeWebhook, match="10.0.0.5 is a private address"):
        webhooks.resolve("https://sneaky.example.com/")
    with pytest.raises(webhooks.UnsafeWebhook, match="could not be resolved"):
        webhooks.resolve("https://nowhere.example.com/")
    for url in ("ftp://hooks.example.com/", "http:///path", "http://hooks.example.com:99999/"):
        with pytest.raises(webhooks.UnsafeWebhook):
            webhooks.resolve(url)


def test_the_setting_allows_private_targets(dns, settings):
    dns["chat.internal"] = ["10.0.0.7"]
    with pytest.raises(webhooks.UnsafeWebhook):
        webhooks.resolve("http://chat.internal/hook")
    settings.SEXTANT_ALERT_WEBHOOK_ALLOW_PRIVATE = True
    assert webhooks.resolve("http://chat.internal/hook")[-1] == "10.0.0.7"


@pytest.mark.django_db
def test_a_refused_url_is_a_form_error_on_save(project, dns):
    dns["metadata.example.com"] = ["169.254.169.254"]
    base = {"name": "Volume", "metric": "events_per_period", "interval": "hour", "detector": "seasonal"}
    base |= {"direction": "both", "cooldown_minutes": 60, "k": 3, "weeks": 4, "min_history": 2}
    for url in ("http://127.0.0.1:6379/", "http://metadata.example.com/latest/", "http://[::1]/x"):
        form = AlertForm({**base, "webhook": url}, project=project)
        assert not form.is_valid()
        assert "refused" in form.errors["webhook"][0]
    dns["hooks.example.com"] = ["93.184.216.34"]
    form = AlertForm({**base, "webhook": "https://hooks.example.com/x"}, project=project)
    assert form.is_valid(), form.errors


class Redirector(BaseHTTPRequestHandler):
    hits: list = []
    hosts: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        Redirector.hits.append(self.path)
        Redirector.hosts.append(self.headers["Host"])
        self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/hook":
            self.send_response(302)
            self.send_header("Location", "/elsewhere")
        else:
            self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def loopback_server():
    Redirector.hits, Redirector.hosts = [], []
    server = HTTPServer(("127.0.0.1", 0), Redirector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()


def _event(project, url):
    rule = AlertRule.objects.create(
        project=project, name="Volume", metric="events_per_period", channels=[{"type": "webhook", "url": url}]
    )
    return AlertEvent.objects.create(rule=rule, period_start=T, value=1, state_from="ok", state_to="firing")


@pytest.mark.django_db
def test_a_refused_send_is_logged_once_with_its_reason_and_reaches_nobody(project, loopback_server):
    from alerts import evaluate as ev

    event = _event(project, f"http://127.0.0.1:{loopback_server}/hook")
    assert notify(event) == []
    n = Notification.objects.get(firing=event)
    assert n.status == "refused" and "127.0.0.1 is a loopback address" in n.error
    # Not retried: a second notify and the hourly re-notification of unsent firings send nothing.
    assert notify(event) == []
    ev._notify_orphans(event.rule, T + dt.timedelta(hours=1), set())
    assert Redirector.hits == []
    assert list(Notification.objects.filter(firing=event).values_list("status", flat=True)) == ["refused"]


@pytest.mark.django_db
def test_the_address_checked_is_the_address_connected_to(project, loopback_server, dns, settings):
    # A name that resolves to loopback once allowed: the POST reaches the checked address
    # with the URL's host in the Host header (no second lookup).
    settings.SEXTANT_ALERT_WEBHOOK_ALLOW_PRIVATE = True
    dns["hooks.test"] = ["127.0.0.1"]
    assert webhooks.post(f"http://hooks.test:{loopback_server}/ok", b"{}") == 200
    assert Redirector.hits == ["/ok"] and Redirector.hosts == [f"hooks.test:{loopback_server}"]


@pytest.mark.django_db
def test_redirects_are_not_followed(project, loopback_server, settings):
    settings.SEXTANT_ALERT_WEBHOOK_ALLOW_PRIVATE = True
    event = _event(project, f"http://127.0.0.1:{loopback_server}/hook")
    assert notify(event) == []
    n = Notification.objects.get(firing=event)
    assert n.status == "failed" and "redirects are not followed" in n.error
    assert Redirector.hits == ["/hook"]  # /elsewhere never requested
