"""Request -> frozen spec for the event explorer and the persons pages.

Views never read raw parameters: `EventsSpec.from_query(request.GET)` (pages, CSV)
and `EventsSpec.from_json(body)` (the `EventsQuery` kind) both raise BadRequest
with a reason per field, which the views turn into a 400.

Cursors are opaque to clients: base64url of "<timestamp µs>.<uuid>" plus an HMAC
(django.core.signing), so a tampered or truncated cursor is a 400, never a query.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import uuid
from dataclasses import dataclass, field

from django.core import signing

from analytics_app.errors import BadRequest
from governance import presenter
from insights.blocks import DateRange, PropertyFilter, parse_filters
from insights.blocks.filters import MAX_KEY_LENGTH, OPERATORS

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
DEFAULT_DATE_FROM = "-7d"
# Columns every explorer table shows; users add property columns by key.
DEFAULT_PROPERTY_COLUMNS = ("$current_url", "$browser")
MAX_EXTRA_COLUMNS = 20
DATE_PRESETS = [
    ("-1h", "Last hour"),
    ("-24h", "Last 24 hours"),
    ("-7d", "Last 7 days"),
    ("-30d", "Last 30 days"),
    ("-90d", "Last 90 days"),
    ("all", "All time"),
]
_signer = signing.Signer(salt="sextant.explorer.cursor")
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)


# ------------------------------------------------------------------ cursor
@dataclass(frozen=True, order=True)
class Cursor:
    """A position in a (timestamp, uuid) DESC listing: the last row already shown."""

    timestamp: dt.datetime
    uuid: uuid.UUID

    def encode(self) -> str:
        micros = (self.timestamp - _EPOCH) // dt.timedelta(microseconds=1)
        raw = _signer.sign(f"{micros}.{self.uuid.hex}")
        return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")

    @classmethod
    def decode(cls, text, where: str = "after") -> Cursor:
        bad = BadRequest(
            "Invalid cursor.", {where: "is not a cursor this server issued; start again from the first page"}
        )
        if not isinstance(text, str) or not 0 < len(text) <= 200:
            raise bad
        try:
            raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()
            value = _signer.unsign(raw)
            micros, hex_uuid = value.split(".")
            ts = _EPOCH + dt.timedelta(microseconds=int(micros))
            return cls(ts, uuid.UUID(hex=hex_uuid))
        except (binascii.Error, UnicodeDecodeError, signing.BadSignature, ValueError, OverflowError):
            raise bad from None

    @classmethod
    def optional(cls, text, where: str = "after") -> Cursor | None:
        return None if text in (None, "") else cls.decode(text, where)


# ------------------------------------------------------------------ helpers
def _limit(raw, where: str = "limit", *, text: bool = False) -> int:
    """A page size; `text` for URL parameters (JSON bodies must send an integer)."""
    if raw is None or (text and raw == ""):
        return DEFAULT_LIMIT
    if text and isinstance(raw, str):
        try:
            raw = int(raw.strip())
        except ValueError:
            raise BadRequest("Invalid limit.", {where: f"must be an integer from 1 to {MAX_LIMIT}"}) from None
    if not isinstance(raw, int) or isinstance(raw, bool) or not 1 <= raw <= MAX_LIMIT:
        raise BadRequest("Invalid limit.", {where: f"must be an integer from 1 to {MAX_LIMIT}"})
    return raw


def _short_text(raw, where: str, max_length: int = 400) -> str:
    if raw is None:
        return ""
    if not isinstance(raw, str) or len(raw) > max_length:
        raise BadRequest(f"Invalid {where}.", {where: f"must be a string of at most {max_length} characters"})
    return raw.strip()


def _uuid(raw, where: str) -> uuid.UUID:
    try:
        return uuid.UUID(str(raw))
    except ValueError:
        raise BadRequest(f"Invalid {where}.", {where: "must be a UUID"}) from None


def _columns(raw) -> tuple[str, ...]:
    keys = [k.strip() for k in raw.split(",")] if isinstance(raw, str) else raw
    if not isinstance(keys, list | tuple):
        raise BadRequest("Invalid columns.", {"columns": "must be a comma-separated list of property keys"})
    out: list[str] = []
    for key in keys:
        if not isinstance(key, str) or len(key) > MAX_KEY_LENGTH:
            raise BadRequest(
                "Invalid columns.",
                {"columns": f"each column is a property key of at most {MAX_KEY_LENGTH} characters"},
            )
        if key and key not in out and key not in DEFAULT_PROPERTY_COLUMNS:
            out.append(key)
    if len(out) > MAX_EXTRA_COLUMNS:
        raise BadRequest("Invalid columns.", {"columns": f"at most {MAX_EXTRA_COLUMNS} extra columns"})
    return tuple(out)


def _filters_from_rows(keys: list[str], ops: list[str], values: list[str], types=()) -> list[dict]:
    """The key/operator/value(/type) rows of the explorer form as filter dicts (blank rows
    skipped). A row of type "cohort" (picked in the picker's Cohorts group) carries the
    cohort's name as its key and the cohort id as its value."""
    rows = []
    for i, key in enumerate(keys):
        key = key.strip()
        if not key:
            continue
        op = ops[i] if i < len(ops) and ops[i] else "exact"
        value = values[i] if i < len(values) else ""
        ftype = "cohort" if i < len(types) and types[i] == "cohort" else "event"
        rows.append(
            {
                "key": key,
                "operator": op,
                "value": None if op in ("is_set", "is_not_set") else value,
                "type": ftype,
            }
        )
    return rows


# ------------------------------------------------------------------ events
@dataclass(frozen=True)
class EventsSpec:
    """What the explorer lists: a filter, a page size and where the page starts."""

    date_range: DateRange = field(default_factory=lambda: DateRange(DEFAULT_DATE_FROM))
    event: str = ""
    properties: tuple[PropertyFilter, ...] = ()
    person_id: uuid.UUID | None = None
    distinct_id: str = ""
    limit: int = DEFAULT_LIMIT
    after: Cursor | None = None
    columns: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, body: dict, project=None) -> EventsSpec:
        unknown = set(body) - {
            "kind",
            "date_from",
            "date_to",
            "event",
            "properties",
            "person_id",
            "distinct_id",
            "limit",
            "after",
            "columns",
        }
        if unknown:
            raise BadRequest(
                "Invalid EventsQuery.", {"body": f"unknown fields: {', '.join(sorted(unknown))}"}
            )
        person_id = body.get("person_id")
        _guard_distinct_id(body.get("distinct_id"))
        return cls(
            date_range=DateRange.from_json(body, default_from=DEFAULT_DATE_FROM),
            event=_short_text(body.get("event"), "event"),
            properties=parse_filters(body.get("properties")),
            person_id=None if person_id in (None, "") else _uuid(person_id, "person_id"),
            distinct_id=_short_text(body.get("distinct_id"), "distinct_id"),
            limit=_limit(body.get("limit")),
            after=Cursor.optional(body.get("after")),
            columns=_columns(body.get("columns") or []),
        )

    @classmethod
    def from_query(cls, params) -> EventsSpec:
        """From a QueryDict (the explorer form, shareable URLs, the CSV link)."""
        raw_filters = []
        if params.get("properties"):
            try:
                raw_filters = json.loads(params["properties"])
            except ValueError:
                raise BadRequest(
                    "Invalid property filters.", {"properties": "must be a JSON list of filters"}
                ) from None
            if not isinstance(raw_filters, list):
                raise BadRequest(
                    "Invalid property filters.", {"properties": "must be a JSON list of filters"}
                )
        raw_filters = raw_filters + _filters_from_rows(
            params.getlist("prop_key"),
            params.getlist("prop_op"),
            params.getlist("prop_value"),
            params.getlist("prop_type"),
        )
        person = _short_text(params.get("person"), "person")
        person_id, distinct_id = None, ""
        if person:
            try:
                person_id = uuid.UUID(person)
            except ValueError:
                distinct_id = person
                _guard_distinct_id(distinct_id)
        preset = params.get("preset")
        if preset and preset != "custom":
            date_range = DateRange(preset, None)
        else:
            date_range = DateRange(
                params.get("date_from") or DEFAULT_DATE_FROM, params.get("date_to") or None
            )
        return cls(
            date_range=date_range,
            event=_short_text(params.get("event"), "event"),
            properties=parse_filters(raw_filters),
            person_id=person_id,
            distinct_id=distinct_id,
            limit=_limit(params.get("limit"), text=True),
            after=Cursor.optional(params.get("after")),
            columns=_columns(params.get("columns", "")),
        )

    @property
    def property_columns(self) -> tuple[str, ...]:
        return DEFAULT_PROPERTY_COLUMNS + self.columns

    def to_json(self) -> dict:
        out = {
            "kind": "EventsQuery",
            "date_from": self.date_range.date_from,
            "date_to": self.date_range.date_to,
            "event": self.event or None,
            "properties": [f.to_json() for f in self.properties],
            "person_id": str(self.person_id) if self.person_id else None,
            "distinct_id": self.distinct_id or None,
            "limit": self.limit,
            "after": self.after.encode() if self.after else None,
            "columns": list(self.columns),
        }
        return {k: v for k, v in out.items() if v not in (None, [], "")}

    def query_params(self, **overrides) -> dict:
        """This spec as explorer URL parameters (links: next page, CSV, polling)."""
        params = {
            "date_from": self.date_range.date_from,
            "date_to": self.date_range.date_to or "",
            "event": self.event,
            "properties": json.dumps([f.to_json() for f in self.properties]) if self.properties else "",
            "person": str(self.person_id) if self.person_id else self.distinct_id,
            "columns": ",".join(self.columns),
        }
        params.update(overrides)
        return {k: v for k, v in params.items() if v not in (None, "")}


