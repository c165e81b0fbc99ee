"""The OpenAPI description served at /api/schema/, built from the query registry
and the endpoints each app declares in EXTRA_PATHS. A schema object that many kinds
share (the property filter) is named once in COMPONENTS and put in as a `$ref`."""

from __future__ import annotations

from .query_api import REGISTRY

# Apps add non-query endpoints here: {"/api/projects/{project_id}/persons/": {"get": {...}}}
EXTRA_PATHS: dict[str, dict] = {}
# Shared schema objects by name: {"PropertyFilter": PROPERTY_FILTER_SCHEMA}; wherever a kind's
# schema holds that very object, the description has {"$ref": "#/components/schemas/<name>"}.
COMPONENTS: dict[str, dict] = {}

_ERROR = {
    "type": "object",
    "properties": {"error": {"type": "string"}, "errors": {"type": "object"}},
    "required": ["error"],
}


def _errors(*codes: int) -> dict:
    text = {
        400: "Invalid input; the body says why",
        401: "No or unknown credentials",
        403: "The role does not allow this",
        404: "No such project (or no access)",
    }
    return {
        str(c): {
            "description": text[c],
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
        }
        for c in codes
    }


def _with_refs(node, refs: dict[int, dict]):
    """A copy of a schema with every shared object (by identity) replaced by its $ref."""
    if id(node) in refs:
        return refs[id(node)]
    if isinstance(node, dict):
        return {k: _with_refs(v, refs) for k, v in node.items()}
    if isinstance(node, list):
        return [_with_refs(v, refs) for v in node]
    return node


def build_schema(server_url: str) -> dict:
    kinds = [REGISTRY[k] for k in sorted(REGISTRY)]
    body = (
        {
            "oneOf": [{"$ref": f"#/components/schemas/{k.kind}"} for k in kinds],
            "discriminator": {"propertyName": "kind"},
        }
        if kinds
        else {"type": "object"}
    )
    refs = {id(obj): {"$ref": f"#/components/schemas/{name}"} for name, obj in COMPONENTS.items()}
    schemas = {"Error": _ERROR}
    schemas.update({name: _with_refs(obj, {}) for name, obj in COMPONENTS.items()})
    for k in kinds:
        schemas[k.kind] = _with_refs({**k.schema, "description": k.summary}, refs)
        if k.response_schema:
            schemas[f"{k.kind}Response"] = _with_refs(k.response_schema, refs)
    paths = {
        "/api/projects/{project_id}/query/": {
            "post": {
                "summary": "Run an insight query",
                "description": "Dispatches on `kind`. Known kinds: " + ", ".join(k.kind for k in kinds),
                "parameters": [
                    {"name": "project_id", "in": "path", "required": True, "schema": {"type": "integer"}}
                ],
                "requestBody": {"required": True, "content": {"application/json": {"schema": body}}},
                "responses": {
                    "200": {
                        "description": "The query result (shape depends on kind)",
                        "content": {
                            "application/json": {
                                "schema": {
                                    "oneOf": [
                                        {"$ref": f"#/components/schemas/{k.kind}Response"}
                                        for k in kinds
                                        if k.response_schema
                                    ]
                                    or [{"type": "object"}]
                                }
                            }
                        },
                    },
                    **_errors(400, 401, 403, 404),
                },
            }
        },
        **EXTRA_PATHS,
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Sextant API",
            "version": "1",
            "description": (
                "Self-hosted product analytics. Authenticate with a session cookie or "
                "`Authorization: Bearer <personal API key>`. A key is scoped to all its owner's projects "
                "or a list (a project outside it answers 404), read-only (writes answer 403) or "
                "read-write, and may expire (401 says expired, revoked or invalid); it never grants "
                "more than its owner's role."
            ),
        },
        "servers": [{"url": server_url}],
        "security": [{"bearer": []}, {"session": []}],
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {
                "bearer": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A personal API key (phx_...) from /account/api-keys/",
                },
                "session": {"type": "apiKey", "in": "cookie", "name": "sessionid"},
            },
        },
    }
