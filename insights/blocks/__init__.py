"""Query building blocks shared by every insight (trends, explorer, funnels,
retention, paths): date ranges in the project's time zone, property filters,
breakdowns and person resolution. Each returns SQL text with `{name:Type}`
placeholders whose values live in a SQLBuilder; nothing from a request is ever
placed in SQL text."""

from .builder import SQLBuilder
from .dates import INTERVALS, DateRange, Interval
from .filters import OPERATORS, PropertyFilter, parse_filters
from .source import EventSource

__all__ = [
    "INTERVALS",
    "OPERATORS",
    "DateRange",
    "EventSource",
    "Interval",
    "PropertyFilter",
    "SQLBuilder",
    "parse_filters",
]
