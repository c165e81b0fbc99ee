"""A property's top values, for the builders' value pickers (docs/tracking-plan.md, "Pickers").

The most frequent values of one property, counted over the last `VALUE_DAYS` days of
events (or over the current persons, for a person property), at most `VALUE_LIMIT`, with
their counts; reading stops after `MAX_ROWS_TO_READ` rows. For a viewer without view-PII
a PII key (built in, or classified pii / sensitive in the plan) is refused, as a filter on
it is (`Presenter.guard_key`), and every other value is grouped and searched on the text
as that viewer sees it (`masked_text_sql`, the filters' own masking), objects and arrays (JSON
text that may hold PII keys inside) are left out, and what remains passes through the
Presenter: a suggestion never shows or confirms what the viewer sees masked.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.utils import timezone

from analytics_app import clickhouse as ch
from analytics_app.errors import BadRequest
from governance.presenter import Presenter

from .builder import SQLBuilder
from .filters import MAX_KEY_LENGTH, event_text_sql, masked_text_sql, person_text_sql

VALUE_LIMIT = 20
VALUE_DAYS = 30
MAX_QUERY_LENGTH = 200
# A top-values query stops reading after this many rows (on a huge project: counts of a sample).
MAX_ROWS_TO_READ = 20_000_000
JSON_TEXT = r"^\s*[\[{]"  # an object's or an array's text


def clean_text(value, field: str, limit: int = MAX_QUERY_LENGTH) -> str:
    """An optional text parameter (None -> ""), stripped; longer than `limit` is a BadRequest."""
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > limit:
        raise BadRequest("Invalid suggestion request.", {field: f"at most {limit} characters"})
    return value.strip()


@dataclass(frozen=True)
class TopValues:
    key: str
    type: str  # event | person
    values: list[tuple[str, int]]
    days: int | None  # the window of events counted (None: persons)
    masked: bool  # values are shown (and were grouped) as a viewer without view-PII sees them

    def to_json(self) -> dict:
        return {
            "key": self.key,
            "type": self.type,
            "days": self.days,
            "masked": self.masked,
            "values": [{"value": v, "count": n} for v, n in self.values],
        }


def top_values(
    project,
    presenter: Presenter,
    key,
    filter_type: str = "event",
    event: str | None = None,
    query: str = "",
    limit: int = VALUE_LIMIT,
    now: dt.datetime | None = None,
) -> TopValues:
    """The `limit` most frequent values of `key` (ties by value), with their counts."""
    if not isinstance(key, str) or not key.strip() or len(key) > MAX_KEY_LENGTH:
        raise BadRequest(
            "Invalid suggestion request.", {"key": f"a property name of at most {MAX_KEY_LENGTH} characters"}
        )
    if filter_type not in ("event", "person"):
        raise BadRequest("Invalid suggestion request.", {"type": "must be event or person"})
    key = key.strip()
    query = clean_text(query, "q")
    event = clean_text(event, "event") or None
    masked = not presenter.can_view_pii
    if masked:  # raise PermissionDenied: the same refusal as a filter on the key or the value
        presenter.guard_key(key, "Suggesting values of")
        if query:
            presenter.guard_value(query, "A value search")
    b = SQLBuilder(project.pk)
    if filter_type == "event":
        text, is_set = event_text_sql(b, key)
    else:
        text, is_set = person_text_sql(b, key, "person_properties")
    if masked:
        text = masked_text_sql(b, text)
    where = [is_set, "v != ''"]
    if masked:
        # An object or an array (JSON text) may hold PII keys inside: not suggested, nor searched.
        where.append(f"NOT match(v, {b.bind(JSON_TEXT, 'String')})")
    if query:
        where.append(f"positionCaseInsensitiveUTF8(v, {b.bind(query, 'String')}) > 0")
    days = None
    if filter_type == "event":
        days = VALUE_DAYS
        since = (now or timezone.now()).astimezone(dt.UTC) - dt.timedelta(days=VALUE_DAYS)
        since_sql = b.bind(since, "DateTime64(6, 'UTC')")
        scope = ["project_id = {project_id:UInt32}", f"timestamp >= {since_sql}"]
        if event is not None:
            scope.append(f"event = {b.bind(event, 'String')}")
        source, where = "events", scope + where
    else:
        source = """(
            SELECT id, argMax(properties, version) AS person_properties
            FROM persons WHERE project_id = {project_id:UInt32}
            GROUP BY id HAVING argMax(is_deleted, version) = 0
        )"""
    limit_sql = b.bind(int(limit), "UInt32")
    sql = f"""
        SELECT {text} AS v, count() AS n
        FROM {source}
        WHERE {" AND ".join(where)}
        GROUP BY v ORDER BY n DESC, v LIMIT {limit_sql}"""
    rows = ch.query(
        sql, b.params, settings={"max_rows_to_read": MAX_ROWS_TO_READ, "read_overflow_mode": "break"}
    ).rows
    values = [(presenter.cell(key, value), int(count)) for value, count in rows]
    return TopValues(key, filter_type, values, days, masked)
