"""The tracking plan enforced at ingestion (docs/tracking-plan.md, "Enforcement").

GovernanceConfig.ready sets `ingestion.processing.plan_enforcer` to `enforcer_for`:
ingestion asks once per request for the project's checker and runs it on every
processed event (name and properties after enrichment). `None` (allow mode) costs nothing
per event.

The plan is cached per project in this process: for `TTL` seconds the cached checker is
used with no query at all; after that one small query reads the plan's version (the
enforcement mode, the number of event definitions and of their properties, the latest
`updated_at`), and only when the version changed one more query loads the definitions.
A change on the plan pages or by a YAML import (every change of an event or of its
properties saves the event, bumping `updated_at`) applies within `TTL` seconds.

Violations, each a value-free text (values may be personal data; the warnings page and the
quarantine groups show these texts):

- `event not in the plan`: the name has no definition (names starting with `$`, the SDKs'
  own events, are exempt unless the plan defines them);
- `deprecated event`: the definition's status is deprecated;
- `missing required property <name>`: a required property is absent or null;
- `property <name> is not <type>`: a defined property of the wrong type;
- `property <name> is not an allowed value`;
- `property <name> does not match the pattern` (text longer than MAX_PATTERN_INPUT
  characters is not matched: `property <name> is too long for the pattern`).
Properties the plan does not define are not violations (discovery flags them).

When the plan cannot be read (a database error), ingestion goes on with the last plan
read, or with none (allow), and asks again after TTL: capture does not fail for it.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from datetime import datetime

from django.db import DatabaseError
from django.db.models import Count, Max, OuterRef, Subquery

from .models import EventDefinition, PlanSettings, PropertyDefinition
from .plan import _compiled, _type_error, validate_value

log = logging.getLogger(__name__)

TTL = 2.0  # seconds a cached plan is used without asking the database
MAX_PATTERN_INPUT = 1000  # characters of text a pattern is matched against, at most
Mode = PlanSettings.Enforcement

_ARTICLE = {
    "string": "a string",
    "number": "a number",
    "boolean": "a boolean",
    "datetime": "an ISO 8601 date-time",
    "object": "an object",
    "array": "an array",
}


@dataclass(frozen=True)
class PropertyRule:
    """What validate_value needs of a PropertyDefinition."""

    name: str
    type: str
    required: bool
    allowed_values: tuple
    pattern: str


def violation(rule: PropertyRule, value) -> str | None:
    """Why `value` breaks the property rule, without the value, or None."""
    if value is None:
        return f"missing required property {rule.name}" if rule.required else None
    if rule.pattern and isinstance(value, str) and len(value) > MAX_PATTERN_INPUT:
        if _type_error(rule.type, value) is None:
            return f"property {rule.name} is too long for the pattern"
    problem = validate_value(rule, value)
    if problem is None:
        return None
    if _type_error(rule.type, value):
        return f"property {rule.name} is not {_ARTICLE.get(rule.type, rule.type)}"
    if problem.endswith("is not one of the allowed values"):
        return f"property {rule.name} is not an allowed value"
    return f"property {rule.name} does not match the pattern"


_EXACT = {"string": str, "boolean": bool, "object": dict, "array": list}
_isfinite = math.isfinite
_fromisoformat = datetime.fromisoformat


def _compile(rule: PropertyRule) -> tuple:
    """(key, required, exact type or None, type name, allowed set or None, compiled pattern
    or None, fast, rule): `fast` False sends every present value to `violation` (allowed
    numbers and booleans compare as JSON values there)."""
    allowed = None
    fast = rule.type in _EXACT or rule.type in ("number", "datetime")
    if rule.allowed_values:
        if rule.type == "string" and all(type(a) is str for a in rule.allowed_values):
            allowed = frozenset(rule.allowed_values)
        else:
            fast = False
    compiled = _compiled(rule.pattern) if rule.pattern else None  # None if invalid: not checked
    return (rule.name, rule.required, _EXACT.get(rule.type), rule.type, allowed, compiled, fast, rule)


class Checker:
    """A project's plan, compiled for ingestion: `check(name, props)` -> violations.

    The common case (a value that passes) costs an exact type test, a set lookup and a
    compiled match inline; anything else (a subclass, a bool where a number is expected,
    allowed numbers) goes to `violation`, which decides and says why (a property test
    checks the two agree)."""

    def __init__(self, mode: str, events: dict[str, tuple[bool, tuple[PropertyRule, ...]]]):
        self.mode = mode
        self.events = {
            name: (deprecated, tuple(_compile(r) for r in rules))
            for name, (deprecated, rules) in events.items()
        }

    def check(self, name: str, props: dict) -> list[str]:
        found = self.events.get(name)
        if found is None:
            return [] if name.startswith("$") else ["event not in the plan"]
        deprecated, rules = found
        problems = ["deprecated event"] if deprecated else []
        get = props.get
        for key, required, exact, kind, allowed, compiled, fast, rule in rules:
            value = get(key)
            if value is None:
                if required:
                    problems.append(f"missing required property {key}")
                continue
            if fast:
                t = type(value)
                if exact is not None:
                    ok = t is exact
                elif kind == "number":
                    ok = t is int or (t is float and _isfinite(value))
                else:  # datetime
                    ok = t is str
                    if ok:
                        try:
                            _fromisoformat(value)
                        except ValueError:
                            ok = False
                if ok and t is str:
                    if allowed is not None and value not in allowed:
                        ok = False
                    elif compiled is not None:
                        ok = len(value) <= MAX_PATTERN_INPUT and compiled.fullmatch(value) is not None
                if ok:
                    continue
            problem = violation(rule, value)
            if problem:
                problems.append(problem)
        return problems


# project id -> (checked at (monotonic), version, checker or None)
_cache: dict[int, tuple[float, tuple, Checker | None]] = {}
_lock = threading.Lock()
stats = {"version_queries": 0, "loads": 0}


def clear_cache() -> None:
    with _lock:
        _cache.clear()


def _version(project_id: int) -> tuple:
    """One query: the enforcement mode and what changes when a definition changes."""
    from analytics_app.models import Project  # noqa: PLC0415 - the core's model

    events = EventDefinition.objects.filter(project_id=OuterRef("pk")).order_by().values("project_id")
    props = PropertyDefinition.objects.filter(project_id=OuterRef("pk"), event__isnull=False)
    row = (
        Project.objects.filter(pk=project_id)
        .annotate(
            mode=Subquery(PlanSettings.objects.filter(project_id=OuterRef("pk")).values("enforcement")[:1]),
            n_events=Subquery(events.annotate(n=Count("id")).values("n")[:1]),
            last=Subquery(events.annotate(m=Max("updated_at")).values("m")[:1]),
            n_props=Subquery(props.order_by().values("project_id").annotate(n=Count("id")).values("n")[:1]),
        )
        .values_list("mode", "n_events", "last", "n_props")
        .first()
    )
    stats["version_queries"] += 1
    if row is None:
        return (Mode.ALLOW.value,)
    return (row[0] or Mode.ALLOW.value, row[1] or 0, row[2], row[3] or 0)


def _load(project_id: int, mode: str) -> Checker:
    """One query: every event definition with its properties (a LEFT JOIN)."""
    stats["loads"] += 1
    events: dict[str, tuple[bool, list]] = {}
    rows = EventDefinition.objects.filter(project_id=project_id).values_list(
        "name",
        "status",
        "properties__name",
        "properties__type",
        "properties__required",
        "properties__allowed_values",
        "properties__pattern",
    )
    for name, status, pname, ptype, required, allowed, pattern in rows:
        deprecated, rules = events.setdefault(name, (status == EventDefinition.Status.DEPRECATED, []))
        if pname is not None:
            rules.append(PropertyRule(pname, ptype, bool(required), tuple(allowed or ()), pattern or ""))
    return Checker(
        mode,
        {
            name: (deprecated, tuple(sorted(rules, key=lambda r: r.name)))
            for name, (deprecated, rules) in events.items()
        },
    )


def enforcer_for(project) -> Checker | None:
    """The project's checker (None when it allows everything): cached, see the module doc."""
    project_id = getattr(project, "pk", None)
    if not project_id:
        return None
    now = time.monotonic()
    hit = _cache.get(project_id)
    if hit is not None and now - hit[0] < TTL:
        return hit[2]
    try:
        version = _version(project_id)
        if hit is not None and hit[1] == version:
            checker = hit[2]
        elif version[0] in (Mode.WARN, Mode.QUARANTINE):
            checker = _load(project_id, version[0])
        else:
            checker = None
    except DatabaseError:
        # Ingestion keeps going when the plan cannot be read (a locked SQLite file, a
        # database restart): the last plan read, or none (allow); asked again after TTL.
        log.warning("the tracking plan of project %s could not be read", project_id, exc_info=True)
        version = hit[1] if hit is not None else ("unreadable",)
        checker = hit[2] if hit is not None else None
    with _lock:
        _cache[project_id] = (now, version, checker)
    return checker
