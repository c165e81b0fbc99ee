"""What the traffic carries, compared with the tracking plan (docs/tracking-plan.md, "Discovery").

The events, property keys and observed types come from two small tables that
materialized views fill at ingestion (ClickHouse migration 0007_discovery): one row per
name (and key and type) per UTC day, so everything here is one query over at most
~30 rows per name for the window, never a scan of the events.

"The last 30 days" are the 30 UTC days ending today (today included). Names starting
with "$" are the SDKs' own (`$pageview`, `$current_url`): listed, never counted as
unplanned, as `check_name` never counts them as breaking the convention.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

from analytics_app import clickhouse as ch

from .models import EventDefinition, PlanSettings, PropertyDefinition
from .plan import check_name

WINDOW_DAYS = 30
Type = PropertyDefinition.Type

# kind 0: an event name (the rows with an empty type); 1: a property of an event; 2: a person property.
_SQL = """
SELECT if(type = '', 0, 1) AS kind, toString(event) AS name, key,
    arrayFilter(t -> t != '', groupUniqArray(toString(type))) AS types,
    arrayFilter(t -> t != '', groupUniqArrayIf(toString(type), day >= {since:Date})) AS types_30d,
    toString(argMax(type, last_seen)) AS latest_type,
    CAST(min(first_seen) AS DateTime64(6, 'UTC')) AS first,
    CAST(max(last_seen) AS DateTime64(6, 'UTC')) AS last,
    sumIf(events, day >= {since:Date}) AS volume
FROM discovery_daily
WHERE project_id = {project_id:UInt32} {event_filter}
GROUP BY kind, event, key
{person_part}
"""
_PERSON_PART = """UNION ALL
SELECT 2, '', key,
    groupUniqArray(toString(type)), groupUniqArrayIf(toString(type), day >= {since:Date}),
    toString(argMax(type, last_seen)),
    CAST(min(first_seen) AS DateTime64(6, 'UTC')), CAST(max(last_seen) AS DateTime64(6, 'UTC')),
    sumIf(events, day >= {since:Date})
