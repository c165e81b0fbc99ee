"""Breakdowns: split a result by an event or person property.

Top `limit` values (by the query's own measure) are kept; the rest fold into
"Other". A missing or empty value is shown as "(none)".
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics_app.errors import BadRequest

from .builder import SQLBuilder
from .filters import MAX_KEY_LENGTH, event_text_sql, person_text_sql

NONE_LABEL = "(none)"
OTHER_LABEL = "Other"
OTHER_VALUE = "$$_sextant_other_$$"
MAX_LIMIT = 50


@dataclass(frozen=True)
class Breakdown:
    property: str
    type: str = "event"
    limit: int = 10

    @classmethod
    def from_json(cls, raw) -> Breakdown | None:
        if raw in (None, "", {}):
            return None
        if not isinstance(raw, dict):
            raise BadRequest("Invalid breakdown.", {"breakdown": "must be an object {property, type, limit}"})
        prop = raw.get("property")
        btype = raw.get("type", "event")
        limit = raw.get("limit", 10)
        errors = {}
        if not isinstance(prop, str) or not prop or len(prop) > MAX_KEY_LENGTH:
            errors["breakdown.property"] = "must be a property name"
        if btype not in ("event", "person"):
            errors["breakdown.type"] = "must be event or person"
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
            errors["breakdown.limit"] = f"must be an integer from 1 to {MAX_LIMIT}"
        if errors:
            raise BadRequest("Invalid breakdown.", errors)
        return cls(prop, btype, limit)

    def to_json(self) -> dict:
        return {"property": self.property, "type": self.type, "limit": self.limit}

    def column(self, b: SQLBuilder) -> tuple[dict[str, str], dict[str, str]]:
        """(event_columns, person_columns) for EventSource giving `breakdown_value`."""
        if self.type == "event":
            return {"breakdown_value": event_text_sql(b, self.property)[0]}, {}
        return {}, {"breakdown_value": person_text_sql(b, self.property)[0]}


def label(value: str) -> str:
    if value == OTHER_VALUE:
        return OTHER_LABEL
    return NONE_LABEL if value in (None, "") else value
