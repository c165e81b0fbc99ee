"""The player page, its sandboxed replay frame, and the snapshots API.

- ``player``: /project/<id>/replay/<session_id>[?t=<ms from start> | ?at=<epoch ms>]
  The page around the replay: controls, the activity heatbar under the timeline,
  the session's analytics events and console logs (each seeks), the person and
  their other recordings, and a "link to this moment".
- ``frame``: /replay/frame/ — the page inside ``<iframe sandbox="allow-scripts
  allow-same-origin">``. It loads the vendored rrweb-player and gets the events
  and the commands from the parent by postMessage. It holds no data, so it needs
  no login. Its CSP runs only our script files (no inline script, no eval), allows
  no network calls and no forms; the nested iframe in which rrweb rebuilds the
  recorded page (sandboxed by rrweb without scripts) inherits that CSP. It cannot
  be an opaque-origin sandbox: rrweb must reach into its nested iframe, and a frame
  nested in an opaque sandbox is itself opaque (sandbox flags propagate), so
  rrweb-player fails there (docs/replay.md).
- ``api_snapshots``: GET /api/projects/<id>/recordings/<session_id>/snapshots/
  -> {"snapshots": [rrweb events in time order]}, masked per role and the project's
  replay_text_masking setting (replay/masking.py).
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django.http import Http404, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET

from analytics_app import clickhouse as ch
from analytics_app.access import json_error, project_api, project_page
from analytics_app.errors import BadRequest
from governance.masking import mask_text
from governance.roles import Permission
from insights.blocks import DateRange

from . import snapshots
from .queries import mask_url

# The replay frame may run our scripts; it may not fetch, submit, or load plugins. What the
# recorded page's images, fonts, stylesheets and media may load is the project's
# `replay_resources` setting: a resource from another server tells it the viewer's IP address.
FRAME_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline' {sources}; "
    "img-src {sources} data: blob:; font-src {sources} data:; media-src {sources} data: blob:; "
    "frame-src 'self' blob: data:; connect-src 'none'; form-action 'none'; base-uri 'none'; object-src 'none'"
)
RESOURCES = ("origin", "none", "any")
MAX_ORIGINS = 5
ORIGIN_RE = re.compile(r"https?://[a-z0-9.-]+(:[0-9]{1,5})?", re.IGNORECASE)


def frame_csp(resources: str, origins: list[str]) -> str:
    """The frame's CSP for a project setting and the recorded site's origins (validated here:
    the frame's query string is client input)."""
    if resources == "any":
        sources = "*"
    elif resources == "origin":
        sources = " ".join(o for o in origins[:MAX_ORIGINS] if ORIGIN_RE.fullmatch(o)) or "'self'"
    else:
        sources = "'self'"
    return FRAME_CSP.format(sources=sources)


def recorded_origins(timeline: snapshots.Timeline) -> list[str]:
    """The origins of the pages a recording visited, first first, at most MAX_ORIGINS."""
    found: dict[str, None] = {}
    for _, href in timeline.navigations:
        parts = urlsplit(href) if isinstance(href, str) else None
        if parts and parts.scheme in ("http", "https") and parts.hostname:
            origin = f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1]}".lower()
            if ORIGIN_RE.fullmatch(origin):
                found.setdefault(origin)
        if len(found) >= MAX_ORIGINS:
            break
    return list(found)


SPEEDS = (1, 2, 4, 8, 16)
SKIP_MS = 5000
OTHER_RECORDINGS = 10
PANEL_PROPERTIES = ("$current_url", "$pathname", "$el_text", "$event_type")


@dataclass(frozen=True)
class PlayerSpec:
    """What the player page is asked for: a session and where to open it."""

    session_id: str
    t: int | None = None  # ms from the recording's start
    at: int | None = None  # epoch ms (deep links); wins over t

    @classmethod
    def from_request(cls, session_id: str, params) -> PlayerSpec:
        return cls(snapshots.parse_session_id(session_id), _ms_param(params, "t"), _ms_param(params, "at"))

    def start_offset(self, timeline: snapshots.Timeline) -> int:
        if self.at is not None:
            return timeline.offset(self.at)
        return min(self.t or 0, timeline.duration_ms)


def _ms_param(params, name: str) -> int | None:
    raw = params.get(name, "")
    if raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise BadRequest(
            f"{name} must be a whole number of milliseconds.", {name: "not an integer"}
        ) from None
    if value < 0 or value > 10**15:
        raise BadRequest(f"{name} is out of range.", {name: "out of range"})
    return value


def _fmt(ms: int) -> str:
    seconds = max(0, ms) // 1000
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def _error(request, status: int, message: str, errors: dict):
    return render(
        request,
        "explorer/error.html",
        {"project": request.project, "message": message, "errors": errors},
        status=status,
    )


