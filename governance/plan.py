"""The tracking plan: the naming check, the value check ingestion enforcement will call,
and the YAML form of a plan (export, parse, diff, apply). docs/tracking-plan.md describes
the format.

`check_name` and `validate_value` are pure and cheap (no database, compiled patterns
cached): they take anything with the attributes of `PlanSettings` / `PropertyDefinition`.
"""

from __future__ import annotations

import functools
import math
import re
from dataclasses import dataclass, field, fields, replace
from datetime import datetime

import yaml
from django.contrib.auth import get_user_model
from django.db import transaction

from . import audit
from .models import PATTERN_MAX_LENGTH, EventDefinition, PlanSettings, PropertyDefinition

Naming = PlanSettings.Naming
Type = PropertyDefinition.Type
PII = PropertyDefinition.PII
Status = EventDefinition.Status

NAME_MAX_LENGTH = 200
SNAKE_CASE = re.compile(r"[a-z][a-z0-9]*(?:_[a-z0-9]+)+")
TITLE_CASE = re.compile(r"[A-Z][A-Za-z0-9]*(?: [A-Z0-9][A-Za-z0-9]*)+")


@functools.lru_cache(maxsize=1024)
def _compiled(pattern: str) -> re.Pattern | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def check_name(settings, name: str) -> str | None:
    """Why the event name `name` breaks the project's naming convention, or None.
    Names starting with "$" are PostHog's own events ($pageview, ...) and always pass."""
    naming = getattr(settings, "naming", Naming.NONE) if settings is not None else Naming.NONE
    if naming == Naming.NONE or name.startswith("$"):
        return None
    if naming == Naming.SNAKE_CASE:
        if SNAKE_CASE.fullmatch(name):
            return None
        return f"“{name}” is not snake_case object_action: lower-case words joined by _, e.g. signed_up."
    if naming == Naming.TITLE_CASE:
        if TITLE_CASE.fullmatch(name):
            return None
        return (
            f"“{name}” is not Title Case “Object Action”: capitalised words joined by spaces, e.g. Signed Up."
        )
    if naming == Naming.REGEX:
        regex = getattr(settings, "naming_regex", "") or ""
        compiled = _compiled(regex)
        if not regex or compiled is None or compiled.fullmatch(name):
            return None
        return f"“{name}” does not match the project's naming pattern {regex}."
    return None


def _type_error(type_: str, value) -> str | None:
    if type_ == Type.STRING:
        return None if isinstance(value, str) else "is not a string"
    if type_ == Type.NUMBER:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return "is not a number"
        return None if math.isfinite(value) else "is not a finite number"
    if type_ == Type.BOOLEAN:
        return None if isinstance(value, bool) else "is not true or false"
    if type_ == Type.DATETIME:
        if not isinstance(value, str):
            return "is not an ISO 8601 date-time string"
        try:
            datetime.fromisoformat(value)
        except ValueError:
            return "is not an ISO 8601 date-time string"
        return None
    if type_ == Type.OBJECT:
        return None if isinstance(value, dict) else "is not an object"
    if type_ == Type.ARRAY:
        return None if isinstance(value, list) else "is not an array"
    return None


def _same(a, b) -> bool:
    """Equal as JSON values: True is not 1, 1 is 1.0."""
    return isinstance(a, bool) == isinstance(b, bool) and a == b


def _shown(value) -> str:
    text = repr(value) if not isinstance(value, str) else f"“{value}”"
    return text if len(text) <= 80 else text[:77] + "…"


def validate_value(prop_def, value) -> str | None:
    """Why `value` breaks the property definition (type, allowed values, pattern), or None.
    A missing value (None) breaks it only when the property is required."""
    name = prop_def.name
    if value is None:
        return f"{name} is required" if prop_def.required else None
    problem = _type_error(prop_def.type, value)
    if problem:
        return f"{name}: {_shown(value)} {problem}"
    allowed = prop_def.allowed_values
    if allowed and not (
        value in allowed if isinstance(value, str) else any(_same(value, a) for a in allowed)
    ):
        return f"{name}: {_shown(value)} is not one of the allowed values"
    if prop_def.pattern and isinstance(value, str):
        compiled = _compiled(prop_def.pattern)
        if compiled is not None and not compiled.fullmatch(value):
            return f"{name}: {_shown(value)} does not match {prop_def.pattern}"
    return None


