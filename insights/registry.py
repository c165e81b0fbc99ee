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
    ))

A saved insight stores `kind` + `to_json(spec)`; reopening it is the builder URL
with `?q=<that JSON>`, so any builder state is a shareable link.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass


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


KINDS: dict[str, InsightKind] = {}


def register(kind: InsightKind) -> InsightKind:
    KINDS[kind.kind] = kind
    return kind