@require_GET
@project_page(Permission.VIEW_RECORDINGS)
def player(request, session_id):
    project, presenter = request.project, request.presenter
    try:
        spec = PlayerSpec.from_request(session_id, request.GET)
        timeline = snapshots.session_timeline(project, spec.session_id, presenter)
        if timeline is None:
            raise Http404("No recording of this session")
        summary = _summary(project, spec.session_id)
        windows = snapshots.session_windows(project, spec.session_id)
        events = snapshots.session_events(project, spec.session_id, timeline.start_ms, timeline.end_ms)
        context = {
            "project": project,
            "session_id": spec.session_id,
            "timeline": timeline,
            "start": dt.datetime.fromtimestamp(timeline.start_ms / 1000, dt.UTC).astimezone(project.tz),
            "duration": _fmt(timeline.duration_ms),
            "summary": summary,
            "person": _person(project, summary, presenter),
            "other_recordings": _other_recordings(project, summary, spec.session_id),
            "heat_path": snapshots.heatbar_path(
                snapshots.heatbar(timeline.marks, timeline.start_ms, timeline.end_ms)
            ),
            "speeds": SPEEDS,
            "skip_seconds": SKIP_MS // 1000,
            "frame_url": _frame_url(project, timeline),
            "can_view_persons": Permission.VIEW_INSIGHTS in request.perms,
            **_panels(timeline, events, presenter),
            **_windows(timeline, windows),
        }
    except BadRequest as exc:
        return _error(request, 400, exc.message, exc.errors)
    except (ch.QueryTimeout, ch.QueryTooLarge):
        return _error(request, 422, "The recording is too large for the configured query limits.", {})
    context["config"] = {
        "snapshotsUrl": reverse(
            "replay:api_snapshots", kwargs={"project_id": project.pk, "session_id": spec.session_id}
        ),
        "startOffset": spec.start_offset(timeline),
        "durationMs": timeline.duration_ms,
        "startMs": timeline.start_ms,
        "speeds": SPEEDS,
        "skipMs": SKIP_MS,
        "momentUrl": request.build_absolute_uri(
            reverse("replay:player", kwargs={"project_id": project.pk, "session_id": spec.session_id})
        ),
        "windowId": context.pop("window_id"),
    }
    return render(request, "replay/player.html", context)


def _panels(timeline: snapshots.Timeline, events, presenter) -> dict:
    """The side panel (events, console, pages) and the timeline's ticks, each with its offset."""

    def moment(ts: int) -> dict:
        offset = timeline.offset(ts)
        return {"offset": offset, "at": _fmt(offset)}

    duration = max(1, timeline.duration_ms)
    console = [{**moment(c.ts), "level": c.level, "text": c.text, "trace": c.trace} for c in timeline.console]
    return {
        "events": [
            {
                **moment(e.ts),
                "uuid": e.uuid,
                "event": e.event,
                "detail": _event_detail(e, presenter),
                "properties": presenter.properties(e.properties),
            }
            for e in events
        ],
        "console": console,
        "errors": sum(1 for c in console if c["level"] in ("error", "assert")),
        "navigations": [{**moment(ts), "href": href} for ts, href in timeline.navigations],
        "ticks": [
            {**moment(m.ts), "left": round(100 * timeline.offset(m.ts) / duration, 3), "kind": m.kind}
            for m in timeline.marks
            if m.kind in ("rage_click", "console_error", "navigation")
        ],
    }


def _windows(timeline: snapshots.Timeline, windows: list[snapshots.Window]) -> dict:
    """Each browser window (tab) is its own rrweb recording: the player plays one at a time,
    the busiest first, aligned on the session's timeline; the others are offered."""
    if len(windows) < 2:
        return {"windows": [], "window_id": None}
    busiest = max(windows, key=lambda w: (w.events, -w.first_ms))
    return {
        "windows": [
            {
                "id": w.window_id,
                "label": f"Window {i} · {_fmt(timeline.offset(w.first_ms))}-{_fmt(timeline.offset(w.last_ms))}"
                f" · {w.events} events",
                "selected": w is busiest,
            }
            for i, w in enumerate(windows, 1)
        ],
        "window_id": busiest.window_id,
    }


def _event_detail(event, presenter) -> str:
    props = presenter.properties(event.properties)
    for key in PANEL_PROPERTIES:
        value = props.get(key)
        if value not in (None, ""):
            text = str(value)
            return mask_url(text, presenter) if key == "$current_url" else text[:200]
    return ""


def _summary(project, session_id: str) -> dict | None:
    try:
        from .summary import summary  # noqa: PLC0415 - R1's per-session summaries
    except ImportError:  # pragma: no cover
        return None
    return summary(project, session_id)


