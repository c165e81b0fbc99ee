"""Cohort definitions: validation (`clean_definition`), CSV uploads (`parse_csv`), a cohort as JSON.

A behavioral definition is JSON:

    {"match": "all" | "any",                      # how the groups combine (AND / OR)
     "groups": [{"match": "all" | "any",          # how a group's criteria combine
                 "criteria": [criterion, ...]}]}

criteria (a time frame is {"days": D} = the last D days before the refresh, or
{"date_from": "YYYY-MM-DD", "date_to": "YYYY-MM-DD"}, whole days in the project's zone):

    {"type": "performed_event", "event", "properties", "operator": "gte"|"eq"|"lte", "count": N, <time frame>}
    {"type": "not_performed_event", "event", "properties", <time frame>}
    {"type": "first_performed_event", "event", "properties", <time frame>}   # first matching event ever falls in the frame
    {"type": "person_property", "key", "operator", "value"}                  # insights.blocks.filters semantics
    {"type": "cohort", "cohort_id": id, "negate": false}                     # member (or not) of another cohort

A static cohort's definition is {"distinct_ids": [...]} and/or {"emails": [...]}
(matched against the person property `email`), resolved to persons at every refresh,
and/or {"person_ids": [...]}: exactly these persons (a drill-down's people saved as a
cohort, insights.views_people).

Membership is computed in ClickHouse (cohorts.queries): INSERT INTO cohort_people
SELECT ... as version N+1, then Cohort.version flips to N+1 in Django. Queries bind
the committed version (cohorts.membership). The universe of persons is every person
with a distinct_id mapping or an event, so "did not do X" and "at most N times"
include persons who never did X.
"""

from __future__ import annotations

import datetime as dt
import uuid

from analytics_app.errors import BadRequest
from insights.blocks.filters import MAX_KEY_LENGTH, parse_filter, parse_filters

CRITERION_TYPES = [
    "performed_event",
    "not_performed_event",
    "first_performed_event",
    "person_property",
    "cohort",
]
EVENT_CRITERIA = {"performed_event", "not_performed_event", "first_performed_event"}
COUNT_OPERATORS = ["gte", "eq", "lte"]
MAX_GROUPS = 20
MAX_CRITERIA = 50
MAX_STATIC = 200_000
MAX_DEPTH = 5


# ---------------------------------------------------------------- validation
def _time_frame(raw: dict, where: str, errors: dict) -> dict:
    if "days" in raw:
        days = raw["days"]
        if not isinstance(days, int) or isinstance(days, bool) or not 1 <= days <= 3650:
            errors[f"{where}.days"] = "must be an integer from 1 to 3650"
        return {"days": days}
    date_from, date_to = raw.get("date_from"), raw.get("date_to")
    for key, value in (("date_from", date_from), ("date_to", date_to)):
        try:
            dt.date.fromisoformat(value) if isinstance(value, str) and len(value) == 10 else (
                _ for _ in ()
            ).throw(ValueError)
        except ValueError:
            errors[f"{where}.{key}"] = "must be YYYY-MM-DD (or give days)"
    if f"{where}.date_from" not in errors and f"{where}.date_to" not in errors and date_from > date_to:
        errors[f"{where}.date_from"] = "must not be after date_to"
    return {"date_from": date_from, "date_to": date_to}


def _criterion(raw, where: str, errors: dict, cohort_id: int | None) -> dict | None:
    if not isinstance(raw, dict) or raw.get("type") not in CRITERION_TYPES:
        errors[where] = f"each criterion is an object with type one of {', '.join(CRITERION_TYPES)}"
        return None
    kind = raw["type"]
    if kind in EVENT_CRITERIA:
        event = raw.get("event")
        if not isinstance(event, str) or not event.strip() or len(event) > MAX_KEY_LENGTH:
            errors[f"{where}.event"] = "pick an event"
        out = {"type": kind, "event": event, **_time_frame(raw, where, errors)}
        try:
            props = parse_filters(raw.get("properties"), f"{where}.properties")
            if any(f.type == "cohort" for f in props):
                errors[f"{where}.properties"] = "use a cohort criterion instead of a cohort filter here"
            out["properties"] = [f.to_json() for f in props]
        except BadRequest as exc:
            errors.update(exc.errors)
        if kind == "performed_event":
            operator = raw.get("operator", "gte")
            count = raw.get("count", 1)
            if operator not in COUNT_OPERATORS:
                errors[f"{where}.operator"] = "must be gte (at least), eq (exactly) or lte (at most)"
            if not isinstance(count, int) or isinstance(count, bool) or not 0 <= count <= 1_000_000:
                errors[f"{where}.count"] = "must be an integer from 0"
            out.update(operator=operator, count=count)
        return out
    if kind == "person_property":
        try:
            f = parse_filter({**raw, "type": "person"}, where)
        except BadRequest as exc:
            errors.update(exc.errors)
            return None
        return {"type": kind, "key": f.key, "operator": f.operator, "value": f.value}
    other = raw.get("cohort_id")
    if not isinstance(other, int) or isinstance(other, bool):
        errors[f"{where}.cohort_id"] = "must be a cohort id"
    elif other == cohort_id:
        errors[f"{where}.cohort_id"] = "a cohort cannot contain itself"
    return {"type": kind, "cohort_id": other, "negate": bool(raw.get("negate", False))}


