"""Per-event processing: validate, correct time, enrich, give every event a uuid.

Runs in the request thread, so a client hears about a bad payload at once. The
result is a Job: plain JSON-serialisable dicts (processed events, quarantined
items, replay rows) that the writer (embedded) or the Redis Stream consumer
(production) stores. Person processing happens at store time (persons.py),
because it reads and writes state that must be serial.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from analytics_app.jsoncodec import dumps, loads

from .decoder import parse_timestamp

MAX_EVENT_BYTES = 1_000_000
MAX_EVENT_NAME = 200
MAX_DISTINCT_ID = 200
MAX_PAYLOAD_KEEP = 64 * 1024
MAX_PROPERTY_DEPTH = 32
FUTURE_TOLERANCE = dt.timedelta(hours=23)
NAMESPACE = uuid.UUID("6b1a7f5e-3c1d-4f7e-9a8b-5e1e57a11a11")

ILLEGAL_IDS_CI = {
    "anonymous",
    "guest",
    "distinct_id",
    "distinctid",
    "id",
    "not_authenticated",
    "email",
    "undefined",
    "true",
    "false",
}
ILLEGAL_IDS_CS = {"[object Object]", "NaN", "None", "none", "null", "0"}
SERVER_LIBS = {
    "posthog-python",
    "posthog-node",
    "posthog-ruby",
    "posthog-go",
    "posthog-php",
    "posthog-java",
    "posthog-dotnet",
    "posthog-elixir",
    "posthog-rs",
}

# The tracking-plan seam (governance.enforcement sets it in GovernanceConfig.ready, so
# ingestion imports nothing of governance): fn(project) -> a checker, or None when the
# project enforces nothing. Called once per request; the checker has `mode` ("warn" or
# "quarantine") and `check(name, props) -> list[str]`, the plan violations of one processed
# event (value-free texts; the first is the quarantine group's reason).
plan_enforcer: Callable | None = None

# The recordings seam: the app that keeps session recordings (replay.ingest) sets
# fn(raw_events, project, ctx) -> (Job, rejected reasons) for POST /s/, and raises
# BadSnapshot to refuse the whole request with a 400.
snapshot_processor: Callable | None = None


class BadSnapshot(Exception):
    pass


def _illegal(text: str) -> bool:
    return text == "" or text in ILLEGAL_IDS_CS or text.lower() in ILLEGAL_IDS_CI


def is_illegal_id(value: str) -> bool:
    stripped = value.strip()
    if _illegal(stripped):
        return True
    if len(stripped) >= 2 and stripped[0] == stripped[-1] and stripped[0] in "'\"":
        return _illegal(stripped[1:-1].strip())
    return False


def clean_distinct_id(value) -> str | None:
    if value is None or isinstance(value, dict | list):
        return None
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, float) and value.is_integer():
        text = str(int(value))
    else:
        text = str(value)
    text = text.replace("\0", "\ufffd")[:MAX_DISTINCT_ID]
    return text if text.strip() else None


def _depth_exceeds(value, limit: int) -> bool:
    if isinstance(value, dict):  # fast path: flat properties (the common case)
        for item in value.values():
            if isinstance(item, dict | list):
                break
        else:
            return limit < 0
    stack = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, dict | list))
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node if isinstance(v, dict | list))
    return False


def _scope_path_conflict(obj: dict) -> tuple[str, str] | None:
    """Within one JSON object, the first key spelling whose path another key already took.

    ClickHouse's JSON column splits keys at dots: `{"a.b": 1}` and `{"a": {"b": 2}}` are
    both the path `a.b`, and one object holding both is refused at insert (code 117,
    "Duplicate path"). Null values and empty objects make no path; an object inside an
    array is an object of its own (its paths start afresh).
    """
    seen: dict[tuple[str, ...], str] = {}
    stack: list[tuple[dict, tuple[str, ...], str]] = [(obj, (), "")]
    while stack:
        node, path, spelled = stack.pop()
        for key, value in node.items():
            key = str(key)
            here = (*path, *key.split("."))
            shown = f"{spelled} -> {key}" if spelled else key
            if isinstance(value, dict):
                stack.append((value, here, shown))
                continue
            if value is None:
                continue
            if here in seen:
                return seen[here], shown
            seen[here] = shown
            if isinstance(value, list):
                found = _list_path_conflict(value)
                if found:
                    return found
    return None


def _list_path_conflict(items: list) -> tuple[str, str] | None:
    for item in items:
        found = (
            _scope_path_conflict(item)
            if isinstance(item, dict)
            else _list_path_conflict(item)
            if isinstance(item, list)
            else None
        )
        if found:
            return found
    return None


def property_path_conflict(props: dict) -> tuple[str, str] | None:
    """Two property keys the events table would store at one JSON path, or None."""
    for value in props.values():
        if isinstance(value, dict | list):
            return _scope_path_conflict(props)
    return None  # flat: distinct keys are distinct paths


def truncated_payload(raw) -> str:
    try:
        text = raw if isinstance(raw, str) else dumps(raw)
    except (ValueError, RecursionError):
        text = repr(raw)[:MAX_PAYLOAD_KEEP]
    return text[:MAX_PAYLOAD_KEEP]


@functools.lru_cache(maxsize=4096)
def parse_user_agent(ua: str) -> dict:
    """$browser, $browser_version, $os, $device_type for a User-Agent header."""
    from ua_parser import parse  # noqa: PLC0415 - loads regexes on first use

    result = parse(ua[:1000])
    out = {}
    if result.user_agent and result.user_agent.family != "Other":
        out["$browser"] = result.user_agent.family
        if result.user_agent.major:
            out["$browser_version"] = (
                float(f"{result.user_agent.major}.{result.user_agent.minor or 0}")
                if (result.user_agent.minor or "0").isdigit() and result.user_agent.major.isdigit()
                else result.user_agent.major
            )
    if result.os and result.os.family != "Other":
        out["$os"] = result.os.family
    lowered = ua.lower()
    device = result.device.family if result.device else ""
    if (
        "ipad" in lowered
        or "tablet" in lowered
        or device in ("iPad",)
        or ("android" in lowered and "mobile" not in lowered)
    ):
        out["$device_type"] = "Tablet"
    elif "mobi" in lowered or "iphone" in lowered or (result.os and result.os.family in ("iOS", "Android")):
        out["$device_type"] = "Mobile"
    elif out:
        out["$device_type"] = "Desktop"
    return out


@dataclass
class RequestContext:
    now: dt.datetime
    sent_at: dt.datetime | None = None
    ip: str = ""
    user_agent: str = ""
    engage: bool = False


@dataclass
class Job:
    """What one request asks the store to write, for one project."""

    project_id: int
    events: list[dict] = field(default_factory=list)
    warnings: list[dict] = field(default_factory=list)
    snapshots: list[dict] = field(default_factory=list)
    # Events the tracking plan holds back (quarantine mode): processed like the others,
    # stored in quarantined_events instead of events (see `quarantine_row`).
    quarantined: list[dict] = field(default_factory=list)

    def size(self) -> int:
        return len(self.events) + len(self.snapshots) + len(self.warnings) + len(self.quarantined)

    def to_json(self) -> str:
        return dumps(
            {
                "project_id": self.project_id,
                "events": self.events,
                "warnings": self.warnings,
                "snapshots": self.snapshots,
                "quarantined": self.quarantined,
            }
        )

    @classmethod
    def from_json(cls, text: str | bytes) -> Job:
        doc = loads(text)
        return cls(
            int(doc["project_id"]),
            doc.get("events", []),
            doc.get("warnings", []),
            doc.get("snapshots", []),
            doc.get("quarantined", []),
        )


def warning(kind: str, ctx: RequestContext, *, event="", distinct_id="", details="", payload=None) -> dict:
    return {
        "type": kind,
        "event": event if isinstance(event, str) else truncated_payload(event)[:200],
        "distinct_id": distinct_id or "",
        "details": details,
        "payload": truncated_payload(payload) if payload is not None else "",
        "timestamp": ctx.now.isoformat(),
    }


class PlanViolation(Exception):
    """A processed event that breaks the tracking plan: `event` is complete (uuid, corrected
    timestamp, enrichment, person operations), `problems` says what broke."""

    def __init__(self, event: dict, problems: list[str]):
        super().__init__("; ".join(problems))
        self.event = event
        self.problems = problems


def quarantine_row(event: dict, problems: list[str], ctx: RequestContext) -> dict:
    """The quarantined_events row of a processed event: `payload` is the processed event
    itself (JSON), which a release stores as it would have been stored."""
    return {
        "uuid": event["uuid"],
        "reason": problems[0][:500],
        "details": "; ".join(problems)[:2000],
        "event": event["event"],
        "distinct_id": event["distinct_id"],
        "payload": dumps(event),
        "timestamp": event["timestamp"],
        "quarantined_at": ctx.now.isoformat(),
    }


class Rejected(Exception):
    def __init__(self, kind: str, details: str, distinct_id: str = "", event_name=""):
        super().__init__(details)
        self.kind = kind
        self.details = details
        self.distinct_id = distinct_id
        self.event_name = event_name


def _dict_or_empty(value) -> dict:
    return value if isinstance(value, dict) else {}


_PERSON_KEYS = ("$set", "$set_once", "$unset")


def _person_ops(raw: dict, props: dict) -> dict:
    if not any(k in props or k in raw for k in _PERSON_KEYS):
        return {}
    set_ = {**_dict_or_empty(props.get("$set")), **_dict_or_empty(raw.get("$set"))}
    set_once = {**_dict_or_empty(props.get("$set_once")), **_dict_or_empty(raw.get("$set_once"))}
    unset: list[str] = []
    for source in (props.get("$unset"), raw.get("$unset")):
        if isinstance(source, list):
            unset.extend(k for k in source if isinstance(k, str))
        elif isinstance(source, dict):
            unset.extend(k for k in source if isinstance(k, str))
    ops = {}
    if set_:
        ops["set"] = set_
    if set_once:
        ops["set_once"] = set_once
    if unset:
        ops["unset"] = unset
    return ops


def event_timestamp(
    raw: dict, props: dict, ctx: RequestContext, warnings: list, name: str, distinct_id: str
) -> dt.datetime:
    now = ctx.now
    offset = raw.get("offset")
    given = raw.get("timestamp")
    ts = parse_timestamp(given) if given is not None else None
    if (
        isinstance(offset, int | float)
        and not isinstance(offset, bool)
        and abs(offset) < 10 * 365 * 86400 * 1000
    ):
        ts = now - dt.timedelta(milliseconds=offset)
    elif ts is None:
        if given not in (None, ""):
            warnings.append(
                warning(
                    "ignored_invalid_timestamp",
                    ctx,
                    event=name,
                    distinct_id=distinct_id,
                    details=f"unparseable timestamp {str(given)[:80]!r}; used the server time",
                )
            )
        ts = now
    else:
        sent_at = parse_timestamp(raw.get("sent_at")) if raw.get("sent_at") is not None else None
        sent_at = sent_at or ctx.sent_at
        if sent_at is not None and not props.get("$ignore_sent_at"):
            try:
                ts = ts - (sent_at - now)
            except OverflowError:
                ts = now
    if ts > now + FUTURE_TOLERANCE:
        warnings.append(
            warning(
                "event_timestamp_in_future",
                ctx,
                event=name,
                distinct_id=distinct_id,
                details=f"timestamp {ts.isoformat()} is more than 23 hours ahead; stored the server time",
                payload={"timestamp": given, "sent_at": raw.get("sent_at"), "offset": offset},
            )
        )
        ts = now
    return ts


def _enrich(props: dict, raw_props: dict, ctx: RequestContext, project) -> None:
    if project.anonymize_ips:
        props.pop("$ip", None)
    elif ctx.ip and "$ip" not in props:
        props["$ip"] = ctx.ip
    ua = ctx.user_agent
    if (
        ua
        and "$browser" not in raw_props
        and props.get("$lib") not in SERVER_LIBS
        and not ua.startswith("posthog-")
    ):
        for key, value in parse_user_agent(ua).items():
            props.setdefault(key, value)


_CANONICAL_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\Z")


def process_event(raw, project, ctx: RequestContext, warnings: list, plan=None) -> dict:
    """One raw event -> a processed event dict. Raises Rejected (an ingestion warning), or
    PlanViolation when `plan` (a checker from `plan_enforcer`) finds the event breaks it."""
    if not isinstance(raw, dict):
        raise Rejected("invalid_event", "an event must be a JSON object")
    raw_props = raw.get("properties")
    if raw_props is None:
        raw_props = {}
    if not isinstance(raw_props, dict):
        raise Rejected("invalid_properties", "`properties` must be a JSON object")
    name = raw.get("event")
    if name is None and ctx.engage:
        name = "$identify"
    if not isinstance(name, str) or not name.strip():
        raise Rejected(
            "invalid_event_name",
            "`event` must be a non-empty string",
            event_name=name if isinstance(name, str) else "",
        )
    if len(name) > MAX_EVENT_NAME:
        raise Rejected(
            "invalid_event_name",
            f"`event` is longer than {MAX_EVENT_NAME} characters",
            event_name=name[:MAX_EVENT_NAME],
        )
    raw_id = raw.get("distinct_id")
    if raw_id is None or raw_id == "":
        raw_id = raw.get("$distinct_id")
    if raw_id is None or raw_id == "":
        raw_id = raw_props.get("distinct_id")
    distinct_id = clean_distinct_id(raw_id)
    if distinct_id is None:
        raise Rejected("missing_distinct_id", "the event has no usable distinct_id", event_name=name)
    if is_illegal_id(distinct_id):
        raise Rejected(
            "illegal_distinct_id",
            f"distinct_id {distinct_id!r} is a placeholder, not a user id",
            distinct_id,
            name,
        )
    if _depth_exceeds(raw_props, MAX_PROPERTY_DEPTH):
        raise Rejected(
            "properties_too_deep",
            f"properties are nested deeper than {MAX_PROPERTY_DEPTH} levels",
            distinct_id,
            name,
        )
    given_uuid = raw.get("uuid")
    if given_uuid in (None, ""):
        basis = dumps([project.id, distinct_id, name, raw.get("timestamp"), raw.get("offset"), raw_props])
        event_uuid = uuid.uuid5(NAMESPACE, basis)
    else:
        if isinstance(given_uuid, str) and _CANONICAL_UUID.match(given_uuid):
            event_uuid = given_uuid  # already what str(uuid.UUID(...)) would give
        else:
            try:
                event_uuid = uuid.UUID(str(given_uuid))
            except (ValueError, TypeError, AttributeError):
                raise Rejected(
                    "invalid_uuid", f"uuid {str(given_uuid)[:60]!r} is not a UUID", distinct_id, name
                ) from None

    props = dict(raw_props)
    timestamp = event_timestamp(raw, raw_props, ctx, warnings, name, distinct_id)
    _enrich(props, raw_props, ctx, project)
    conflict = property_path_conflict(props)
    if conflict:
        raise Rejected(
            "property_path_conflict",
            f"properties {conflict[0]!r} and {conflict[1]!r} name the same path (a dot in a key "
            "nests, as in the JSON column); rename one of them",
            distinct_id,
            name,
        )
    props_json = dumps(props)
    if len(props_json) + len(name) + len(distinct_id) > MAX_EVENT_BYTES:
        raise Rejected(
            "event_too_large", f"the event is larger than {MAX_EVENT_BYTES} bytes", distinct_id, name
        )
    person = {"process": raw_props.get("$process_person_profile") is not False, **_person_ops(raw, raw_props)}
    if name == "$identify":
        anon = clean_distinct_id(raw_props.get("$anon_distinct_id"))
        if anon:
            person["merge_from"] = anon
        person["identify"] = True
    elif name in ("$create_alias", "$merge_dangerously"):
        other = clean_distinct_id(raw_props.get("alias"))
        if other:
            person["merge_from"] = other
        person["identify"] = True
        person["dangerous"] = name == "$merge_dangerously"
    session_id = raw_props.get("$session_id")
    window_id = raw_props.get("$window_id")
    processed = {
        "uuid": str(event_uuid),
        "event": name,
        "distinct_id": distinct_id,
        "properties": props_json,
        "timestamp": timestamp.isoformat(),
        "session_id": session_id[:200] if isinstance(session_id, str) else "",
        "window_id": window_id[:200] if isinstance(window_id, str) else "",
        "person": person,
    }
    if plan is not None:
        problems = plan.check(name, props)
        if problems:
            raise PlanViolation(processed, problems)
    return processed


def process_events(raw_events: list, project, ctx: RequestContext) -> tuple[Job, list[str]]:
    """Process a batch. Returns the Job and the reasons of the events that were quarantined."""
    job = Job(project.id)
    rejected: list[str] = []
    performance = 0
    plan = plan_enforcer(project) if plan_enforcer is not None else None
    for raw in raw_events:
        if isinstance(raw, dict) and raw.get("event") == "$performance_event":
            performance += 1
            continue
        try:
            job.events.append(process_event(raw, project, ctx, job.warnings, plan))
        except PlanViolation as exc:
            if plan.mode == "quarantine":
                job.quarantined.append(quarantine_row(exc.event, exc.problems, ctx))
            else:  # warn: stored, and said
                job.events.append(exc.event)
                job.warnings.append(
                    warning(
                        "plan_violation",
                        ctx,
                        event=exc.event["event"],
                        distinct_id=exc.event["distinct_id"],
                        details="; ".join(exc.problems)[:2000],
                        payload=raw,
                    )
                )
        except Rejected as exc:
            rejected.append(exc.kind)
            job.warnings.append(
                warning(
                    exc.kind,
                    ctx,
                    event=exc.event_name,
                    distinct_id=exc.distinct_id,
                    details=exc.details,
                    payload=raw,
                )
            )
    if performance:
        job.warnings.append(
            warning(
                "performance_event_dropped",
                ctx,
                event="$performance_event",
                details=f"{performance} $performance_event item(s) dropped: Sextant does not store them",
                payload={"count": performance},
            )
        )
    return job, rejected
