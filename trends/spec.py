"""TrendsSpec: the typed, validated form of a trends query.

One parser (`TrendsSpec.from_json`) serves the JSON API, saved insights and the
builder page (whose GET fields are first turned into the same JSON body by
trends/forms.py), so every entry point accepts and rejects the same things.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from insights.blocks import INTERVALS, DateRange, Interval, PropertyFilter, parse_filters
from insights.blocks.body import BodyErrors
from insights.blocks.breakdown import Breakdown
from insights.blocks.filters import MAX_KEY_LENGTH

from .formula import FormulaError
from .formula import parse as parse_formula

# math -> human label. The SQL for each lives in queries.py (allow-list keyed by these names).
MATHS = {
    "total": "Total count",
    "dau": "Unique persons",
    "weekly_active": "Weekly active persons",
    "monthly_active": "Monthly active persons",
    "unique_session": "Unique sessions",
    "sum": "Sum of property",
    "avg": "Average of property",
    "min": "Minimum of property",
    "max": "Maximum of property",
    "median": "Median of property",
    "p90": "90th percentile of property",
    "p99": "99th percentile of property",
}
PROPERTY_MATHS = {"sum", "avg", "min", "max", "median", "p90", "p99"}
ACTIVE_MATHS = {"weekly_active": 7, "monthly_active": 30}
PERSON_MATHS = {"dau", "weekly_active", "monthly_active"}
DISPLAYS = {
    "line": "Line",
    "bar": "Bar",
    "area": "Area",
    "cumulative": "Cumulative line",
    "moving_average": "Moving average",
    "number": "Bold number",
    "pie": "Pie",
    "table": "Table",
}
TIME_DISPLAYS = {"line", "bar", "area", "cumulative", "moving_average"}
NUMBER_MODES = {"total": "Total over the range", "last": "Last value"}
DEFAULT_WINDOW = 7
MAX_WINDOW = 120
MAX_SERIES = 10
MAX_NAME_LENGTH = 200
KNOWN_FIELDS = {
    "kind",
    "date_from",
    "date_to",
    "interval",
    "series",
    "properties",
    "breakdown",
    "compare",
    "display",
    "formula",
    "show_series",
    "window",
    "number",
}
SERIES_FIELDS = {"event", "math", "math_property", "properties", "name"}


@dataclass(frozen=True)
class Series:
    event: str
    math: str = "total"
    math_property: str | None = None
    properties: tuple[PropertyFilter, ...] = ()
    name: str | None = None

    @property
    def label(self) -> str:
        return self.name or self.event

    def to_json(self) -> dict:
        out: dict = {"event": self.event, "math": self.math}
        if self.math_property:
            out["math_property"] = self.math_property
        if self.properties:
            out["properties"] = [f.to_json() for f in self.properties]
        if self.name:
            out["name"] = self.name
        return out


@dataclass(frozen=True)
class TrendsSpec:
    series: tuple[Series, ...]
    date_range: DateRange = DateRange("-7d")
    interval: Interval = Interval.DAY
    properties: tuple[PropertyFilter, ...] = ()
    breakdown: Breakdown | None = None
    compare: bool = False
    display: str = "line"
    formula: str | None = None  # over the series letters A, B, ... (trends/formula.py)
    show_series: bool = False  # with a formula: draw the series too
    window: int = DEFAULT_WINDOW  # moving average: buckets
    number: str = "total"  # bold number: the total over the range or the last value

    @property
    def formula_tree(self):
        return parse_formula(self.formula, len(self.series)) if self.formula else None

    @classmethod
    def from_json(cls, body, project=None) -> TrendsSpec:
        """Parse and validate; every problem is collected into one BadRequest."""
        errors = BodyErrors.check(body, KNOWN_FIELDS, kind="TrendsQuery")
        attempt = errors.attempt

        date_range = attempt(DateRange.from_json, body, default=DateRange())
        # Check the range now (relative to now; the runner resolves it again when it runs).
        if date_range is not None and project is not None:
            attempt(date_range.resolve, project.tz)
        elif date_range is not None:
            from zoneinfo import ZoneInfo  # noqa: PLC0415

            attempt(date_range.resolve, ZoneInfo("UTC"))

        interval = body.get("interval", "day")
        if interval not in INTERVALS:
            errors["interval"] = f"must be one of {', '.join(INTERVALS)}"
            interval = "day"

        display = body.get("display", "line")
        if display not in DISPLAYS:
            errors["display"] = f"must be one of {', '.join(DISPLAYS)}"
            display = "line"

        compare = body.get("compare", False)
        if not isinstance(compare, bool):
            errors["compare"] = "must be true or false"
            compare = False

        properties = attempt(parse_filters, body.get("properties"), "properties", default=())
        breakdown = attempt(Breakdown.from_json, body.get("breakdown"))

        raw_series = body.get("series")
        series: list[Series] = []
        if not isinstance(raw_series, list) or not 1 <= len(raw_series) <= MAX_SERIES:
            errors["series"] = f"must be a list of 1 to {MAX_SERIES} series"
        else:
            for i, raw in enumerate(raw_series):
                s = _parse_series(raw, i, interval, errors, attempt)
                if s is not None:
                    series.append(s)
        formula = body.get("formula") or None
        if formula is not None:
            if not isinstance(formula, str):
                errors["formula"] = "must be a string such as A/B"
                formula = None
            else:
                formula = formula.strip() or None
                if formula and series and len(series) == len(raw_series):
                    try:
                        parse_formula(formula, len(series))
                    except FormulaError as exc:
                        errors["formula"] = str(exc)
        show_series = body.get("show_series", False)
        if not isinstance(show_series, bool):
            errors["show_series"] = "must be true or false"
            show_series = False
        window = body.get("window", DEFAULT_WINDOW)
        if isinstance(window, bool) or not isinstance(window, int) or not 1 <= window <= MAX_WINDOW:
            errors["window"] = f"must be a whole number of buckets from 1 to {MAX_WINDOW}"
            window = DEFAULT_WINDOW
        number = body.get("number", "total")
        if number not in NUMBER_MODES:
            errors["number"] = f"must be one of {', '.join(NUMBER_MODES)}"
            number = "total"
        if compare and date_range is not None and date_range.date_from == "all":
            errors["compare"] = "cannot compare an all-time range with a previous period"
        errors.raise_if_any()
        return cls(
            series=tuple(series),
            date_range=date_range,
            interval=Interval(interval),
            properties=properties,
            breakdown=breakdown,
            compare=compare,
            display=display,
            formula=formula,
            show_series=show_series and bool(formula),  # only means something with a formula
            window=window,
            number=number,
        )

    def to_json(self) -> dict:
        out: dict = {
            "kind": "TrendsQuery",
            "date_from": self.date_range.date_from,
            "interval": self.interval.value,
            "series": [s.to_json() for s in self.series],
            "display": self.display,
        }
        if self.date_range.date_to:
            out["date_to"] = self.date_range.date_to
        if self.properties:
            out["properties"] = [f.to_json() for f in self.properties]
        if self.breakdown:
            out["breakdown"] = self.breakdown.to_json()
        if self.compare:
            out["compare"] = True
        # New fields only when set, so a spec saved before them serializes as it did.
        if self.formula:
            out["formula"] = self.formula
            if self.show_series:
                out["show_series"] = True
        if self.window != DEFAULT_WINDOW:
            out["window"] = self.window
        if self.number != "total":
            out["number"] = self.number
        return out

    def with_date_range(self, date_from: str, date_to: str | None = None) -> TrendsSpec:
        return dataclasses.replace(self, date_range=DateRange(date_from, date_to))


def _parse_series(raw, i: int, interval: str, errors: dict, attempt) -> Series | None:
    where = f"series[{i}]"
    if not isinstance(raw, dict):
        errors[where] = "must be an object {event, math, math_property, properties, name}"
        return None
    unknown = set(raw) - SERIES_FIELDS
    if unknown:
        errors[where] = f"unknown fields: {', '.join(sorted(unknown))}"
    event = raw.get("event")
    if not isinstance(event, str) or not event.strip() or len(event) > MAX_KEY_LENGTH:
        errors[f"{where}.event"] = "pick an event"
    math = raw.get("math") or "total"
    if math not in MATHS:
        errors[f"{where}.math"] = f"must be one of {', '.join(MATHS)}"
    math_property = raw.get("math_property") or None
    if math in PROPERTY_MATHS:
        if not isinstance(math_property, str) or len(math_property) > MAX_KEY_LENGTH:
            errors[f"{where}.math_property"] = f"{math} needs a numeric property"
    else:
        math_property = None
    if math in ACTIVE_MATHS and interval == "hour":
        errors[f"{where}.math"] = f"{math} needs a day, week or month interval"
    name = raw.get("name") or None
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME_LENGTH):
        errors[f"{where}.name"] = f"must be a string of at most {MAX_NAME_LENGTH} characters"
        name = None
    properties = attempt(parse_filters, raw.get("properties"), f"{where}.properties", default=())
    if any(k.startswith(where) for k in errors):
        return None
    return Series(event=event, math=math, math_property=math_property, properties=properties, name=name)
