"""FunnelSpec: the typed, validated form of a funnel query (docs/funnels.md).

`FunnelSpec.from_json` is the one parser: the JSON API, saved insights and the
builder page (`?q=<spec JSON>`) all go through it, so every entry point accepts and
rejects the same things. Problems are collected into one BadRequest whose
`errors` map a field path (``steps[1].event``) to a sentence.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from governance import presenter
from insights.blocks import DateRange, PropertyFilter, parse_filters
from insights.blocks.body import BodyErrors
from insights.blocks.breakdown import MAX_LIMIT, OTHER_VALUE, parse_cohort_ids
from insights.blocks.filters import MAX_KEY_LENGTH

ORDERS = {
    "ordered": "Sequential (other events may happen in between)",
    "strict": "Strict (no other event in between)",
    "unordered": "Any order",
}
# unit -> seconds (a month is 30 days).
WINDOW_UNITS = {"second": 1, "minute": 60, "hour": 3600, "day": 86_400, "week": 604_800, "month": 2_592_000}
MAX_WINDOW_SECONDS = 366 * 86_400
MIN_STEPS, MAX_STEPS = 2, 20
MAX_EXCLUSIONS = 10
ATTRIBUTIONS = ("first_touch", "last_touch")
KNOWN_FIELDS = {
    "kind",
    "date_from",
    "date_to",
    "steps",
    "order",
    "window",
    "exclusions",
    "breakdown",
    "aggregate_by",
    "properties",
    "conversion_times",
}
ACTORS_FIELDS = KNOWN_FIELDS | {"step", "status", "breakdown_value", "limit", "offset"}
STATUSES = ("converted", "dropped")
MAX_ACTORS_LIMIT = 1000


@dataclass(frozen=True)
class FunnelStep:
    event: str
    properties: tuple[PropertyFilter, ...] = ()

    def to_json(self) -> dict:
        out: dict = {"event": self.event}
        if self.properties:
            out["properties"] = [f.to_json() for f in self.properties]
        return out


@dataclass(frozen=True)
class Exclusion:
    event: str
    from_step: int
    to_step: int
    properties: tuple[PropertyFilter, ...] = ()

    def to_json(self) -> dict:
        out: dict = {"event": self.event, "from_step": self.from_step, "to_step": self.to_step}
        if self.properties:
            out["properties"] = [f.to_json() for f in self.properties]
        return out


@dataclass(frozen=True)
class Window:
    value: int = 14
    unit: str = "day"

    @property
    def seconds(self) -> int:
        return self.value * WINDOW_UNITS[self.unit]

    @property
    def micros(self) -> int:
        return self.seconds * 1_000_000

    def to_json(self) -> dict:
        return {"value": self.value, "unit": self.unit}

    def __str__(self) -> str:
        return f"{self.value} {self.unit}{'' if self.value == 1 else 's'}"


@dataclass(frozen=True)
class FunnelBreakdown:
    """Split by an event property (value taken from the counted attempt's events, see
    `attribution`) or a person property. `attribution` is an int step index,
    "first_touch" or "last_touch"; person breakdowns ignore it (always 0)."""

    property: str
    type: str = "event"
    attribution: int | str = 0
    limit: int = 10
    cohorts: tuple = ()  # type "cohort": cohort ids (and "all"); a person counts in each of theirs

    def to_json(self) -> dict:
        if self.type == "cohort":
            return {"type": "cohort", "cohorts": list(self.cohorts)}
        out: dict = {"property": self.property, "type": self.type, "limit": self.limit}
        if self.type == "event":
            out["attribution"] = self.attribution
        return out


@dataclass(frozen=True)
class AggregateBy:
    """person, session, or a property held constant across the steps."""

    kind: str = "person"  # person | session | property
    property: str | None = None

    def to_json(self):
        return {"property": self.property} if self.kind == "property" else self.kind

    def label(self) -> str:
        return {"person": "persons", "session": "sessions"}.get(self.kind, f"persons × {self.property}")


@dataclass(frozen=True)
class FunnelSpec:
    steps: tuple[FunnelStep, ...]
    date_range: DateRange = DateRange("-30d")
    order: str = "ordered"
    window: Window = Window()
    exclusions: tuple[Exclusion, ...] = ()
    breakdown: FunnelBreakdown | None = None
    aggregate_by: AggregateBy = AggregateBy()
    properties: tuple[PropertyFilter, ...] = ()
    conversion_times: bool = True

    # ------------------------------------------------------------ parsing
    @classmethod
    def from_json(cls, body, project=None, *, known_fields=KNOWN_FIELDS, kind="FunnelsQuery") -> FunnelSpec:
        errors = BodyErrors.check(body, known_fields, kind=kind)
        attempt = errors.attempt

        date_range = attempt(DateRange.from_json, body, "-30d", default=DateRange("-30d"))
        if date_range is not None:
            attempt(date_range.resolve, project.tz if project is not None else ZoneInfo("UTC"))

        order = body.get("order", "ordered")
        if order not in ORDERS:
            errors["order"] = f"must be one of {', '.join(ORDERS)}"
            order = "ordered"

        window = _parse_window(body.get("window"), errors)
        properties = attempt(parse_filters, body.get("properties"), "properties", default=())

        raw_steps = body.get("steps")
        steps: list[FunnelStep] = []
        if not isinstance(raw_steps, list) or not MIN_STEPS <= len(raw_steps) <= MAX_STEPS:
            errors["steps"] = f"a funnel needs {MIN_STEPS} to {MAX_STEPS} steps"
        else:
            for i, raw in enumerate(raw_steps):
                where = f"steps[{i}]"
                event, filters = _parse_event_and_filters(
                    raw, where, {"event", "properties", "name"}, errors, attempt
                )
                if event is not None:
                    steps.append(FunnelStep(event, filters))
        n = len(raw_steps) if isinstance(raw_steps, list) else 0

        exclusions = _parse_exclusions(body.get("exclusions"), n, errors, attempt)
        breakdown = _parse_breakdown(body.get("breakdown"), n, errors)
        aggregate_by = _parse_aggregate_by(body.get("aggregate_by", "person"), errors)

        conversion_times = body.get("conversion_times", True)
        if not isinstance(conversion_times, bool):
            errors["conversion_times"] = "must be true or false"
        errors.raise_if_any()
        return cls(
            steps=tuple(steps),
            date_range=date_range,
            order=order,
            window=window,
            exclusions=exclusions,
            breakdown=breakdown,
            aggregate_by=aggregate_by,
            properties=properties,
            conversion_times=conversion_times,
        )

    def to_json(self) -> dict:
        out: dict = {
            "kind": "FunnelsQuery",
            "date_from": self.date_range.date_from,
            "steps": [s.to_json() for s in self.steps],
            "order": self.order,
            "window": self.window.to_json(),
        }
        if self.date_range.date_to:
            out["date_to"] = self.date_range.date_to
        if self.exclusions:
            out["exclusions"] = [x.to_json() for x in self.exclusions]
        if self.breakdown:
            out["breakdown"] = self.breakdown.to_json()
        if self.aggregate_by.kind != "person":
            out["aggregate_by"] = self.aggregate_by.to_json()
        if self.properties:
            out["properties"] = [f.to_json() for f in self.properties]
        if not self.conversion_times:
            out["conversion_times"] = False
        return out

    def with_date_range(self, date_from: str, date_to: str | None = None) -> FunnelSpec:
        return dataclasses.replace(self, date_range=DateRange(date_from, date_to))


def _guard_breakdown_value(funnel, value) -> None:
    """A viewer without view-PII may drill only into breakdown values they can read: a
    value of a PII property, or one that masking changes (an e-mail, a URL's query), would
    confirm a guess (docs/access.md, "Search and filters")."""
    viewer = presenter.current()
    if viewer is None or viewer.can_view_pii or value in (None, "", OTHER_VALUE) or funnel.breakdown is None:
        return
    if funnel.breakdown.type == "cohort":  # a cohort id, not a property value
        return
    if value.startswith(presenter.TOKEN_PREFIX):  # the key of a masked label: resolved by the server
        return
    prop = funnel.breakdown.property
    viewer.guard_key(prop, "Drilling into a breakdown value of")
    if viewer.value(prop, value) != value:
        raise presenter.PermissionDenied(
            "Drilling into a breakdown value your role sees masked (an e-mail address or a URL's "
            "query) needs the view-PII permission."
        )


@dataclass(frozen=True)
class FunnelActorsSpec:
    """Who converted at step k (reached step >= k) or dropped at k (reached k-1 exactly).

    Steps are 0-based. `breakdown_value` is a raw value ("" = none, OTHER_VALUE = Other)
    or None for every value."""

    funnel: FunnelSpec
    step: int
    status: str = "converted"
    breakdown_value: str | None = None
    limit: int = 100
    offset: int = 0

    @classmethod
    def from_json(cls, body, project=None) -> FunnelActorsSpec:
        errors = BodyErrors.check(body, ACTORS_FIELDS, kind="FunnelsActorsQuery")
        funnel_body = {k: v for k, v in body.items() if k in KNOWN_FIELDS and k != "kind"}
        funnel = errors.attempt(FunnelSpec.from_json, funnel_body, project)
        status = body.get("status", "converted")
        if status not in STATUSES:
            errors["status"] = "must be converted or dropped"
        n = len(funnel.steps) if funnel else MAX_STEPS
        step = body.get("step")
        low = 1 if status == "dropped" else 0
        if not _is_int(step) or not low <= step < n:
            errors["step"] = f"must be a step index from {low} to {n - 1} (0 is the first step)"
        value = body.get("breakdown_value")
        if value is not None and (not isinstance(value, str) or len(value) > 10_000):
            errors["breakdown_value"] = "must be a string (the raw breakdown value) or null"
        if value is not None and funnel is not None and funnel.breakdown is None:
            errors["breakdown_value"] = "the funnel has no breakdown"
        limit = body.get("limit", 100)
        if not _is_int(limit) or not 1 <= limit <= MAX_ACTORS_LIMIT:
            errors["limit"] = f"must be an integer from 1 to {MAX_ACTORS_LIMIT}"
        offset = body.get("offset", 0)
        if not _is_int(offset) or not 0 <= offset <= 1_000_000:
            errors["offset"] = "must be a non-negative integer"
        errors.raise_if_any()
        _guard_breakdown_value(funnel, value)
        return cls(funnel=funnel, step=step, status=status, breakdown_value=value, limit=limit, offset=offset)

    def to_json(self) -> dict:
        out = {
            **self.funnel.to_json(),
            "kind": "FunnelsActorsQuery",
            "step": self.step,
            "status": self.status,
            "limit": self.limit,
            "offset": self.offset,
        }
        if self.breakdown_value is not None:
            out["breakdown_value"] = self.breakdown_value
        return out


# ------------------------------------------------------------------ helpers
def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _parse_window(raw, errors) -> Window:
    if raw in (None, {}):
        return Window()
    if not isinstance(raw, dict) or set(raw) - {"value", "unit"}:
        errors["window"] = "must be an object {value, unit}"
        return Window()
    value, unit = raw.get("value", 14), raw.get("unit", "day")
    ok = True
    if not _is_int(value) or value < 1:
        errors["window.value"] = "must be a whole number of at least 1"
        ok = False
    if unit not in WINDOW_UNITS:
        errors["window.unit"] = f"must be one of {', '.join(WINDOW_UNITS)}"
        ok = False
    if ok and value * WINDOW_UNITS[unit] > MAX_WINDOW_SECONDS:
        errors["window.value"] = "the conversion window can be at most 366 days"
        ok = False
    return Window(value, unit) if ok else Window()


def _parse_event_and_filters(raw, where, fields, errors, attempt):
    if not isinstance(raw, dict):
        errors[where] = "must be an object {event, properties}"
        return None, ()
    unknown = set(raw) - fields
    if unknown:
        errors[where] = f"unknown fields: {', '.join(sorted(unknown))}"
    event = raw.get("event")
    if not isinstance(event, str) or not event.strip() or len(event) > MAX_KEY_LENGTH:
        errors[f"{where}.event"] = "pick an event"
        event = None
    filters = attempt(parse_filters, raw.get("properties"), f"{where}.properties", default=())
    return event, filters


def _parse_exclusions(raw, n, errors, attempt) -> tuple[Exclusion, ...]:
    if raw in (None, ""):
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_EXCLUSIONS:
        errors["exclusions"] = f"must be a list of at most {MAX_EXCLUSIONS} exclusions"
        return ()
    out = []
    for i, item in enumerate(raw):
        where = f"exclusions[{i}]"
        event, filters = _parse_event_and_filters(
            item, where, {"event", "properties", "from_step", "to_step"}, errors, attempt
        )
        if not isinstance(item, dict):
            continue
        a, b = item.get("from_step", 0), item.get("to_step", max(n - 1, 1))
        if not _is_int(a) or not _is_int(b) or not 0 <= a < b or (n and b > n - 1):
            errors[f"{where}.from_step"] = (
                f"from_step and to_step must be step indexes with 0 <= from_step < to_step <= {max(n - 1, 1)}"
            )
            continue
        if event is not None:
            out.append(Exclusion(event, a, b, filters))
    return tuple(out)


def _parse_breakdown(raw, n, errors) -> FunnelBreakdown | None:
    if raw in (None, "", {}):
        return None
    if isinstance(raw, dict) and raw.get("type") == "cohort":
        if set(raw) - {"type", "cohorts", "value"}:
            errors["breakdown"] = "a cohort breakdown is {type: cohort, cohorts: [ids]}"
            return None
        ids = parse_cohort_ids(raw.get("cohorts", raw.get("value")), errors)
        return FunnelBreakdown("", "cohort", 0, len(ids), ids) if ids else None
    if not isinstance(raw, dict) or set(raw) - {"property", "type", "attribution", "limit"}:
        errors["breakdown"] = "must be an object {property, type, attribution, limit}"
        return None
    prop, btype = raw.get("property"), raw.get("type", "event")
    limit, attribution = raw.get("limit", 10), raw.get("attribution", 0)
    ok = True
    if not isinstance(prop, str) or not prop or len(prop) > MAX_KEY_LENGTH:
        errors["breakdown.property"] = "must be a property name"
        ok = False
    if btype not in ("event", "person"):
        errors["breakdown.type"] = "must be event, person or cohort"
        ok = False
    if not _is_int(limit) or not 1 <= limit <= MAX_LIMIT:
        errors["breakdown.limit"] = f"must be an integer from 1 to {MAX_LIMIT}"
        ok = False
    if isinstance(attribution, str) and attribution.startswith("step_") and attribution[5:].isdigit():
        attribution = int(attribution[5:])
    if attribution in (None, ""):
        attribution = 0
    if not (attribution in ATTRIBUTIONS or (_is_int(attribution) and 0 <= attribution < max(n, 1))):
        errors["breakdown.attribution"] = (
            f"must be first_touch, last_touch or a step index from 0 to {max(n - 1, 0)}"
        )
        ok = False
    if not ok:
        return None
    return FunnelBreakdown(prop, btype, attribution if btype == "event" else 0, limit)


def _parse_aggregate_by(raw, errors) -> AggregateBy:
    if raw in (None, "", "person"):
        return AggregateBy()
    if raw == "session":
        return AggregateBy("session")
    if isinstance(raw, dict) and set(raw) == {"property"}:
        prop = raw["property"]
        if isinstance(prop, str) and prop and len(prop) <= MAX_KEY_LENGTH:
            return AggregateBy("property", prop)
    errors["aggregate_by"] = 'must be "person", "session" or {"property": "<event property>"}'
    return AggregateBy()


__all__ = [
    "ATTRIBUTIONS",
    "ORDERS",
    "OTHER_VALUE",
    "STATUSES",
    "WINDOW_UNITS",
    "AggregateBy",
    "Exclusion",
    "FunnelActorsSpec",
    "FunnelBreakdown",
    "FunnelSpec",
    "FunnelStep",
    "Window",
]
