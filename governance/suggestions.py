"""What the builders' property pickers suggest (docs/tracking-plan.md, "Pickers").

Two questions, both bound to one project and answered for one viewer (a Presenter):

- `property_names`: the property names a filter or breakdown may use, grouped as
  event / person / session, each with its type and description. The tracking plan
  speaks first (its type and description), discovery's observed type otherwise. Cheap:
  one query over the discovery aggregate (ClickHouse migration 0007, at most ~30 rows per
  name and key) and one over the plan's rows; the events are never scanned.
- `top_values` (insights/blocks/values.py): the most frequent values of one property,
  for what the viewer may see.

`cohort_names`: the project's cohorts matching the same text, for the "Cohorts" group of a
filter row's picker (a cohort filter: in / not in the cohort) and a cohort breakdown.

"session" holds the event properties the SDKs set per session or visit (`SESSION_KEYS`):
they are filtered as event properties (`filter_type` says which filter type a name takes).
"""

from __future__ import annotations

import dataclasses
from collections import Counter
from dataclasses import dataclass

from cohorts.membership import project_cohorts
from insights.blocks.filters import OPERATORS
from insights.blocks.values import TopValues, clean_text, top_values

from .discovery import DiscoveredProperty, observe, suggested_type
from .models import PropertyDefinition
from .presenter import NESTED_PROPERTY_KEYS, Presenter

GROUPS = ("event", "person", "session")
GROUP_LABELS = {
    "event": "Event properties",
    "person": "Person properties",
    "session": "Session properties",
    "cohort": "Cohorts",
}
SESSION_KEYS = frozenset(
    {
        "$session_id",
        "$window_id",
        "$referrer",
        "$referring_domain",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "gclid",
    }
)
NAME_LIMIT = 50  # per group
__all__ = [
    "GROUPS",
    "GROUP_LABELS",
    "OPERATORS_BY_TYPE",
    "PropertyName",
    "TopValues",
    "cohort_names",
    "property_names",
    "top_values",
]

# The operators of insights/blocks/filters.py that fit each type (the widget offers these),
# derived from its OPERATORS so the order and spelling stay the query layer's.
_EQUALITY = {"exact", "is_not"}
_TEXT = {"icontains", "not_icontains", "regex", "not_regex"}
_NUMERIC = {"gt", "gte", "lt", "lte"}
_PRESENCE = {"is_set", "is_not_set"}


def _ops(*groups: set) -> list[str]:
    wanted = set().union(*groups)
    return [op for op in OPERATORS if op in wanted]


OPERATORS_BY_TYPE = {
    "string": _ops(_EQUALITY, _TEXT, _PRESENCE),
    "number": _ops(_EQUALITY, _NUMERIC, _PRESENCE),
    "boolean": _ops(_EQUALITY, _PRESENCE),
    # No date comparison in the query layer: a date is its ISO text (contains "2026-12", regex).
    "datetime": _ops(_EQUALITY, _TEXT, _PRESENCE),
    "object": _ops(_TEXT, _PRESENCE),
    "array": _ops(_TEXT, _PRESENCE),
}


@dataclass(frozen=True)
class PropertyName:
    key: str
    group: str  # event | person | session
    filter_type: str  # the filter / breakdown type it takes: event | person
    type: str  # string | number | boolean | datetime | object | array | "" (unknown)
    type_source: str  # "plan" | "observed" | ""
    description: str
    volume_30d: int
    planned: bool
    pii: bool  # a PII key (masked and refused as a filter for viewers without view-PII)

    def to_json(self, can_view_pii: bool) -> dict:
        return {
            "key": self.key,
            "group": self.group,
            "filter_type": self.filter_type,
            "type": self.type,
            "type_source": self.type_source,
            "description": self.description,
            "volume_30d": self.volume_30d,
            "planned": self.planned,
            "pii": self.pii,
            "masked": self.pii and not can_view_pii,
            "operators": OPERATORS_BY_TYPE.get(self.type, OPERATORS_BY_TYPE["string"]),
        }


def _merge(props: list[DiscoveredProperty]) -> DiscoveredProperty:
    """One key's observation over several events: types united, volumes summed, the latest
    value's type from the event that saw it last."""
    latest = max(props, key=lambda p: p.last_seen)
    return dataclasses.replace(
        latest,
        event=None,
        types=frozenset().union(*(p.types for p in props)),
        types_30d=frozenset().union(*(p.types_30d for p in props)),
        first_seen=min(p.first_seen for p in props),
        volume_30d=sum(p.volume_30d for p in props),
    )