# ---- the plan as data ----------------------------------------------------------------


@dataclass(frozen=True)
class PropertySpec:
    name: str
    type: str = Type.STRING.value
    required: bool = False
    allowed_values: tuple = ()
    pattern: str = ""
    pii: str = PII.NONE.value
    dimension: bool = False
    description: str = ""

    def as_dict(self) -> dict:
        """The YAML/audit form: name and type, then what differs from the defaults."""
        out: dict = {"name": self.name, "type": self.type}
        for f in fields(self)[2:]:
            value = getattr(self, f.name)
            if value != f.default:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return out


@dataclass(frozen=True)
class EventSpec:
    name: str
    description: str = ""
    owner: str | None = None
    status: str = Status.PLANNED.value
    tags: tuple[str, ...] = ()
    example: str = ""
    properties: tuple[PropertySpec, ...] = ()

    def fields_dict(self) -> dict:
        """The event's own fields (no properties), every one."""
        return {
            "description": self.description,
            "owner": self.owner,
            "status": self.status,
            "tags": list(self.tags),
            "example": self.example,
        }

    def as_dict(self) -> dict:
        out: dict = {"name": self.name}
        for key, value in self.fields_dict().items():
            if key == "status" or value not in ("", None, []):
                out[key] = value
        if self.properties:
            out["properties"] = [p.as_dict() for p in self.properties]
        return out


@dataclass(frozen=True)
class Plan:
    naming: str | None = None  # None: the file does not say (the project's stays)
    naming_regex: str = ""
    events: tuple[EventSpec, ...] = ()
    person_properties: tuple[PropertySpec, ...] = ()


def owner_label(user) -> str | None:
    if user is None:
        return None
    return user.email or user.get_username()


def property_spec(prop: PropertyDefinition) -> PropertySpec:
    return PropertySpec(
        name=prop.name,
        type=str(prop.type),
        required=prop.required,
        allowed_values=tuple(prop.allowed_values or ()),
        pattern=prop.pattern,
        pii=str(prop.pii_class),
        dimension=prop.dimension,
        description=prop.description,
    )


def event_spec(event: EventDefinition, properties=None) -> EventSpec:
    props = properties if properties is not None else event.properties.all()
    return EventSpec(
        name=event.name,
        description=event.description,
        owner=owner_label(event.owner),
        status=str(event.status),
        tags=tuple(event.tags or ()),
        example=event.example,
        properties=tuple(property_spec(p) for p in sorted(props, key=lambda p: p.name)),
    )


def project_plan(project) -> Plan:
    """The project's plan as stored, events and properties sorted by name."""
    settings = PlanSettings.of(project)
    props = list(PropertyDefinition.objects.filter(project=project))
    by_event: dict[int, list] = {}
    for p in props:
        by_event.setdefault(p.event_id, []).append(p)
    events = EventDefinition.objects.filter(project=project).select_related("owner").order_by("name")
    return Plan(
        naming=str(settings.naming),
        naming_regex=settings.naming_regex if settings.naming == Naming.REGEX else "",
        events=tuple(event_spec(e, by_event.get(e.pk, [])) for e in events),
        person_properties=tuple(
            property_spec(p) for p in sorted(by_event.get(None, []), key=lambda p: p.name)
        ),
    )


class _Dumper(yaml.SafeDumper):
    """PyYAML's safe dumper, except that text holding a Unicode line break (NEL, LS, PS) is
    double-quoted: in a single-quoted scalar PyYAML folds NEL into a space on reading."""


def _represent_str(dumper, value: str):
    style = '"' if any(c in value for c in "\x85\u2028\u2029") else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def to_yaml(plan: Plan) -> str:
    doc: dict = {"naming": plan.naming or Naming.NONE.value}
    if plan.naming == Naming.REGEX:
        doc["naming_regex"] = plan.naming_regex
    doc["events"] = [e.as_dict() for e in plan.events]
    doc["person_properties"] = [p.as_dict() for p in plan.person_properties]
    return yaml.dump(
        doc, Dumper=_Dumper, sort_keys=False, allow_unicode=True, default_flow_style=False, width=1000
    )


def export_yaml(project) -> str:
    return to_yaml(project_plan(project))


# ---- parsing -------------------------------------------------------------------------


