"""Breakdowns: split a result by an event or person property, or by cohorts.

Top `limit` values (by the query's own measure) are kept; the rest fold into
"Other". A missing or empty value is shown as "(none)".

A cohort breakdown (`{"type": "cohort", "cohorts": [12, 15, "all"]}`) gives one
group per listed cohort (a person in several cohorts counts in each; "all" is every
person). Its `column` is an Array(String) of the ids of the cohorts the event's
person is in: a runner ARRAY JOINs it (`cohort_join_sql`) and labels the groups
with the cohorts' names (`cohort_labels`).
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics_app.errors import BadRequest
from cohorts.membership import cohort_condition, cohort_names

from .builder import SQLBuilder
from .filters import MAX_KEY_LENGTH, event_text_sql, person_text_sql

NONE_LABEL = "(none)"
OTHER_LABEL = "Other"
OTHER_VALUE = "$$_sextant_other_$$"
MAX_LIMIT = 50
ALL_USERS = "all"
ALL_USERS_LABEL = "All users"
BREAKDOWN_TYPES = ("event", "person", "cohort")


def parse_cohort_ids(raw, errors: dict, where: str = "breakdown.cohorts") -> tuple:
    """[12, "15", "all"] -> (12, 15, "all"); distinct, order kept; problems into `errors`."""
    if not isinstance(raw, list | tuple) or not 1 <= len(raw) <= MAX_LIMIT:
        errors[where] = f"pick 1 to {MAX_LIMIT} cohorts"
        return ()
    out: list = []
    for item in raw:
        if item == ALL_USERS:
            value = ALL_USERS
        elif isinstance(item, int) and not isinstance(item, bool) and item > 0:
            value = item
        elif isinstance(item, str) and item.strip().isdigit() and int(item) > 0:
            value = int(item)
        else:
            errors[where] = 'must be cohort ids (or "all" for all users)'
            return ()
        if value not in out:
            out.append(value)
    return tuple(out)


def check_cohorts_exist(project_id: int, ids, errors: dict, where: str = "breakdown.cohorts") -> None:
    """A form error (not a 500) for a cohort that was deleted or is not the project's."""
    wanted = [c for c in ids if c != ALL_USERS]
    known = cohort_names(project_id, wanted)
    missing = [str(c) for c in wanted if str(c) not in known]
    if missing:
        errors[where] = f"there is no cohort {', '.join(missing)} in this project (deleted?)"


def cohort_values_sql(b: SQLBuilder, cohorts, person_id_sql: str) -> str:
    """Array(String): the ids (as text) of the listed cohorts the person is in."""
    items = []
    for cid in cohorts:
        tag = b.bind(str(cid), "String")
        if cid == ALL_USERS:
            items.append(tag)
        else:
            items.append(f"if({cohort_condition(b, cid, person_id_sql, False)}, {tag}, '')")
    return f"arrayFilter(x -> x != '', [{', '.join(items)}])"


def cohort_labels(project_id: int, cohorts) -> dict[str, str]:
    """Group value -> display label (the cohort's name; "All users")."""
    names = cohort_names(project_id, [c for c in cohorts if c != ALL_USERS])
    return {
        str(c): (ALL_USERS_LABEL if c == ALL_USERS else names.get(str(c), f"cohort {c}")) for c in cohorts
    }


@dataclass(frozen=True)
class Breakdown:
    property: str
    type: str = "event"
    limit: int = 10
    cohorts: tuple = ()  # type "cohort": cohort ids, and "all" for all users

    @classmethod
    def from_json(cls, raw) -> Breakdown | None:
        if raw in (None, "", {}):
            return None
        if not isinstance(raw, dict):
            raise BadRequest("Invalid breakdown.", {"breakdown": "must be an object {property, type, limit}"})
        if raw.get("type") == "cohort":
            errors: dict = {}
            ids = parse_cohort_ids(raw.get("cohorts", raw.get("value")), errors)
            if errors:
                raise BadRequest("Invalid breakdown.", errors)
            return cls("", "cohort", len(ids), ids)
        prop = raw.get("property")
        btype = raw.get("type", "event")
        limit = raw.get("limit", 10)
        errors = {}
        if not isinstance(prop, str) or not prop or len(prop) > MAX_KEY_LENGTH:
            errors["breakdown.property"] = "must be a property name"
        if btype not in ("event", "person"):
            errors["breakdown.type"] = "must be event, person or cohort"
        if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIMIT:
            errors["breakdown.limit"] = f"must be an integer from 1 to {MAX_LIMIT}"
        if errors:
            raise BadRequest("Invalid breakdown.", errors)
        return cls(prop, btype, limit)

    def to_json(self) -> dict:
        if self.type == "cohort":
            return {"type": "cohort", "cohorts": list(self.cohorts)}
        return {"property": self.property, "type": self.type, "limit": self.limit}

    def column(self, b: SQLBuilder) -> tuple[dict[str, str], dict[str, str]]:
        """(event_columns, person_columns) for EventSource giving `breakdown_value`
        (for a cohort breakdown an Array(String) of cohort ids, see cohort_values_sql)."""
        if self.type == "cohort":
            return {}, {"breakdown_value": cohort_values_sql(b, self.cohorts, "ev.person_id")}
        if self.type == "event":
            return {"breakdown_value": event_text_sql(b, self.property)[0]}, {}
        return {}, {"breakdown_value": person_text_sql(b, self.property)[0]}


def label(value: str) -> str:
    if value == OTHER_VALUE:
        return OTHER_LABEL
    return NONE_LABEL if value in (None, "") else value