def _plan_rows(project, event: str | None):
    """(event name or None, key) -> (type, description): the plan's property rows (one query)."""
    rows = PropertyDefinition.objects.filter(project=project).values_list(
        "event__name", "name", "type", "description"
    )
    event_plan: dict[str, list[tuple[str, str, str]]] = {}
    person_plan: dict[str, tuple[str, str]] = {}
    for event_name, key, type_, description in rows:
        if event_name is None:
            person_plan[key] = (type_, description)
        elif event is None or event_name == event:
            event_plan.setdefault(key, []).append((event_name, type_, description))
    merged = {}
    for key, defs in event_plan.items():
        # Several events may define one key: the most common type, the first description.
        type_ = Counter(t for _, t, _ in defs).most_common(1)[0][0]
        description = next((d for _, _, d in sorted(defs) if d), "")
        merged[key] = (type_, description)
    return merged, person_plan


def property_names(
    project, presenter: Presenter, query: str = "", event: str | None = None, limit: int = NAME_LIMIT
) -> dict[str, list[PropertyName]]:
    """The property names matching `query` (a case-insensitive part of the name or of its
    description), grouped; of `event`'s properties only when given (person properties always)."""
    query = clean_text(query, "q").lower()
    event = clean_text(event, "event") or None
    observation = observe(project)
    event_plan, person_plan = _plan_rows(project, event)

    seen_event: dict[str, list[DiscoveredProperty]] = {}
    for prop in observation.properties:
        if event is None or prop.event == event:
            seen_event.setdefault(prop.key, []).append(prop)
    seen_person = {p.key: p for p in observation.person_properties}

    def name(key, group, filter_type, plan, seen) -> PropertyName:
        if plan is not None:
            type_, source, description = plan[0], "plan", plan[1]
        elif seen is not None:
            type_, source, description = suggested_type(seen), "observed", ""
        else:
            type_, source, description = "", "", ""
        return PropertyName(
            key=key,
            group=group,
            filter_type=filter_type,
            type=str(type_),
            type_source=source,
            description=description,
            volume_30d=seen.volume_30d if seen is not None else 0,
            planned=plan is not None,
            pii=presenter.is_pii_key(key),
        )

    found: dict[str, list[PropertyName]] = {g: [] for g in GROUPS}
    for key in set(seen_event) | set(event_plan):
        if key in NESTED_PROPERTY_KEYS:
            continue  # bags of person properties, not something to filter or break down by
        seen = _merge(seen_event[key]) if key in seen_event else None
        group = "session" if key in SESSION_KEYS else "event"
        found[group].append(name(key, group, "event", event_plan.get(key), seen))
    for key in set(seen_person) | set(person_plan):
        found["person"].append(name(key, "person", "person", person_plan.get(key), seen_person.get(key)))

    def matches(p: PropertyName) -> bool:
        return not query or query in p.key.lower() or query in p.description.lower()

    def rank(p: PropertyName):
        return (not p.key.lower().startswith(query), not p.planned, -p.volume_30d, p.key)

    return {g: sorted(filter(matches, names), key=rank)[:limit] for g, names in found.items()}


def cohort_names(project, query: str = "", limit: int = NAME_LIMIT) -> list[dict]:
    """The project's cohorts whose name contains `query`, as picker items: the name as the
    key, type "cohort", the id, and the person count of its last computation (None while it
    was never computed). Names and counts only, never members (no PII)."""
    query = clean_text(query, "q")
    cohorts = project_cohorts(project)
    if query:
        cohorts = cohorts.filter(name__icontains=query)
    return [
        {
            "key": c.name,
            "group": "cohort",
            "filter_type": "cohort",
            "type": "cohort",
            "type_source": "",
            "description": c.description[:200],
            "volume_30d": 0,
            "planned": False,
            "pii": False,
            "masked": False,
            "operators": ["in", "not_in"],
            "cohort_id": c.pk,
            "count": c.count,
            "status": c.status,
        }
        for c in cohorts.only("id", "name", "description", "count", "status")[:limit]
    ]