# ------------------------------------------------------------------ persons
def _guard_distinct_id(value) -> None:
    """A viewer without view-PII may not look events or persons up by an e-mail distinct_id
    (they see those masked; an answer would confirm a guess)."""
    viewer = presenter.current()
    if viewer is not None and isinstance(value, str):
        viewer.guard_value(value, "Looking up a distinct_id")


@dataclass(frozen=True)
class PersonsSpec:
    """`search`: exact distinct_id or person id, or (for viewers who may see PII) a
    case-insensitive substring of any property value. `ids_only` restricts it to the
    first two for viewers without view-PII (docs/explorer.md, "Persons search")."""

    search: str = ""
    distinct_id: str = ""
    limit: int = 50
    after: Cursor | None = None
    ids_only: bool = False

    @classmethod
    def from_query(cls, params) -> PersonsSpec:
        limit = params.get("limit")
        search = _short_text(params.get("search"), "search", 200)
        distinct_id = _short_text(params.get("distinct_id"), "distinct_id")
        viewer = presenter.current()
        if viewer is not None and not viewer.can_view_pii:
            viewer.guard_value(search, "Searching persons")
            _guard_distinct_id(distinct_id)
        return cls(
            search=search,
            distinct_id=distinct_id,
            limit=50 if limit in (None, "") else _limit(limit, text=True),
            after=Cursor.optional(params.get("after")),
            ids_only=presenter.masked_viewer(),
        )

    def query_params(self, **overrides) -> dict:
        params = {"search": self.search, "distinct_id": self.distinct_id, **overrides}
        return {k: v for k, v in params.items() if v not in (None, "")}


def parse_person_id(raw) -> uuid.UUID:
    return _uuid(raw, "person_id")


def operator_choices() -> list[str]:
    return list(OPERATORS)
