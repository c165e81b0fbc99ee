"""Capture endpoints (PostHog wire protocol) and the ingestion-warnings page.

Capture: decode -> authenticate the token -> rate limit -> process (validate,
time, enrich) -> make durable (group-commit writer, or the Redis Stream) ->
answer. Every answer carries CORS headers; nothing a client sends raises a 500:
an unexpected failure is logged, the raw payload quarantined as `internal_error`
when the project is known, and the answer is 503 so SDKs retry.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import threading
import time

from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

import ingestion
from analytics_app import clickhouse as ch
from analytics_app.access import project_page
from analytics_app.models import Project
from governance.roles import Permission

from . import processing, ratelimit, stream
from .decoder import Batch, DecodeError, batch_token, parse_json, payload_bytes, to_batch
from .forms import WarningsForm
from .processing import BadSnapshot, Job, RequestContext, process_events
from .queries import WarningsQueryRunner
from .writer import StoreBusy, writer

log = logging.getLogger(__name__)

BATCH_LIMIT = 20 * 1024 * 1024
RECORDING_LIMIT = 25 * 1024 * 1024
TOKEN_TTL = 10.0

_tokens: dict[str, tuple[float, Project | None]] = {}
_tokens_lock = threading.Lock()


def clear_token_cache() -> None:
    with _tokens_lock:
        _tokens.clear()


def project_for_token(token: str) -> Project | None:
    now = time.monotonic()
    cached = _tokens.get(token)
    if cached and now - cached[0] < TOKEN_TTL:
        return cached[1]
    project = Project.for_token(token)
    with _tokens_lock:
        if len(_tokens) > 10_000:
            _tokens.clear()
        _tokens[token] = (now, project)
    return project


# ------------------------------------------------------------------ responses


def _cors(request, response: HttpResponse) -> HttpResponse:
    origin = request.headers.get("Origin")
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Credentials"] = "true"
        response["Vary"] = "Origin"
    else:
        response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    response["Access-Control-Allow-Headers"] = request.headers.get("Access-Control-Request-Headers") or "*"
    response["Access-Control-Max-Age"] = "86400"
    return response


def _error(status: int, reason: str, **headers) -> JsonResponse:
    response = JsonResponse({"error": reason}, status=status)
    for name, value in headers.items():
        response[name.replace("_", "-")] = value
    return response


def _ok(request) -> HttpResponse:
    if request.GET.get("beacon") in ("1", "true"):
        return HttpResponse(status=204)
    return JsonResponse({"status": 1})


# ------------------------------------------------------------------ pipeline


class _State:
    project: Project | None = None
    raw: bytes = b""


def _read_body(request, limit: int) -> bytes:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise DecodeError(f"The request body is larger than {limit} bytes.", 413)
    body = request.read(limit + 1) if request.method == "POST" else b""
    if len(body) > limit:
        raise DecodeError(f"The request body is larger than {limit} bytes.", 413)
    return body


def _client_ip(request) -> str:
    forwarded = request.headers.get("X-Forwarded-For", "")
    if forwarded:
        return forwarded.split(",")[0].strip()[:64]
    return request.META.get("REMOTE_ADDR", "")[:64]


def _decode(request, state: _State, limit: int) -> Batch:
    body = _read_body(request, limit)
    state.raw = body or request.GET.get("data", "").encode("utf-8", "replace")
    query = {key: request.GET.get(key) for key in request.GET}
    data = payload_bytes(
        method=request.method,
        body=body,
        query=query,
        content_type=request.META.get("CONTENT_TYPE", "") or "",
        content_encoding=request.headers.get("Content-Encoding", ""),
        limit=limit,
    )
    return to_batch(parse_json(data), query_sent_at=query.get("sent_at") or query.get("_"))


def _authenticate(batch: Batch, state: _State) -> Project:
    token = batch_token(batch)
    if not token:
        raise DecodeError("The payload carries no project token (api_key, token or $token).", 401)
    if "\x00" in token:
        raise DecodeError("The project token is malformed: it contains a NUL byte.", 401)
    project = project_for_token(token)
    if project is None:
        raise DecodeError("The project token is unknown.", 401)
    state.project = project
    return project


def store(job: Job) -> None:
    """Make the job durable (`ingestion.store`: the Redis Stream, or the embedded spool and writer)."""
    ingestion.store(job)


def _context(request, batch: Batch, now: dt.datetime) -> RequestContext:
    return RequestContext(
        now=now,
        sent_at=batch.sent_at,
        ip=_client_ip(request),
        user_agent=request.headers.get("User-Agent", "")[:1000],
        engage=request.path.startswith("/engage"),
    )


def _answer_for(request, job: Job, rejected: list[str]) -> HttpResponse:
    accepted = job.events or job.snapshots or job.quarantined  # quarantined: accepted, held back
    if accepted or not rejected or set(rejected) == {"recording_disabled"}:
        return _ok(request)
    status = 413 if set(rejected) == {"event_too_large"} else 400
    reasons = ", ".join(sorted(set(rejected)))
    return _error(
        status,
        f"No event was accepted ({reasons}); the rejected events are in the project's ingestion warnings.",
    )


def _capture_events(request, state: _State) -> HttpResponse:
    now = dt.datetime.now(dt.UTC)
    batch = _decode(request, state, BATCH_LIMIT)
    project = _authenticate(batch, state)
    if not batch.events:
        return _error(400, "The batch holds no events.")
    decision = ratelimit.take(project.id, len(batch.events))
    if not decision.allowed:
        return _error(
            429, "Rate limit exceeded for this project; retry later.", Retry_After=str(decision.retry_after)
        )
    job, rejected = process_events(batch.events, project, _context(request, batch, now))
    store(job)
    return _answer_for(request, job, rejected)


def _capture_snapshots(request, state: _State) -> HttpResponse:
    now = dt.datetime.now(dt.UTC)
    batch = _decode(request, state, RECORDING_LIMIT)
    project = _authenticate(batch, state)
    if not batch.events:
        return _error(400, "The request holds no $snapshot events.")
    decision = ratelimit.take(project.id, len(batch.events))
    if not decision.allowed:
        return _error(
            429, "Rate limit exceeded for this project; retry later.", Retry_After=str(decision.retry_after)
        )
    try:
        job, rejected = processing.snapshot_processor(batch.events, project, _context(request, batch, now))
    except BadSnapshot as exc:
        return _error(400, str(exc))
    store(job)
    return _answer_for(request, job, rejected)


def _quarantine_failure(state: _State, exc: BaseException) -> None:
    """Best effort: keep the payload of a request that failed inside Sextant."""
    if state.project is None:
        return
    try:
        ch.insert(
            "ingestion_warnings",
            {
                "project_id": [state.project.id],
                "type": ["internal_error"],
                "event": [""],
                "distinct_id": [""],
                "details": [f"{type(exc).__name__}: {str(exc)[:500]}"],
                "payload": [state.raw[:65536].decode("utf-8", "replace")],
                "timestamp": [dt.datetime.now(dt.UTC)],
            },
        )
    except Exception:  # noqa: BLE001 - the store itself may be what failed
        log.exception("could not quarantine a failed capture payload")


def _guarded(request, handler) -> HttpResponse:
    if request.method == "OPTIONS":
        return _cors(request, JsonResponse({"status": 1}))
    if request.method not in ("GET", "POST"):
        return _cors(request, _error(405, "Use GET or POST."))
    state = _State()
    try:
        response = handler(request, state)
    except DecodeError as exc:
        response = _error(exc.status, exc.reason)
    except RequestDataTooBig as exc:
        response = _error(413, str(exc))
    except SuspiciousOperation as exc:  # TooManyFieldsSent (over 1,000 query parameters), ...
        response = _error(400, f"The request is malformed: {exc}")
    except StoreBusy as exc:  # a server-side fault: nothing to quarantine, the SDK retries
        log.warning("capture on %s answered 503: %s", request.path, exc)
        response = _error(503, str(exc), Retry_After=str(exc.retry_after))
    except Exception as exc:  # noqa: BLE001 - never a 500 for what a client sent
        log.exception("capture failed on %s", request.path)
        _quarantine_failure(state, exc)
        response = _error(503, "Sextant could not store the events right now; retry later.")
    return _cors(request, response)


def _announced(request, handler) -> HttpResponse:
    """Embedded: tell the group-commit writer a job is on its way (it may wait for it)."""
    if stream.enabled():
        return _guarded(request, handler)
    with writer.arriving():
        return _guarded(request, handler)


@csrf_exempt
def capture(request):
    """/e/, /i/v0/e/, /batch/, /capture/, /track/, /engage/ (GET or POST)."""
    return _announced(request, _capture_events)


@csrf_exempt
def snapshots(request):
    """/s/: session recording chunks ($snapshot events)."""
    return _announced(request, _capture_snapshots)


# ------------------------------------------------------------------ warnings page


@require_GET
@project_page(Permission.VIEW_INSIGHTS)
def ingestion_warnings(request):
    form = WarningsForm(request.GET)
    if not form.is_valid():
        context = {"project": request.project, "form": form, "result": None}
        template = "ingestion/warnings.html#results" if request.htmx else "ingestion/warnings.html"
        return render(request, template, context, status=400)
    result = WarningsQueryRunner(request.project, form.spec()).run()
    presenter = request.presenter
    # Stored payloads are event data like any other: masked for users without view-PII.
    result = dataclasses.replace(
        result,
        by_event=[(reason, presenter.text(event), n) for reason, event, n in result.by_event],
        examples=[
            dataclasses.replace(
                presenter.present(dataclasses.replace(w, payload="")),
                payload=presenter.json_text(w.payload),
            )
            for w in result.examples
        ],
    )
    context = {"project": request.project, "form": form, "result": result, "spec": form.spec()}
    template = "ingestion/warnings.html#results" if request.htmx else "ingestion/warnings.html"
    return render(request, template, context)
