"""RetentionSpec: the typed, validated form of a retention query.

One parser (`RetentionSpec.from_json`) serves the JSON API, saved insights and the
builder page (whose GET fields forms.py first turns into the same JSON body).
Semantics are documented in docs/retention.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from enum import StrEnum
from zoneinfo import ZoneInfo

from insights.blocks import DateRange, PropertyFilter, parse_filters
from insights.blocks.body import BodyErrors
from insights.blocks.breakdown import MAX_LIMIT, Breakdown
from insights.blocks.filters import MAX_KEY_LENGTH


class Period(StrEnum):
    DAY = "day"
    WEEK = "week"
    MONTH = "month"


class RetentionType(StrEnum):
    FIRST_TIME = "first_time"
    RECURRING = "recurring"


PERIODS = [p.value for p in Period]
RETENTION_TYPES = {RetentionType.FIRST_TIME.value: "First time", RetentionType.RECURRING.value: "Recurring"}
DEFAULT_INTERVALS = 11
MAX_INTERVALS = 60
KNOWN_FIELDS = {
    "kind",
    "date_from",
    "date_to",
    "period",
    "total_intervals",
    "retention_type",
    "target_event",
    "returning_event",
    "properties",
    "breakdown",
}
ENTITY_FIELDS = {"event", "properties"}
# Default range per period: enough periods for an 11-interval triangle.
DEFAULT_FROM = {"day": "-14d", "week": "-11w", "month": "-11m"}


@dataclass(frozen=True)
class Entity:
    event: str
    properties: tuple[PropertyFilter, ...] = ()

    def to_json(self) -> dict:
        out: dict = {"event": self.event}
        if self.properties:
            out["properties"] = [f.to_json() for f in self.properties]
        return out


@dataclass(frozen=True)
class CohortBreakdown:
    """Breakdown by membership of one or more cohorts (a person may be in several)."""

    cohorts: tuple[int, ...]

    type = "cohort"

    def to_json(self) -> dict:
        return {"type": "cohort", "cohorts": list(self.cohorts)}


@dataclass(frozen=True)
class RetentionSpec:
    target_event: Entity
    returning_event: Entity
    date_range: DateRange = DateRange("-11w")
    period: Period = Period.WEEK
    total_intervals: int = DEFAULT_INTERVALS
    retention_type: RetentionType = RetentionType.RECURRING
    properties: tuple[PropertyFilter, ...] = ()
    breakdown: Breakdown | CohortBreakdown | None = None

    @classmethod
    def from_json(cls, body, project=None) -> RetentionSpec:
        """Parse and validate; every problem is collected into one BadRequest."""
        errors = BodyErrors.check(body, KNOWN_FIELDS, kind="RetentionQuery")
        attempt = errors.attempt

        period = body.get("period", "week")
        if period not in PERIODS:
            errors["period"] = f"must be one of {', '.join(PERIODS)}"
            period = "week"

        date_range = attempt(
            DateRange.from_json, body, DEFAULT_FROM[period], default=DateRange(DEFAULT_FROM[period])
        )
        if date_range is not None:
            attempt(date_range.resolve, project.tz if project is not None else ZoneInfo("UTC"))
            if date_range.date_from == "all":
                errors["date_from"] = "retention needs a start date (not all time)"

        total = body.get("total_intervals", DEFAULT_INTERVALS)
        if isinstance(total, str) and total.strip().isdigit():
            total = int(total)
        if not isinstance(total, int) or isinstance(total, bool) or not 1 <= total <= MAX_INTERVALS:
            errors["total_intervals"] = f"must be an integer from 1 to {MAX_INTERVALS}"
            total = DEFAULT_INTERVALS

        retention_type = body.get("retention_type", "recurring")
        if retention_type not in RETENTION_TYPES:
            errors["retention_type"] = f"must be one of {', '.join(RETENTION_TYPES)}"
            retention_type = "recurring"

        target = _parse_entity(body.get("target_event"), "target_event", errors, attempt)
        returning_raw = body.get("returning_event")
        returning = (
            target
            if returning_raw in (None, {})
            else _parse_entity(returning_raw, "returning_event", errors, attempt)
        )
        properties = attempt(parse_filters, body.get("properties"), "properties", default=())
        breakdown = _parse_breakdown(body.get("breakdown"), errors, attempt)
        errors.raise_if_any()
        return cls(
            target_event=target,
            returning_event=returning,
            date_range=date_range,
            period=Period(period),
            total_intervals=total,
            retention_type=RetentionType(retention_type),
            properties=properties,
            breakdown=breakdown,
        )

    def to_json(self) -> dict:
        out: dict = {
            "kind": "RetentionQuery",
            "date_from": self.date_range.date_from,
            "period": self.period.value,
            "total_intervals": self.total_intervals,
            "retention_type": self.retention_type.value,
            "target_event": self.target_event.to_json(),
            "returning_event": self.returning_event.to_json(),
        }
        if self.date_range.date_to:
            out["date_to"] = self.date_range.date_to
        if self.properties:
            out["properties"] = [f.to_json() for f in self.properties]
        if self.breakdown:
            out["breakdown"] = self.breakdown.to_json()
        return out

    def with_date_range(self, date_from: str, date_to: str | None = None) -> RetentionSpec:
        return dataclasses.replace(self, date_range=DateRange(date_from, date_to))


def _parse_entity(raw, where: str, errors: dict, attempt) -> Entity | None:
    if isinstance(raw, str):
        raw = {"event": raw}
    if not isinstance(raw, dict):
        errors[where] = "must be an object {event, properties}"
        return None
    unknown = set(raw) - ENTITY_FIELDS
    if unknown:
        errors[where] = f"unknown fields: {', '.join(sorted(unknown))}"
    event = raw.get("event")
    if not isinstance(event, str) or not event.strip() or len(event) > MAX_KEY_LENGTH:
        errors[f"{where}.event"] = "pick an event"
        return None
    properties = attempt(parse_filters, raw.get("properties"), f"{where}.properties", default=())
    return Entity(event=event, properties=properties)


def _parse_breakdown(raw, errors: dict, attempt):
    if isinstance(raw, dict) and raw.get("type") == "cohort":
        ids = raw.get("cohorts")
        if (
            not isinstance(ids, list)
            or not 1 <= len(ids) <= MAX_LIMIT
            or not all(isinstance(i, int) and not isinstance(i, bool) for i in ids)
        ):
            errors["breakdown.cohorts"] = f"must be a list of 1 to {MAX_LIMIT} cohort ids"
            return None
        return CohortBreakdown(tuple(ids))
    if isinstance(raw, dict) and "type" not in raw:
        raw = {**raw, "type": "person"}
    breakdown = attempt(Breakdown.from_json, raw)
    if breakdown is not None and breakdown.type != "person":
        errors["breakdown.type"] = "retention breaks down by a person property or by cohorts"
        return None
    return breakdown
