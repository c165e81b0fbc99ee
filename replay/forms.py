"""Request -> frozen spec for the recordings list (page and JSON API).

`RecordingsSpec.from_query(request.GET)` collects every bad parameter into one
BadRequest (field -> reason), which the views turn into a 400 / form errors.
`spec.query_params()` is the inverse, so a list's URL is shareable.
"""

from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field, replace

from analytics_app.errors import BadRequest
from governance import presenter
from insights.blocks import DateRange, PropertyFilter, parse_filters
from insights.blocks.filters import MAX_KEY_LENGTH

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_OFFSET = 100_000
DEFAULT_DATE_FROM = "-7d"
# order parameter -> (label, SQL in replay/queries.py ORDERS)
ORDER_CHOICES = {
    "-start_time": "Newest first",
    "start_time": "Oldest first",
    "-duration": "Longest first",
    "duration": "Shortest first",
    "-active": "Most active first",
    "-errors": "Most errors first",
}
DATE_PRESETS = [
    ("-24h", "Last 24 hours"),
    ("-7d", "Last 7 days"),
    ("-30d", "Last 30 days"),
    ("-90d", "Last 90 days"),
    ("all", "All time"),
]
BOOLEAN_TRUE = {"1", "true", "yes", "on"}
BOOLEAN_FALSE = {"", "0", "false", "no", "off"}


def _seconds(raw: str, name: str, errors: dict) -> float | None:
    if raw in (None, ""):
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        errors[name] = "must be a number of seconds"
        return None
    if not math.isfinite(value) or value < 0 or value > 366 * 86400:
        errors[name] = "must be a number of seconds from 0 to 31622400"
        return None
    return value


def _flag(raw: str | None, name: str, errors: dict) -> bool:
    text = (raw or "").strip().lower()
    if text in BOOLEAN_TRUE:
        return True
    if text not in BOOLEAN_FALSE:
        errors[name] = "must be true or false"
    return False


def _int(raw: str | None, name: str, default: int, lo: int, hi: int, errors: dict) -> int:
    if raw in (None, ""):
        return default
    try:
        value = int(str(raw).strip())
    except ValueError:
        errors[name] = f"must be an integer from {lo} to {hi}"
        return default
    if not lo <= value <= hi:
        errors[name] = f"must be an integer from {lo} to {hi}"
        return default
    return value


def _text(raw: str | None, name: str, errors: dict, limit: int = MAX_KEY_LENGTH) -> str:
    text = (raw or "").strip()
    if len(text) > limit:
        errors[name] = f"at most {limit} characters"
        return ""
    return text


def _form_rows(params) -> list[dict]:
    """The page's key/operator/value rows as filter dicts (rows without a key are ignored)."""
    rows = []
    for key, op, value in zip(
        params.getlist("prop_key"), params.getlist("prop_op"), params.getlist("prop_value"), strict=False
    ):
        if key.strip():
            rows.append({"key": key.strip(), "operator": op or "exact", "value": value, "type": "event"})
    return rows


