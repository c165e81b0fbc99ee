"""The JSON query API: `POST /api/projects/<id>/query/` with `{"kind": ..., ...}`.

Each kind is a parser from the JSON body to its frozen spec, a runner, and a JSON
schema for the OpenAPI description. Pages and the API call the same runners. An insight
kind's entry is derived from its declaration (`insights.registry.declare`); kinds that
are not insights (the explorer's EventsQuery, EventNamesQuery) register one directly:

    register(QueryKind(
        kind="EventsQuery",
        parse=lambda body, project: EventsSpec.from_json(body, project),   # raises BadRequest
        run=lambda project, spec, presenter: runner(project, spec).run().to_json(presenter),
        schema={...JSON schema of the body...},
        permission=Permission.VIEW_INSIGHTS,
        summary="Raw events",
    ))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from governance.roles import Permission


@dataclass(frozen=True)
class QueryKind:
    kind: str
    parse: Callable
    run: Callable
    schema: dict = field(default_factory=dict)
    response_schema: dict = field(default_factory=dict)
    permission: str = Permission.VIEW_INSIGHTS
    summary: str = ""
    # The insight kind whose declaration this entry derives from (insights.registry.declare).
    declared_by: str = ""


REGISTRY: dict[str, QueryKind] = {}


def register(kind: QueryKind) -> QueryKind:
    REGISTRY[kind.kind] = kind
    return kind


def known_kinds() -> list[str]:
    return sorted(REGISTRY)
