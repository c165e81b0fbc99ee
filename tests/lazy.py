"""The parts a builder page loads after it is shown (`hx-get` + `hx-trigger="load"`)."""

from __future__ import annotations

import html as html_lib
import re

LAZY = re.compile(r'hx-get="([^"]+)" hx-trigger="load"')


def lazy_urls(html: str) -> list[str]:
    return [html_lib.unescape(url) for url in LAZY.findall(html)]


def with_lazy_parts(client, html: str) -> str:
    """The page as a browser ends up with it: the response followed by each part it loads
    (every part must answer 200)."""
    parts = [html]
    for url in lazy_urls(html):
        response = client.get(url, headers={"HX-Request": "true"})
        assert response.status_code == 200, (url, response.content[:500])
        parts.append(response.content.decode())
    return "\n".join(parts)