@dataclass(frozen=True)
class PlanError:
    field: str  # "events[2].properties[0].type"
    line: int | None
    message: str

    def __str__(self) -> str:
        where = f"line {self.line}, " if self.line else ""
        return f"{where}{self.field or 'file'}: {self.message}"


class PlanInvalid(ValueError):
    def __init__(self, errors: list[PlanError]):
        super().__init__("; ".join(str(e) for e in errors))
        self.errors = errors


MAX_YAML_BYTES = 1_000_000
TOP_KEYS = ("naming", "naming_regex", "events", "person_properties")
EVENT_KEYS = ("name", "description", "owner", "status", "tags", "example", "properties")
PROPERTY_KEYS = ("name", "type", "required", "allowed_values", "pattern", "pii", "dimension", "description")


def _path_text(path: tuple) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


class _Reader:
    """Walks the loaded document, collecting every error with its field path and line."""

    def __init__(self, lines: dict[tuple, int]):
        self.lines = lines
        self.errors: list[PlanError] = []

    def error(self, path: tuple, message: str) -> None:
        line = None
        for n in range(len(path), -1, -1):
            line = self.lines.get(path[:n])
            if line is not None:
                break
        self.errors.append(PlanError(_path_text(path), line, message))

    def mapping(self, value, path: tuple, keys: tuple[str, ...]) -> dict | None:
        if not isinstance(value, dict):
            self.error(path, "expected a mapping (key: value lines)")
            return None
        for key in value:
            if key not in keys:
                self.error((*path, str(key)), f"unknown field; expected one of {', '.join(keys)}")
        return value

    def text(self, data: dict, key: str, path: tuple, *, required=False, max_length=None) -> str:
        value = data.get(key)
        if value is None:
            if required:
                self.error((*path, key), "required")
            return ""
        if not isinstance(value, str):
            self.error((*path, key), f"expected text, got {_shown(value)} (quote it)")
            return ""
        if required and not value.strip():
            self.error((*path, key), "must not be empty")
        if max_length and len(value) > max_length:
            self.error((*path, key), f"at most {max_length} characters")
        return value

    def choice(self, data: dict, key: str, path: tuple, choices, default: str) -> str:
        value = data.get(key, default)
        if value is None:
            return default
        if value not in choices.values:
            self.error((*path, key), f"expected one of {', '.join(choices.values)}, got {_shown(value)}")
            return default
        return value

    def flag(self, data: dict, key: str, path: tuple) -> bool:
        value = data.get(key, False)
        if value is None:
            return False
        if not isinstance(value, bool):
            self.error((*path, key), f"expected true or false, got {_shown(value)}")
            return False
        return value

    def items(self, data: dict, key: str, path: tuple) -> list:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.error((*path, key), "expected a list")
            return []
        return value

    def pattern(self, value: str, path: tuple) -> None:
        if len(value) > PATTERN_MAX_LENGTH:
            self.error(path, f"at most {PATTERN_MAX_LENGTH} characters")
        elif _compiled(value) is None:
            self.error(path, "not a valid regular expression")

    def property(self, value, path: tuple) -> PropertySpec | None:
        data = self.mapping(value, path, PROPERTY_KEYS)
        if data is None:
            return None
        name = self.text(data, "name", path, required=True, max_length=NAME_MAX_LENGTH)
        if "type" not in data:
            self.error((*path, "type"), f"required: one of {', '.join(Type.values)}")
        type_ = self.choice(data, "type", path, Type, Type.STRING.value)
        pattern = self.text(data, "pattern", path)
        if pattern:
            self.pattern(pattern, (*path, "pattern"))
        allowed = []
        probe = PropertySpec(name=name or "value", type=type_)
        for i, v in enumerate(self.items(data, "allowed_values", path)):
            if isinstance(v, dict | list) or not isinstance(v, str | int | float | bool):
                self.error(
                    (*path, "allowed_values", i), f"expected a single value, got {_shown(v)} (quote it)"
                )
                continue
            problem = validate_value(probe, v)
            if problem:
                self.error((*path, "allowed_values", i), problem.split(": ", 1)[-1])
            elif any(_same(v, a) for a in allowed):
                self.error((*path, "allowed_values", i), f"{_shown(v)} is listed twice")
            else:
                allowed.append(v)
        return PropertySpec(
            name=name,
            type=type_,
            required=self.flag(data, "required", path),
            allowed_values=tuple(allowed),
            pattern=pattern,
            pii=self.choice(data, "pii", path, PII, PII.NONE.value),
            dimension=self.flag(data, "dimension", path),
            description=self.text(data, "description", path),
        )

    def properties(self, data: dict, key: str, path: tuple) -> tuple[PropertySpec, ...]:
        out: list[PropertySpec] = []
        seen: set[str] = set()
        for i, value in enumerate(self.items(data, key, path)):
            spec = self.property(value, (*path, key, i))
            if spec is None:
                continue
            if spec.name in seen:
                self.error((*path, key, i, "name"), f"“{spec.name}” is defined twice")
                continue
            seen.add(spec.name)
            out.append(spec)
        return tuple(sorted(out, key=lambda p: p.name))

    def event(self, value, path: tuple) -> EventSpec | None:
        data = self.mapping(value, path, EVENT_KEYS)
        if data is None:
            return None
        tags = []
        for i, tag in enumerate(self.items(data, "tags", path)):
            if not isinstance(tag, str) or not tag.strip():
                self.error((*path, "tags", i), f"expected a non-empty text tag, got {_shown(tag)}")
            elif tag not in tags:
                tags.append(tag)
        owner = data.get("owner")
        if owner is not None and not isinstance(owner, str):
            self.error((*path, "owner"), "expected an e-mail address")
            owner = None
        return EventSpec(
            name=self.text(data, "name", path, required=True, max_length=NAME_MAX_LENGTH),
            description=self.text(data, "description", path),
            owner=owner or None,
            status=self.choice(data, "status", path, Status, Status.PLANNED.value),
            tags=tuple(tags),
            example=self.text(data, "example", path),
            properties=self.properties(data, "properties", path),
        )