@dataclass(frozen=True)
class RecordingsSpec:
    date_range: DateRange = field(default_factory=lambda: DateRange(DEFAULT_DATE_FROM))
    person_id: uuid.UUID | None = None
    distinct_id: str = ""
    email: str = ""
    min_duration: float | None = None
    max_duration: float | None = None
    min_active: float | None = None
    url: str = ""
    has_errors: bool = False
    has_rage_clicks: bool = False
    event: str = ""
    event_properties: tuple[PropertyFilter, ...] = ()
    cohort: int | None = None
    # The people of an insight's drill-down: `people` is its kind, `people_q` its query
    # string; the view resolves them to `person_ids` (insights.people).
    people: str = ""
    people_q: str = ""
    person_ids: tuple[str, ...] = ()
    order: str = "-start_time"
    limit: int = DEFAULT_LIMIT
    offset: int = 0
    # The url filter matches URLs as this viewer sees them (query values masked: no view-PII).
    masked: bool = False

    @classmethod
    def from_query(cls, params) -> RecordingsSpec:
        errors: dict[str, str] = {}
        viewer = presenter.current()
        if viewer is not None and not viewer.can_view_pii:
            # The email filter is a search over a PII property; distinct_id / url must not
            # confirm an e-mail address either (docs/replay.md, "PII").
            if params.get("email"):
                viewer.guard_key("email", "Filtering recordings by")
            viewer.guard_value(params.get("distinct_id"), "Filtering recordings by distinct_id")
            viewer.guard_value(params.get("url"), "Filtering recordings by URL")
        date_from = _text(params.get("date_from"), "date_from", errors, 40) or DEFAULT_DATE_FROM
        date_to = _text(params.get("date_to"), "date_to", errors, 40) or None
        person_id = None
        if params.get("person_id"):
            try:
                person_id = uuid.UUID(params["person_id"].strip())
            except ValueError:
                errors["person_id"] = "must be a person id (a UUID)"
        event_properties: tuple[PropertyFilter, ...] = ()
        raw_props = params.get("event_properties", "")
        try:
            if raw_props:
                event_properties = parse_filters(json.loads(raw_props), "event_properties")
            elif hasattr(params, "getlist") and any(params.getlist("prop_key")):
                event_properties = parse_filters(_form_rows(params), "event_properties")
        except ValueError:
            errors["event_properties"] = "must be a JSON list of property filters"
        except BadRequest as exc:
            errors.update(exc.errors or {"event_properties": exc.message})
            if any(f.type != "event" for f in event_properties):
                errors["event_properties"] = "only event property filters apply to the event"
        event = _text(params.get("event"), "event", errors, 200)
        if event_properties and not event:
            errors["event"] = "choose the event the property filters apply to"
        cohort = None
        if params.get("cohort"):
            cohort = _int(params.get("cohort"), "cohort", 0, 1, 2**63 - 1, errors) or None
        people = params.get("people") or ""
        if people:
            from insights.people import SOURCES  # noqa: PLC0415  (the registered people lists)

            if people not in SOURCES:
                errors["people"] = f"must be one of {', '.join(sorted(SOURCES))}"
        order = params.get("order") or "-start_time"
        if order not in ORDER_CHOICES:
            errors["order"] = f"must be one of {', '.join(ORDER_CHOICES)}"
        spec = cls(
            date_range=DateRange(date_from, date_to),
            person_id=person_id,
            distinct_id=_text(params.get("distinct_id"), "distinct_id", errors, 200),
            email=_text(params.get("email"), "email", errors, 320),
            min_duration=_seconds(params.get("min_duration"), "min_duration", errors),
            max_duration=_seconds(params.get("max_duration"), "max_duration", errors),
            min_active=_seconds(params.get("min_active"), "min_active", errors),
            url=_text(params.get("url"), "url", errors, 2000),
            has_errors=_flag(params.get("has_errors"), "has_errors", errors),
            has_rage_clicks=_flag(params.get("has_rage_clicks"), "has_rage_clicks", errors),
            event=event,
            event_properties=event_properties,
            cohort=cohort,
            people=people,
            people_q=_text(params.get("people_q"), "people_q", errors, 20000) if people else "",
            order=order if order in ORDER_CHOICES else "-start_time",
            limit=_int(params.get("limit"), "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, errors),
            offset=_int(params.get("offset"), "offset", 0, 0, MAX_OFFSET, errors),
            masked=presenter.masked_viewer(),
        )
        if (
            spec.min_duration is not None
            and spec.max_duration is not None
            and spec.min_duration > spec.max_duration
        ):
            errors["max_duration"] = "must not be below min_duration"
        if errors:
            raise BadRequest("Invalid recordings filter.", errors)
        return spec

    def query_params(self, **overrides) -> dict[str, str]:
        """The non-default parameters, for links that keep the filters (shareable URLs)."""
        spec = replace(self, **overrides) if overrides else self
        out: dict[str, str] = {}
        if spec.date_range.date_from != DEFAULT_DATE_FROM:
            out["date_from"] = spec.date_range.date_from
        if spec.date_range.date_to:
            out["date_to"] = spec.date_range.date_to
        if spec.person_id:
            out["person_id"] = str(spec.person_id)
        for name in ("distinct_id", "email", "url", "event"):
            if getattr(spec, name):
                out[name] = getattr(spec, name)
        for name in ("min_duration", "max_duration", "min_active"):
            value = getattr(spec, name)
            if value is not None:
                out[name] = f"{value:g}"
        if spec.has_errors:
            out["has_errors"] = "true"
        if spec.has_rage_clicks:
            out["has_rage_clicks"] = "true"
        if spec.event_properties:
            out["event_properties"] = json.dumps([f.to_json() for f in spec.event_properties])
        if spec.cohort:
            out["cohort"] = str(spec.cohort)
        if spec.people:
            out["people"] = spec.people
            out["people_q"] = spec.people_q
        if spec.order != "-start_time":
            out["order"] = spec.order
        if spec.limit != DEFAULT_LIMIT:
            out["limit"] = str(spec.limit)
        if spec.offset:
            out["offset"] = str(spec.offset)
        return out