def clean_definition(raw, kind: str, project, cohort_id: int | None = None) -> dict:
    """The validated definition (raises BadRequest with every problem)."""
    errors: dict[str, str] = {}
    if not isinstance(raw, dict):
        raise BadRequest("Invalid cohort definition.", {"definition": "must be a JSON object"})
    if kind == "static":
        out = {}
        for key in ("distinct_ids", "emails", "person_ids"):
            if key == "person_ids" and key not in raw:
                continue
            values = raw.get(key, [])
            if (
                not isinstance(values, list)
                or len(values) > MAX_STATIC
                or not all(isinstance(v, str) and len(v) <= 400 for v in values)
            ):
                errors[f"definition.{key}"] = f"must be a list of at most {MAX_STATIC} strings"
            else:
                out[key] = sorted({v.strip() for v in values if v.strip()})
        for value in out.get("person_ids", []):
            try:
                uuid.UUID(value)
            except ValueError:
                errors["definition.person_ids"] = "must be a list of person ids (UUIDs)"
                break
        if errors:
            raise BadRequest("Invalid cohort definition.", errors)
        return out
    match = raw.get("match", "all")
    if match not in ("all", "any"):
        errors["definition.match"] = "must be all (AND) or any (OR)"
    groups = raw.get("groups")
    if not isinstance(groups, list) or not 1 <= len(groups) <= MAX_GROUPS:
        raise BadRequest(
            "Invalid cohort definition.", {"definition.groups": f"give 1 to {MAX_GROUPS} groups of criteria"}
        )
    out_groups = []
    for gi, group in enumerate(groups):
        where = f"definition.groups[{gi}]"
        if (
            not isinstance(group, dict)
            or not isinstance(group.get("criteria"), list)
            or not 1 <= len(group["criteria"]) <= MAX_CRITERIA
        ):
            errors[where] = f"each group is {{match, criteria}} with 1 to {MAX_CRITERIA} criteria"
            continue
        gmatch = group.get("match", "all")
        if gmatch not in ("all", "any"):
            errors[f"{where}.match"] = "must be all (AND) or any (OR)"
        criteria = [
            _criterion(c, f"{where}.criteria[{ci}]", errors, cohort_id)
            for ci, c in enumerate(group["criteria"])
        ]
        out_groups.append({"match": gmatch, "criteria": criteria})
    if not errors:
        from .models import Cohort  # noqa: PLC0415

        refs = {c["cohort_id"] for g in out_groups for c in g["criteria"] if c["type"] == "cohort"}
        known = set(Cohort.objects.filter(project=project, pk__in=refs).values_list("pk", flat=True))
        for missing in sorted(refs - known):
            errors["definition"] = f"there is no cohort {missing} in this project"
        if cohort_id is not None and cohort_id in _referenced(refs, project):
            errors["definition"] = "cohorts cannot refer to each other in a cycle"
    if errors:
        raise BadRequest("Invalid cohort definition.", errors)
    return {"match": match, "groups": out_groups}


def _referenced(ids: set[int], project, depth: int = 0) -> set[int]:
    """Every cohort reachable from `ids` through cohort criteria."""
    from .models import Cohort  # noqa: PLC0415

    if not ids or depth > MAX_DEPTH:
        return set(ids)
    nested = set()
    for definition in Cohort.objects.filter(project=project, pk__in=ids).values_list("definition", flat=True):
        for g in (definition or {}).get("groups", []):
            nested.update(c["cohort_id"] for c in g.get("criteria", []) if c.get("type") == "cohort")
    return set(ids) | _referenced(nested - set(ids), project, depth + 1)


# ---------------------------------------------------------------- forms and output
def parse_csv(data: bytes) -> dict:
    """distinct_ids and emails from an uploaded CSV: a `distinct_id` and/or `email`
    column (by header), else the first column; values with an @ count as emails
    when there is no header."""
    import csv  # noqa: PLC0415
    import io  # noqa: PLC0415

    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise BadRequest("Invalid CSV.", {"csv": "must be UTF-8 text"}) from None
    rows = [r for r in csv.reader(io.StringIO(text)) if any(cell.strip() for cell in r)]
    if not rows:
        raise BadRequest("Invalid CSV.", {"csv": "the file has no rows"})
    header = [h.strip().lower() for h in rows[0]]
    ids: list[str] = []
    emails: list[str] = []
    if "distinct_id" in header or "email" in header:
        for r in rows[1:]:
            for column, out in (("distinct_id", ids), ("email", emails)):
                if column in header:
                    i = header.index(column)
                    if i < len(r) and r[i].strip():
                        out.append(r[i].strip())
    else:
        for r in rows:
            value = r[0].strip()
            (emails if "@" in value and " " not in value else ids).append(value)
            if "@" in value:
                ids.append(value)  # an email-like distinct_id also matches as a distinct_id
    if len(ids) + len(emails) > MAX_STATIC:
        raise BadRequest("Invalid CSV.", {"csv": f"at most {MAX_STATIC} rows"})
    return {"distinct_ids": ids, "emails": emails}


def cohort_json(cohort) -> dict:
    return {
        "id": cohort.pk,
        "name": cohort.name,
        "description": cohort.description,
        "kind": cohort.kind,
        "definition": cohort.definition
        if cohort.kind == "behavioral"
        else {
            "distinct_ids": len(cohort.definition.get("distinct_ids", [])),
            "emails": len(cohort.definition.get("emails", [])),
            **(
                {"person_ids": len(cohort.definition["person_ids"])}
                if "person_ids" in cohort.definition
                else {}
            ),
        },
        "status": cohort.status,
        "error": cohort.error or None,
        "count": cohort.count,
        "version": cohort.version,
        "last_calculated_at": cohort.last_calculated_at.isoformat() if cohort.last_calculated_at else None,
    }