def _line_map(node, path: tuple, lines: dict, seen: set) -> None:
    """Record each path's line; refuse anchors/aliases (a node reached twice)."""
    if id(node) in seen:
        raise PlanInvalid(
            [PlanError(_path_text(path), node.start_mark.line + 1, "aliases (*name) are not supported")]
        )
    seen.add(id(node))
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        keys = set()
        for key_node, value_node in node.value:
            key = key_node.value if isinstance(key_node, yaml.ScalarNode) else None
            if key in keys:
                raise PlanInvalid(
                    [PlanError(_path_text((*path, key)), key_node.start_mark.line + 1, "defined twice")]
                )
            keys.add(key)
            _line_map(value_node, (*path, key), lines, seen)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _line_map(item, (*path, i), lines, seen)


def _refuse_nul(reader: _Reader, value, path: tuple) -> None:
    """NUL characters ("\\0"): PostgreSQL's text columns cannot hold them."""
    if isinstance(value, str) and "\x00" in value:
        reader.error(path, "contains a NUL character (\\0)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _refuse_nul(reader, item, (*path, str(key)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _refuse_nul(reader, item, (*path, i))


def parse_yaml(text: str) -> Plan:
    """The plan a YAML file describes; raises PlanInvalid with every error found."""
    if len(text.encode("utf-8", "replace")) > MAX_YAML_BYTES:
        raise PlanInvalid([PlanError("", None, f"the file is larger than {MAX_YAML_BYTES // 1000} kB")])
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        lines: dict[tuple, int] = {}
        if node is not None:
            _line_map(node, (), lines, set())
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(p for p in (exc.context, exc.problem) if p) or "not valid YAML"
        raise PlanInvalid([PlanError("", mark.line + 1 if mark else None, message)]) from None
    except yaml.YAMLError as exc:
        raise PlanInvalid([PlanError("", None, f"not valid YAML: {exc}")]) from None
    finally:
        loader.dispose()
    if data is None:
        raise PlanInvalid([PlanError("", None, "the file is empty")])
    reader = _Reader(lines)
    _refuse_nul(reader, data, ())
    if reader.errors:
        raise PlanInvalid(reader.errors)
    top = reader.mapping(data, (), TOP_KEYS)
    if top is None:
        raise PlanInvalid(reader.errors)
    naming = reader.choice(top, "naming", (), Naming, Naming.NONE.value) if "naming" in top else None
    naming_regex = reader.text(top, "naming_regex", ())
    if naming == Naming.REGEX:
        if not naming_regex:
            reader.error(("naming_regex",), "required when naming is regex")
        else:
            reader.pattern(naming_regex, ("naming_regex",))
    elif naming_regex:
        reader.error(("naming_regex",), "only used with naming: regex")
    events: list[EventSpec] = []
    seen: set[str] = set()
    for i, value in enumerate(reader.items(top, "events", ())):
        spec = reader.event(value, ("events", i))
        if spec is None:
            continue
        if spec.name in seen:
            reader.error(("events", i, "name"), f"“{spec.name}” is defined twice")
            continue
        seen.add(spec.name)
        events.append(spec)
    person = reader.properties(top, "person_properties", ())
    if reader.errors:
        raise PlanInvalid(reader.errors)
    return Plan(
        naming=naming,
        naming_regex=naming_regex if naming == Naming.REGEX else "",
        events=tuple(sorted(events, key=lambda e: e.name)),
        person_properties=person,
    )


# ---- diff and apply ------------------------------------------------------------------


@dataclass(frozen=True)
class FieldChange:
    field: str
    before: object
    after: object

    @staticmethod
    def _text(value) -> str:
        if isinstance(value, list | tuple):
            return ", ".join(_text_item(v) for v in value) if value else ""
        return "" if value is None else _text_item(value)

    @property
    def before_text(self) -> str:
        return self._text(self.before)

    @property
    def after_text(self) -> str:
        return self._text(self.after)


def _text_item(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True)
class PropertyChange:
    name: str
    changes: tuple[FieldChange, ...]


@dataclass(frozen=True)
class EventChange:
    name: str
    changes: tuple[FieldChange, ...] = ()
    added: tuple[PropertySpec, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[PropertyChange, ...] = ()

    @property
    def empty(self) -> bool:
        return not (self.changes or self.added or self.removed or self.changed)


@dataclass(frozen=True)
class PlanDiff:
    settings: tuple[FieldChange, ...] = ()
    added: tuple[EventSpec, ...] = ()
    removed: tuple[str, ...] = ()
    changed: tuple[EventChange, ...] = ()
    person: EventChange = field(default_factory=lambda: EventChange(name=""))

    @property
    def empty(self) -> bool:
        return not (self.settings or self.added or self.removed or self.changed) and self.person.empty

    def counts(self) -> dict[str, int]:
        return {
            "events_added": len(self.added),
            "events_removed": len(self.removed),
            "events_changed": len(self.changed),
            "properties_added": sum(len(e.properties) for e in self.added)
            + sum(len(c.added) for c in self.changed)
            + len(self.person.added),
            "properties_removed": sum(len(c.removed) for c in self.changed) + len(self.person.removed),
            "properties_changed": sum(len(c.changed) for c in self.changed) + len(self.person.changed),
        }


def _field_changes(before: dict, after: dict) -> tuple[FieldChange, ...]:
    return tuple(FieldChange(k, before[k], after[k]) for k in before if before[k] != after[k])


def _prop_fields(p: PropertySpec) -> dict:
    return {f.name: getattr(p, f.name) for f in fields(p)[1:]}


def _properties_change(name: str, before, after, changes=()) -> EventChange:
    old = {p.name: p for p in before}
    new = {p.name: p for p in after}
    changed = []
    for pname in sorted(old.keys() & new.keys()):
        c = _field_changes(_prop_fields(old[pname]), _prop_fields(new[pname]))
        if c:
            changed.append(PropertyChange(pname, c))
    return EventChange(
        name=name,
        changes=changes,
        added=tuple(new[n] for n in sorted(new.keys() - old.keys())),
        removed=tuple(sorted(old.keys() - new.keys())),
        changed=tuple(changed),
    )


def diff_plans(current: Plan, plan: Plan) -> PlanDiff:
    settings = []
    if plan.naming is not None:
        for key in ("naming", "naming_regex"):
            if getattr(current, key) != getattr(plan, key):
                settings.append(FieldChange(key, getattr(current, key), getattr(plan, key)))
    old = {e.name: e for e in current.events}
    new = {e.name: e for e in plan.events}
    changed = []
    for name in sorted(old.keys() & new.keys()):
        own = _field_changes(old[name].fields_dict(), new[name].fields_dict())
        change = _properties_change(name, old[name].properties, new[name].properties, own)
        if not change.empty:
            changed.append(change)
    return PlanDiff(
        settings=tuple(settings),
        added=tuple(new[n] for n in sorted(new.keys() - old.keys())),
        removed=tuple(sorted(old.keys() - new.keys())),
        changed=tuple(changed),
        person=_properties_change("", current.person_properties, plan.person_properties),
    )


def diff(project, plan: Plan) -> PlanDiff:
    """What applying `plan` would change in the project: the file replaces the plan, so
    definitions the file does not list are removed. Owners compare as the members they
    name (ALICE@example.com is alice@example.com)."""
    members = members_by_label(project)

    def owner(spec: EventSpec) -> EventSpec:
        user = members.get(spec.owner.lower()) if spec.owner else None
        return replace(spec, owner=owner_label(user)) if user is not None else spec

    return diff_plans(project_plan(project), replace(plan, events=tuple(owner(e) for e in plan.events)))


def members_by_label(project) -> dict[str, object]:
    """The project's members by lower-cased e-mail and username (owners in a file)."""
    out: dict[str, object] = {}
    for user in get_user_model().objects.filter(memberships__project=project):
        out.setdefault(user.get_username().lower(), user)
        if user.email:
            out[user.email.lower()] = user
    return out


def plan_problems(project, plan: Plan) -> list[PlanError]:
    """What the project refuses in a well-formed plan: owners who are not members."""
    members = members_by_label(project)
    return [
        PlanError(f"events[{i}].owner", None, f"{e.owner} is not a member of {project.name}")
        for i, e in enumerate(plan.events)
        if e.owner and e.owner.lower() not in members
    ]


def naming_warnings(project, plan: Plan) -> list[str]:
    """The plan's event names that break the naming convention it will leave in force."""
    if plan.naming is not None:
        rule = PlanSettings(naming=plan.naming, naming_regex=plan.naming_regex)
    else:
        rule = PlanSettings.of(project)
    return [r for r in (check_name(rule, e.name) for e in plan.events) if r]


def save_properties(project, event, specs) -> None:
    """Make the stored properties of `event` (None: person properties) exactly `specs`."""
    existing = {p.name: p for p in PropertyDefinition.objects.filter(project=project, event=event)}
    wanted = {s.name for s in specs}
    stale = [p.pk for name, p in existing.items() if name not in wanted]
    if stale:
        PropertyDefinition.objects.filter(pk__in=stale).delete()
    for spec in specs:
        prop = existing.get(spec.name) or PropertyDefinition(project=project, event=event, name=spec.name)
        if prop.pk is not None and property_spec(prop) == spec:
            continue
        prop.type = spec.type
        prop.required = spec.required
        prop.allowed_values = list(spec.allowed_values)
        prop.pattern = spec.pattern
        prop.pii_class = spec.pii
        prop.dimension = spec.dimension
        prop.description = spec.description
        prop.save()


def save_event(project, event: EventDefinition | None, spec: EventSpec, owner) -> EventDefinition:
    """Create or update one event definition and its properties from `spec`."""
    if event is None:
        event = EventDefinition(project=project)
    event.name = spec.name
    event.description = spec.description
    event.owner = owner
    event.status = spec.status
    event.tags = list(spec.tags)
    event.example = spec.example
    event.save()
    save_properties(project, event, spec.properties)
    return event


def apply(project, plan: Plan, actor_request) -> PlanDiff:
    """Make the project's plan exactly `plan` (one transaction, audited "plan.import")."""
    problems = plan_problems(project, plan)
    if problems:
        raise PlanInvalid(problems)
    members = members_by_label(project)
    with transaction.atomic():
        changes = diff(project, plan)
        if plan.naming is not None:
            settings = PlanSettings.of(project)
            settings.naming = plan.naming
            settings.naming_regex = plan.naming_regex
            settings.save()
        EventDefinition.objects.filter(project=project, name__in=changes.removed).delete()
        existing = {e.name: e for e in EventDefinition.objects.filter(project=project)}
        touched = {e.name for e in changes.added} | {c.name for c in changes.changed}
        for spec in plan.events:
            if spec.name in touched:
                owner = members.get(spec.owner.lower()) if spec.owner else None
                save_event(project, existing.get(spec.name), spec, owner)
        save_properties(project, None, plan.person_properties)
        audit.record(
            actor_request,
            "plan.import",
            project=project,
            target=f"{len(plan.events)} events",
            after={**changes.counts(), "settings": [c.field for c in changes.settings]},
        )
    return changes
