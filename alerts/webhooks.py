"""Webhook delivery that only reaches public addresses (SSRF guard, docs/alerts.md).

A webhook URL is set by a member who manages alerts, but it is called from the worker,
inside the deployment's network: without a guard it could reach the metadata service,
Redis, the database or an admin port. So by default:

- the host is resolved when the URL is saved (a form error) and again at every send,
  and every address it resolves to must be public: loopback, private, shared (CGNAT),
  link-local, multicast, reserved and unspecified addresses are refused (IPv4-mapped
  IPv6 addresses are judged as their IPv4 address);
- the connection goes to the address that was checked (no second lookup the DNS could
  answer differently), with TLS still verified against the URL's host name;
- redirects are not followed (a 3xx is a failed send), the timeout is short.

SEXTANT_ALERT_WEBHOOK_ALLOW_PRIVATE=1 (docs/configuration.md) allows non-public targets
for on-prem installs whose chat or incident tools live on the private network.
"""

from __future__ import annotations

import http.client
import ipaddress
import socket
import ssl
from urllib.parse import urlsplit

from django.conf import settings

TIMEOUT = 5  # seconds, connect and each read


class UnsafeWebhook(Exception):  # noqa: N818 - a refusal, not a transport error
    """The URL may not be called (its reason is shown in the form and the notification log)."""


def allow_private() -> bool:
    """SEXTANT_ALERT_WEBHOOK_ALLOW_PRIVATE (analytics_app/settings.py, from the environment)."""
    return bool(getattr(settings, "SEXTANT_ALERT_WEBHOOK_ALLOW_PRIVATE", False))


def refused_reason(address: str) -> str | None:
    """Why `address` (an IP) is not a public target, or None when it is."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for kind in ("unspecified", "loopback", "link_local", "multicast", "private", "reserved"):
        if getattr(ip, f"is_{kind}"):
            return f"{ip} is a {kind.replace('_', '-')} address"
    if not ip.is_global:
        return f"{ip} is not a public address"
    return None


def _target(url: str) -> tuple[str, str, int, str]:
    """(scheme, host, port, path with query) of an http(s) URL, or UnsafeWebhook."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UnsafeWebhook("only http:// and https:// URLs with a host are allowed")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise UnsafeWebhook("the port is not a number from 1 to 65535") from None
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return parts.scheme, parts.hostname, port, path


def resolve(url: str) -> tuple[str, str, int, str, str]:
    """Check `url` and resolve its host: (scheme, host, port, path, address to connect to).
    Every address the host resolves to must be public unless private targets are allowed."""
    scheme, host, port, path = _target(url)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise UnsafeWebhook(f"the host {host} could not be resolved ({exc})") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not addresses:
        raise UnsafeWebhook(f"the host {host} could not be resolved")
    if not allow_private():
        for address in addresses:
            reason = refused_reason(address)
            if reason:
                raise UnsafeWebhook(
                    f"{host} resolves to {reason}; webhooks may only target public addresses "
                    "(SEXTANT_ALERT_WEBHOOK_ALLOW_PRIVATE=1 allows private ones)"
                )
    return scheme, host, port, path, addresses[0]


def post(url: str, body: bytes, timeout: float = TIMEOUT) -> int:
    """POST `body` (JSON) to `url`, connecting to the checked address only; returns the
    status. UnsafeWebhook when refused; OSError / HTTPException when the send fails
    (including any non-2xx answer: a redirect is not followed)."""
    scheme, host, port, path, address = resolve(url)

    def pinned(_address, conn_timeout=None, source_address=None):
        return socket.create_connection((address, port), conn_timeout, source_address)

    if scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(
            host, port, timeout=timeout, context=ssl.create_default_context()
        )
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    conn._create_connection = pinned  # the checked address; TLS still verifies `host`
    try:
        conn.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        response.read(65536)
        status = response.status
    finally:
        conn.close()
    if 300 <= status < 400:
        raise http.client.HTTPException(f"HTTP {status}: redirects are not followed")
    if not 200 <= status < 300:
        raise http.client.HTTPException(f"HTTP {status}")
    return status
