"""PathsSpec: the typed, validated form of a paths query (docs/paths.md).

`PathsSpec.from_json` is the one parser: the JSON API, saved insights and the
builder page (`?q=<spec JSON>` or its GET fields) all go through it. Problems are
collected into one BadRequest whose `errors` map a field to a sentence.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from django.core.exceptions import PermissionDenied

from analytics_app.errors import BadRequest
from governance import presenter
from insights.blocks import DateRange, PropertyFilter, parse_filters
from insights.blocks.body import BodyErrors

PAGEVIEW, SCREEN, CUSTOM = "$pageview", "$screen", "custom_event"
EVENT_TYPES = {
    PAGEVIEW: "Page views ($current_url)",
    SCREEN: "Screens ($screen_name)",
    CUSTOM: "Custom events (all non-$ events)",
}
MIN_STEPS, MAX_STEPS, DEFAULT_STEPS = 2, 20, 5
DEFAULT_EDGE_LIMIT, MAX_EDGE_LIMIT = 50, 1000
MAX_RULES, MAX_GROUPINGS, MAX_EXCLUDE, MAX_EVENT_TYPES = 50, 50, 100, 50
MAX_TEXT = 500
KNOWN_FIELDS = {
    "kind",
    "date_from",
    "date_to",
    "include_event_types",
    "start_point",
    "end_point",
    "step_limit",
    "path_cleaning",
    "path_groupings",
    "exclude",
    "min_edge_weight",
    "edge_limit",
    "properties",
    "masked",
}


@dataclass(frozen=True)
class CleaningRule:
    regex: str
    alias: str

    def to_json(self) -> dict:
        return {"regex": self.regex, "alias": self.alias}


def wildcard_regex(pattern: str) -> str:
    """A grouping pattern (`*` = any run of characters) as an anchored RE2 regex."""
    return "^" + ".*".join(re.escape(part) for part in pattern.split("*")) + "$"


@dataclass(frozen=True)
class PathsSpec:
    date_range: DateRange = DateRange("-7d")
    include_event_types: tuple[str, ...] = (PAGEVIEW,)
    start_point: str | None = None
    end_point: str | None = None
    step_limit: int = DEFAULT_STEPS
    path_cleaning: tuple[CleaningRule, ...] = ()
    path_groupings: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    min_edge_weight: int = 1
    edge_limit: int = DEFAULT_EDGE_LIMIT
    properties: tuple[PropertyFilter, ...] = ()
    # Cleaning rules / groupings typed by a viewer without view-PII run on the node text as
    # that viewer sees it (e-mails, query values masked), so they cannot probe for it.
    masked: bool = dataclasses.field(default=False, compare=False)

    @property
    def direction(self) -> str:
        return "backward" if self.end_point else "forward"

    def to_json(self) -> dict:
        out: dict = {
            "kind": "PathsQuery",
            "date_from": self.date_range.date_from,
            "include_event_types": list(self.include_event_types),
            "step_limit": self.step_limit,
        }
        if self.date_range.date_to:
            out["date_to"] = self.date_range.date_to
        if self.start_point:
            out["start_point"] = self.start_point
        if self.end_point:
            out["end_point"] = self.end_point
        if self.path_cleaning:
            out["path_cleaning"] = [r.to_json() for r in self.path_cleaning]
        if self.path_groupings:
            out["path_groupings"] = list(self.path_groupings)
        if self.exclude:
            out["exclude"] = list(self.exclude)
        if self.masked:  # typed by a user who sees PII masked: stays so when saved or shared
            out["masked"] = True
        if self.min_edge_weight != 1:
            out["min_edge_weight"] = self.min_edge_weight
        if self.edge_limit != DEFAULT_EDGE_LIMIT:
            out["edge_limit"] = self.edge_limit
        if self.properties:
            out["properties"] = [f.to_json() for f in self.properties]
        return out

    def with_date_range(self, date_from: str, date_to: str | None = None) -> PathsSpec:
        return dataclasses.replace(self, date_range=DateRange(date_from, date_to))

    @classmethod
    def from_json(cls, body: dict, project=None) -> PathsSpec:
        errors = BodyErrors.check(body, KNOWN_FIELDS, kind=None, label="paths query")
        date_range = DateRange.from_json(body, "-7d")

        types = body.get("include_event_types") or [PAGEVIEW]
        if not isinstance(types, list) or not all(
            isinstance(t, str) and t.strip() and len(t) <= MAX_TEXT for t in types
        ):
            errors["include_event_types"] = 'a list of "$pageview", "$screen", "custom_event" or event names'
            types = [PAGEVIEW]
        elif len(types) > MAX_EVENT_TYPES:
            errors["include_event_types"] = f"at most {MAX_EVENT_TYPES} event types"
        types = tuple(dict.fromkeys(t.strip() for t in types))

        start_point = _optional_text(body, "start_point", errors)
        end_point = _optional_text(body, "end_point", errors)
        if start_point and end_point:
            errors["end_point"] = "choose a start point or an end point, not both"

        step_limit = _int(body, "step_limit", DEFAULT_STEPS, MIN_STEPS, MAX_STEPS, errors)
        min_edge_weight = _int(body, "min_edge_weight", 1, 1, 10**9, errors)
        edge_limit = _int(body, "edge_limit", DEFAULT_EDGE_LIMIT, 1, MAX_EDGE_LIMIT, errors)

        rules = parse_cleaning_rules(body.get("path_cleaning"), "path_cleaning", errors)
        groupings = _text_list(body, "path_groupings", MAX_GROUPINGS, errors)
        exclude = _text_list(body, "exclude", MAX_EXCLUDE, errors)
        try:
            properties = parse_filters(body.get("properties"), "properties")
        except BadRequest as exc:
            errors.update(exc.errors or {"properties": exc.message})
            properties = ()
        errors.raise_if_any()
        viewer = presenter.current()
        if viewer is not None and not viewer.can_view_pii:
            for point in (start_point, end_point, *exclude):
                if point and any(c in point for c in "@?#"):
                    raise PermissionDenied(
                        "A start point, end point or exclusion holding an e-mail address or a query "
                        "string needs the view-PII permission: your role sees those parts masked."
                    )
        return cls(
            masked=body.get("masked") is True or (bool(rules or groupings) and presenter.masked_viewer()),
            date_range=date_range,
            include_event_types=types,
            start_point=start_point,
            end_point=end_point,
            step_limit=step_limit,
            path_cleaning=rules,
            path_groupings=groupings,
            exclude=exclude,
            min_edge_weight=min_edge_weight,
            edge_limit=edge_limit,
            properties=properties,
        )


def parse_cleaning_rules(raw, where: str, errors: dict) -> tuple[CleaningRule, ...]:
    if raw in (None, ""):
        return ()
    if not isinstance(raw, list) or len(raw) > MAX_RULES:
        errors[where] = f"a list of at most {MAX_RULES} {{regex, alias}} objects"
        return ()
    rules = []
    for i, item in enumerate(raw):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("regex"), str)
            or not isinstance(item.get("alias", ""), str)
        ):
            errors[f"{where}[{i}]"] = "must be an object with a regex and an alias (strings)"
            continue
        problem = regex_problem(item["regex"])
        if problem:
            errors[f"{where}[{i}].regex"] = problem
            continue
        if len(item.get("alias", "")) > MAX_TEXT:
            errors[f"{where}[{i}].alias"] = f"at most {MAX_TEXT} characters"
            continue
        rules.append(CleaningRule(item["regex"], item.get("alias", "")))
    return tuple(rules)


def regex_problem(regex: str) -> str | None:
    """Why a cleaning regex cannot be used (None if it can). ClickHouse uses RE2: the
    runner also maps RE2's own rejections (look-arounds, back-references) to a 400."""
    if not regex:
        return "must not be empty"
    if len(regex) > MAX_TEXT:
        return f"at most {MAX_TEXT} characters"
    try:
        compiled = re.compile(regex)
    except re.error as exc:
        return f"not a valid regular expression: {exc}"
    if compiled.match(""):
        return "must not match the empty string"
    if re.search(r"\(\?[=!<]|\\[1-9]", regex):
        return "look-arounds and back-references are not supported (RE2)"
    return None


def _optional_text(body: dict, name: str, errors: dict) -> str | None:
    value = body.get(name)
    if value in (None, ""):
        return None
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        errors[name] = f"a node name of at most {MAX_TEXT} characters"
        return None
    return value.strip() or None


def _int(body: dict, name: str, default: int, low: int, high: int, errors: dict) -> int:
    value = body.get(name, default)
    if value in (None, ""):
        return default
    if isinstance(value, str) and value.strip().lstrip("-").isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
        errors[name] = f"an integer from {low} to {high}"
        return default
    return value


def _text_list(body: dict, name: str, limit: int, errors: dict) -> tuple[str, ...]:
    value = body.get(name)
    if value in (None, ""):
        return ()
    if (
        not isinstance(value, list)
        or len(value) > limit
        or not all(isinstance(v, str) and len(v) <= MAX_TEXT for v in value)
    ):
        errors[name] = f"a list of at most {limit} strings"
        return ()
    return tuple(dict.fromkeys(v.strip() for v in value if v.strip()))
