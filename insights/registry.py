"""Insight kinds that can be saved, shared as a URL and put on a dashboard.

Each builder app (trends here; funnels, retention, paths later) registers one:

    register(InsightKind(
        kind="TrendsQuery",
        label="Trends",
        builder_url_name="insights:trends",      # the builder page; takes ?q=<spec JSON>
        parse=lambda body, project: TrendsSpec.from_json(body),   # raises BadRequest
        run=lambda project, spec: TrendsQueryRunner(project, spec).run(),
        to_json=lambda spec: spec.to_json(),     # what is stored and put in URLs
        render_tile=lambda request, project, spec, result: html_string,  # a dashboard tile body
        with_date_range=lambda spec, date_from, date_to: dataclasses.replace(...),  # dashboard override
        scripts=("js/trends.js",),               # static scripts that draw the tile's figures
        styles=(),                               # static stylesheets the tile needs
    ))

A tile body is HTML put into a host page (a saved insight's page, or a dashboard grid
that loads it with htmx after the page has loaded). It must not depend on inline
<script>s: plotly and the kind's `scripts` are loaded with `defer`, so an inline script
in a page body runs before them. The kind's scripts draw every figure of the page on
DOMContentLoaded and again on `htmx:load` for swapped-in content.

A saved insight stores `kind` + `to_json(spec)`; reopening it is the builder URL
with `?q=<that JSON>`, so any builder state is a shareable link.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from analytics_app.access import BadRequest

# Longest `?q=<spec JSON>` a builder URL may carry.
MAX_Q_LENGTH = 40_000


def decode_q(raw: str) -> dict:
    """The spec JSON of a shareable builder URL (`?q=`), or BadRequest saying why not."""
    if len(raw) > MAX_Q_LENGTH:
        raise BadRequest("The query is too long.", {"q": f"at most {MAX_Q_LENGTH} characters"})
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise BadRequest("The query is not valid JSON.", {"q": str(exc)}) from None
    if not isinstance(body, dict):
        raise BadRequest("The query must be a JSON object.", {"q": "must be a JSON object"})
    return body


@dataclass(frozen=True)
class InsightKind:
    kind: str
    label: str
    builder_url_name: str
    parse: Callable
    run: Callable
    to_json: Callable
    render_tile: Callable
    with_date_range: Callable
    # Static paths (for {% static %}) of the scripts that draw this kind's figures on a host
    # page; the saved-insight and dashboard pages load plotly and every kind's scripts.
    scripts: tuple[str, ...] = ()
    # Static stylesheets its tiles need (rules the builder page would otherwise hold).
    styles: tuple[str, ...] = ()


KINDS: dict[str, InsightKind] = {}


def register(kind: InsightKind) -> InsightKind:
    KINDS[kind.kind] = kind
    return kind
