"""The explorer's JSON API description: the `EventsQuery` kind and the persons endpoints."""

from __future__ import annotations

from analytics_app.query_api import QueryKind
from governance.roles import Permission
from insights.blocks.schema import property_filters_schema

from .forms import MAX_LIMIT, EventsSpec
from .queries import EventsQueryRunner

_EVENT = {
    "type": "object",
    "properties": {
        "uuid": {"type": "string", "format": "uuid"},
        "event": {"type": "string"},
        "distinct_id": {"type": "string"},
        "person_id": {"type": "string", "format": "uuid"},
        "timestamp": {"type": "string", "format": "date-time"},
        "properties": {"type": "object"},
    },
}
_PERSON = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "format": "uuid"},
        "distinct_ids": {"type": "array", "items": {"type": "string"}},
        "properties": {"type": "object", "description": "PII masked unless the caller may view PII"},
        "created_at": {"type": ["string", "null"], "format": "date-time"},
        "is_identified": {"type": "boolean"},
    },
}
_ERR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}

EVENTS_QUERY = QueryKind(
    kind="EventsQuery",
    parse=EventsSpec.from_json,
    run=lambda project, spec, presenter: EventsQueryRunner(project, spec).run().to_json(presenter),
    schema={
        "type": "object",
        "properties": {
            "kind": {"const": "EventsQuery"},
            "date_from": {
                "type": "string",
                "default": "-7d",
                "description": "-24h, -7d, YYYY-MM-DD, ISO datetime, all, ...",
            },
            "date_to": {"type": ["string", "null"]},
            "event": {"type": "string", "description": "only events with this name"},
            "properties": property_filters_schema(),
            "person_id": {
                "type": "string",
                "format": "uuid",
                "description": "events of every distinct_id of this person",
            },
            "distinct_id": {"type": "string", "description": "events of the person owning this distinct_id"},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 100},
            "after": {"type": "string", "description": "the `next` cursor of the previous page"},
            "columns": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["kind"],
    },
    response_schema={
        "type": "object",
        "properties": {"results": {"type": "array", "items": _EVENT}, "next": {"type": ["string", "null"]}},
    },
    # Paging out raw events is an export (as the CSV is): it needs export_data.
    permission=Permission.EXPORT_DATA,
    summary="Raw events, newest first, with keyset pagination (pass `next` back as `after`). "
    "Needs the export permission.",
)

PERSONS_PATHS = {
    "/api/projects/{project_id}/persons/": {
        "get": {
            "summary": "List or search persons",
            "parameters": [
                {"name": "project_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                {
                    "name": "distinct_id",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "the person owning this distinct_id",
                },
                {
                    "name": "search",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "exact distinct_id or person id, or (callers who may view PII) a "
                    "case-insensitive substring of any property value; 403 for a term with @ without view PII",
                },
                {
                    "name": "limit",
                    "in": "query",
                    "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 50},
                },
                {
                    "name": "after",
                    "in": "query",
                    "schema": {"type": "string"},
                    "description": "the `next` cursor of the previous page",
                },
            ],
            "responses": {
                "200": {
                    "description": "Persons, newest first",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {
                                    "results": {"type": "array", "items": _PERSON},
                                    "next": {"type": ["string", "null"]},
                                },
                            }
                        }
                    },
                },
                "400": {"description": "Invalid parameters", **_ERR},
                "401": {"description": "No or unknown credentials", **_ERR},
                "403": {"description": "A search or distinct_id that would confirm masked PII", **_ERR},
                "404": {"description": "No such project (or no access)", **_ERR},
            },
        }
    },
    "/api/projects/{project_id}/persons/{person_id}/": {
        "get": {
            "summary": "One person",
            "parameters": [
                {"name": "project_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                {
                    "name": "person_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "format": "uuid"},
                },
            ],
            "responses": {
                "200": {"description": "The person", "content": {"application/json": {"schema": _PERSON}}},
                "401": {"description": "No or unknown credentials", **_ERR},
                "404": {"description": "No such project or person", **_ERR},
            },
        }
    },
}