def _person(project, summary, presenter) -> dict | None:
    if not summary:
        return None
    person_id = summary.get("person_id")
    distinct_id = summary.get("distinct_id") or ""
    if not presenter.can_view_pii and "@" in distinct_id:  # an identified user's email as their id
        distinct_id = mask_text(distinct_id)
    if not person_id or person_id == uuid.UUID(int=0):
        return {"id": None, "name": distinct_id, "distinct_id": distinct_id, "properties": {}}
    from explorer.queries import PersonQueryRunner  # noqa: PLC0415

    row = PersonQueryRunner(project, person_id).run()
    named = row is not None and any(
        row.properties.get(k) not in (None, "") for k in ("name", "email", "$email", "username")
    )
    name = row.display_name(presenter) if named else distinct_id
    properties = presenter.properties(row.properties) if row is not None else {}
    return {"id": person_id, "name": name, "distinct_id": distinct_id, "properties": properties}


def _other_recordings(project, summary, session_id: str) -> list[dict]:
    if not summary:
        return []
    from .forms import RecordingsSpec  # noqa: PLC0415
    from .queries import RecordingsQueryRunner  # noqa: PLC0415

    person_id = summary.get("person_id")
    if person_id and person_id != uuid.UUID(int=0):
        spec = RecordingsSpec(date_range=DateRange("all"), person_id=person_id, limit=OTHER_RECORDINGS + 1)
    elif summary.get("distinct_id"):
        spec = RecordingsSpec(
            date_range=DateRange("all"), distinct_id=summary["distinct_id"], limit=OTHER_RECORDINGS + 1
        )
    else:
        return []
    rows = [r for r in RecordingsQueryRunner(project, spec).run().rows if r.session_id != session_id]
    tz = project.tz
    return [
        {
            "session_id": r.session_id,
            "url": reverse("replay:player", kwargs={"project_id": project.pk, "session_id": r.session_id}),
            "start": r.start_time.astimezone(tz),
            "duration": _fmt(r.duration_ms),
            "errors": r.console_error_count,
        }
        for r in rows[:OTHER_RECORDINGS]
    ]


def _frame_url(project, timeline: snapshots.Timeline) -> str:
    query = {"resources": project.replay_resources}
    if project.replay_resources == "origin":
        query["origin"] = " ".join(recorded_origins(timeline))
    return f"{reverse('replay:frame')}?{urlencode(query)}"


@require_GET
def frame(request):
    resources = request.GET.get("resources", "none")
    origins = request.GET.get("origin", "").split()
    response = render(request, "replay/frame.html")
    response["Content-Security-Policy"] = frame_csp(resources if resources in RESOURCES else "none", origins)
    response["Cache-Control"] = "public, max-age=3600"
    return response


@require_GET
@project_api(Permission.VIEW_RECORDINGS)
def api_snapshots(request, session_id):
    session_id = snapshots.parse_session_id(session_id)
    window_id = snapshots.parse_window_id(request.GET.get("window_id"))
    body = snapshots.snapshots_body(request.project, session_id, request.presenter, window_id)
    if body is None:
        return json_error(404, "No recording of this session.")
    response = HttpResponse(body, content_type="application/json")
    response["Cache-Control"] = "private, no-store"
    return response


# The snapshots endpoint in GET /api/schema/ (registered by replay.register).
SNAPSHOTS_PATHS = {
    "/api/projects/{project_id}/recordings/{session_id}/snapshots/": {
        "get": {
            "summary": "A recording's rrweb events",
            "description": (
                "The session's rrweb events in time order (every window), decompressed. Without the "
                "view-PII permission, same-length masks replace: by the project's PII policy (the default), "
                "inputs, the PII the detectors find (e-mail, phone, card, IBAN) and the recorded person's PII "
                "values in text, attributes and console logs, the text of elements matching the project's "
                "mask selectors, and URL query values; with replay_text_masking 'all', every text. "
                "Needs the view-recordings permission."
            ),
            "parameters": [
                {"name": "project_id", "in": "path", "required": True, "schema": {"type": "integer"}},
                {
                    "name": "session_id",
                    "in": "path",
                    "required": True,
                    "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{1,70}$"},
                    "description": "posthog-js $session_id",
                },
                {
                    "name": "window_id",
                    "in": "query",
                    "schema": {"type": "string", "maxLength": 200},
                    "description": "only this browser window (posthog-js $window_id)",
                },
            ],
            "responses": {
                "200": {
                    "description": "the recording",
                    "content": {
                        "application/json": {
                            "schema": {
                                "type": "object",
                                "properties": {"snapshots": {"type": "array", "items": {"type": "object"}}},
                            }
                        }
                    },
                },
                "400": {"description": "malformed session id or window id"},
                "401": {"description": "not authenticated"},
                "403": {"description": "no view-recordings permission"},
                "404": {"description": "no such project, or no recording of this session"},
            },
        }
    }
}
