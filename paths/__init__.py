"""Paths: where sessions go from a start point, or how they reach an end point.

spec.py (PathsSpec) -> queries.py (PathsQueryRunner, TopPathsQueryRunner,
PathsActorsRunner, ...) -> charts.py (plotly Sankey); forms.py turns the builder
page's GET into the spec; models.py holds project-wide cleaning rules.
`register()` (PathsConfig.ready) adds the navigation section, the JSON query API
kind and the insight kind "PathsQuery". Semantics: docs/paths.md.
"""

from __future__ import annotations


def register() -> None:
    from analytics_app import navigation, query_api  # noqa: PLC0415
    from analytics_app.models import Permission  # noqa: PLC0415
    from insights import registry  # noqa: PLC0415

    from .queries import PathsQueryRunner  # noqa: PLC0415
    from .schema import RESPONSE_SCHEMA, SCHEMA  # noqa: PLC0415
    from .spec import PathsSpec  # noqa: PLC0415

    navigation.register(navigation.Section("Paths", "paths:paths", Permission.VIEW_INSIGHTS, 23))
    query_api.register(
        query_api.QueryKind(
            kind="PathsQuery",
            parse=PathsSpec.from_json,
            run=lambda project, spec, presenter: PathsQueryRunner(project, spec).run().to_json(presenter),
            schema=SCHEMA,
            response_schema=RESPONSE_SCHEMA,
            permission=Permission.VIEW_INSIGHTS,
            summary="Paths: step-prefixed edges between pages, screens or events, with drop-off.",
        )
    )

    def render_tile(request, project, spec, result):
        from paths.views import render_tile as render  # noqa: PLC0415

        return render(request, project, spec, result)

    registry.register(
        registry.InsightKind(
            kind="PathsQuery",
            label="Paths",
            builder_url_name="paths:paths",
            parse=lambda body, project=None: PathsSpec.from_json(body, project),
            run=lambda project, spec: PathsQueryRunner(project, spec).run(),
            to_json=lambda spec: spec.to_json(),
            render_tile=render_tile,
            with_date_range=lambda spec, date_from, date_to=None: spec.with_date_range(date_from, date_to),
            scripts=("paths/paths.js",),
        )
    )
