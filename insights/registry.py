"""Insight kinds: each is declared once, and everything else derives from that declaration.

An app declares its kind in its `insight.py` and calls `declare()` from its AppConfig.ready:

    KIND = InsightKind(
        kind="TrendsQuery",
        label="Trends",                          # saved insights, the dashboards' kind filter
        spec=TrendsSpec,                         # from_json(body, project) (raises BadRequest), to_json(),
                                                 # with_date_range(date_from, date_to) (dashboard override)
        runner=TrendsQueryRunner,                # runner(project, spec).run() -> result with to_json(presenter)
        schema=SCHEMA,                           # JSON schema of the API body; filters use PROPERTY_FILTER_SCHEMA
        response_schema=RESPONSE_SCHEMA,
        summary="Trends: ...",                   # the OpenAPI description
        builder_url_name="trends:trends",        # the builder page; takes ?q=<spec JSON>
        render_tile="trends.views.render_tile",  # (request, project, spec, result) -> a tile's HTML
        menu_order=20,                           # position in the project navigation
        scripts=("js/figures.js", "trends/trends.js"),  # static scripts that draw the tile's figures
        styles=(),                               # static stylesheets the tile needs
        queries=(),                              # further JSON API kinds of the app (FunnelsActorsQuery)
    )

`declare(KIND)` puts it in `KINDS` (saved insights, dashboards, `?q=` links), in the JSON
query API (`analytics_app.query_api.REGISTRY`, hence /api/schema/) and in the navigation
(`analytics_app.navigation.SECTIONS`). The derived entries carry `declared_by=<kind>`.

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
from dataclasses import dataclass, field, replace

from django.utils.module_loading import import_string

from analytics_app import navigation, query_api
from analytics_app.errors import BadRequest
from analytics_app.navigation import Section
from analytics_app.query_api import QueryKind
from governance.roles import Permission

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
    # The builder page (a URL name taking project_id); it reads `?q=<spec JSON>`.
    builder_url_name: str
    # The frozen spec class (from_json, to_json, with_date_range) and its runner class;
    # parse/run/to_json/with_date_range below are derived from them unless given.
    spec: type | None = None
    runner: type | None = None
    parse: Callable | None = None
    run: Callable | None = None
    to_json: Callable | None = None
    with_date_range: Callable | None = None
    # (request, project, spec, result) -> HTML, or the dotted path of such a function
    # (imported on first use, so the declaration does not import the app's views).
    render_tile: Callable | str | None = None
    # Static paths (for {% static %}) of the scripts that draw this kind's figures on a host
    # page; the saved-insight and dashboard pages load plotly and every kind's scripts.
    scripts: tuple[str, ...] = ()
    # Static stylesheets its tiles need (rules the builder page would otherwise hold).
    styles: tuple[str, ...] = ()
    # The JSON query API: the body's schema, the result's schema, the OpenAPI summary.
    schema: dict = field(default_factory=dict)
    response_schema: dict = field(default_factory=dict)
    summary: str = ""
    permission: str = Permission.VIEW_INSIGHTS
    # The navigation entry (the builder page): its position, and its label if not `label`.
    menu_order: int | None = None
    menu_label: str = ""
    # Further JSON API kinds the app serves next to this one (e.g. a drill-down's actors).
    queries: tuple[QueryKind, ...] = ()

    def __post_init__(self):
        spec, runner = self.spec, self.runner
        defaults = {}
        if spec is not None:
            defaults["parse"] = lambda body, project=None: spec.from_json(body, project)
            defaults["to_json"] = lambda spec_: spec_.to_json()
            defaults["with_date_range"] = lambda spec_, date_from, date_to=None: spec_.with_date_range(
                date_from, date_to
            )
        if runner is not None:
            defaults["run"] = lambda project, spec_: runner(project, spec_).run()
        for name, value in defaults.items():
            if getattr(self, name) is None:
                object.__setattr__(self, name, value)
        if isinstance(self.render_tile, str):
            object.__setattr__(self, "render_tile", _imported_on_call(self.render_tile))

    def query_kind(self) -> QueryKind:
        """Its entry in the JSON query API: the same parser and runner as the pages."""
        run = self.run
        return QueryKind(
            kind=self.kind,
            parse=self.parse,
            run=lambda project, spec, presenter: run(project, spec).to_json(presenter),
            schema=self.schema,
            response_schema=self.response_schema,
            permission=self.permission,
            summary=self.summary,
            declared_by=self.kind,
        )

    def section(self) -> Section | None:
        """Its navigation entry (the builder page), if it has a menu position."""
        if self.menu_order is None:
            return None
        label = self.menu_label or self.label
        return Section(label, self.builder_url_name, self.permission, self.menu_order, declared_by=self.kind)


def _imported_on_call(path: str) -> Callable:
    def call(*args, **kwargs):
        return import_string(path)(*args, **kwargs)

    call.__qualname__ = path
    return call


# The saved-insight registry (dashboards, saved insights, `?q=` links), and every declaration.
KINDS: dict[str, InsightKind] = {}
DECLARED: dict[str, InsightKind] = {}


def declare(kind: InsightKind) -> InsightKind:
    """An app's insight kind: saved insights, the JSON query API and the navigation."""
    DECLARED[kind.kind] = kind
    KINDS[kind.kind] = kind
    query_api.register(kind.query_kind())
    for extra in kind.queries:
        query_api.register(replace(extra, declared_by=kind.kind))
    section = kind.section()
    if section is not None:
        navigation.register(section)
    return kind