FROM discovered_person_properties
WHERE project_id = {project_id:UInt32}
GROUP BY key"""
# The two shapes of the query (all events with person properties, or one event's);
# the event name itself is always bound.
SQL_ALL = _SQL.replace("{event_filter}", "").replace("{person_part}", _PERSON_PART)
SQL_ONE_EVENT = _SQL.replace("{event_filter}", "AND event = {event:String}").replace("{person_part}", "")


@dataclass(frozen=True)
class DiscoveredEvent:
    name: str
    first_seen: dt.datetime
    last_seen: dt.datetime
    volume_30d: int


@dataclass(frozen=True)
class DiscoveredProperty:
    """A top-level property key of `event` (None: a person property) as the traffic carries it.
    `types` were seen ever, `types_30d` in the last 30 days; `latest_type` is the type of
    the latest value."""

    event: str | None
    key: str
    types: frozenset[str]
    first_seen: dt.datetime
    last_seen: dt.datetime
    volume_30d: int
    types_30d: frozenset[str] = frozenset()
    latest_type: str = ""


@dataclass(frozen=True)
class Observation:
    events: tuple[DiscoveredEvent, ...]
    properties: tuple[DiscoveredProperty, ...]
    person_properties: tuple[DiscoveredProperty, ...] = ()

    def properties_of(self, event: str) -> list[DiscoveredProperty]:
        return [p for p in self.properties if p.event == event]


@dataclass(frozen=True)
class TypeChange:
    event: str | None  # None: a person property
    key: str
    planned: str | None  # None: not in the plan (several types seen)
    observed: frozenset[str]


@dataclass(frozen=True)
class Drift:
    """Where the last 30 days of traffic and the plan disagree."""

    unplanned_events: tuple[DiscoveredEvent, ...] = ()
    unplanned_properties: tuple[DiscoveredProperty, ...] = ()
    type_changes: tuple[TypeChange, ...] = ()
    never_seen: tuple[str, ...] = ()  # planned (not deprecated) events never seen
    naming: tuple[tuple[str, str], ...] = ()  # (name, why it breaks the convention)
    observation: Observation = field(default_factory=lambda: Observation((), ()))

    def type_change_keys(self) -> set[tuple[str | None, str]]:
        return {(c.event, c.key) for c in self.type_changes}


def window_start(today: dt.date | None = None) -> dt.date:
    today = today or timezone.now().astimezone(dt.UTC).date()
    return today - dt.timedelta(days=WINDOW_DAYS - 1)


def observe(project, event: str | None = None) -> Observation:
    """Every event name and property key seen in the project (or of one `event`): one query."""
    params = {"project_id": project.pk, "since": window_start()}
    if event is not None:
        params["event"] = event
    rows = ch.query(SQL_ALL if event is None else SQL_ONE_EVENT, params).rows
    events, props, person = [], [], []
    for kind, name, key, types, types_30d, latest, first, last, volume in rows:
        if kind == 0:
            events.append(DiscoveredEvent(name, first, last, int(volume)))
            continue
        prop = DiscoveredProperty(
            name if kind == 1 else None,
            key,
            frozenset(types),
            first,
            last,
            int(volume),
            frozenset(types_30d),
            latest,
        )
        (props if kind == 1 else person).append(prop)
    return Observation(
        tuple(sorted(events, key=lambda e: e.name)),
        tuple(sorted(props, key=lambda p: (p.event, p.key))),
        tuple(sorted(person, key=lambda p: p.key)),
    )


def discovered_events(project) -> list[DiscoveredEvent]:
    return list(observe(project).events)


def discovered_properties(project, event: str | None = None) -> list[DiscoveredProperty]:
    """The properties of every event, or of `event`."""
    return list(observe(project, event).properties)


def discovered_person_properties(project) -> list[DiscoveredProperty]:
    return list(observe(project).person_properties)


def _as_text(types) -> set[str]:
    # A string that reads as a date is still a string: ClickHouse infers datetimes from text.
    return {Type.STRING if t == Type.DATETIME else t for t in types}


def type_problem(planned: str | None, observed) -> bool:
    """Whether `observed` types break the `planned` type (None: not planned, so only
    several types seen count)."""
    observed = set(observed)
    if not observed:
        return False
    if planned is None:
        return len(_as_text(observed)) > 1
    allowed = {planned, Type.DATETIME} if planned == Type.STRING else {planned}
    return bool(observed - allowed)


def suggested_type(prop: DiscoveredProperty) -> str:
    """The type "Add to plan" gives a discovered property: the latest value's, but
    string when some values were plain text and some read as dates."""
    if _as_text(prop.types) == {Type.STRING}:
        return Type.STRING if Type.STRING in prop.types else Type.DATETIME
    return prop.latest_type or Type.STRING


def drift(project, observation: Observation | None = None) -> Drift:
    """Compare the last 30 days of traffic with the plan (one ClickHouse query, three small
    database queries)."""
    obs = observation if observation is not None else observe(project)
    settings = PlanSettings.of(project)
    planned = {e.name: e for e in EventDefinition.objects.filter(project=project)}
    planned_props: dict[str | None, dict[str, str]] = {}
    for event_name, name, type_ in PropertyDefinition.objects.filter(project=project).values_list(
        "event__name", "name", "type"
    ):
        planned_props.setdefault(event_name, {})[name] = type_

    recent = [e for e in obs.events if e.volume_30d]
    unplanned = [e for e in recent if e.name not in planned and not e.name.startswith("$")]
    naming = [(e.name, why) for e in recent if (why := check_name(settings, e.name))]
    seen = {e.name for e in obs.events}
    never = sorted(
        name
        for name, e in planned.items()
        if name not in seen and e.status != EventDefinition.Status.DEPRECATED
    )
    unplanned_props, changes = [], []
    for prop in (*obs.properties, *obs.person_properties):
        if not prop.volume_30d:
            continue
        of_event = planned_props.get(prop.event, {})
        planned_type = of_event.get(prop.key)
        if (
            prop.event is not None
            and prop.event in planned
            and planned_type is None
            and not prop.key.startswith("$")
        ):
            unplanned_props.append(prop)
        if type_problem(planned_type, prop.types_30d):
            changes.append(TypeChange(prop.event, prop.key, planned_type, prop.types_30d))
    return Drift(
        tuple(unplanned),
        tuple(unplanned_props),
        tuple(changes),
        tuple(never),
        tuple(naming),
        obs,
    )
