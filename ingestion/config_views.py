"""What posthog-js fetches besides capture: remote config, feature flags, lazy bundles.

posthog-js 1.449 on init (as tests/ingestion/test_posthog_js.py observes it):

1. injects ``<script src="{api_host}/array/<token>/config.js" crossorigin="anonymous">``,
   which must set ``window._POSTHOG_REMOTE_CONFIG[token] = {config, siteApps}``;
2. if that fails, GETs ``/array/<token>/config`` (JSON);
3. POSTs ``/flags/?v=2``. Sextant has no feature flags and says ``hasFeatureFlags:
   false``, which skips the first-load request, but the SDK still asks after
   identify() and for its extensions, and gets empty flags;
4. when ``sessionRecording`` is an object, loads the recorder from
   ``/static/<sdk version>/lazy-recorder.js`` and falls back to
   ``/static/lazy-recorder.js?v=<sdk version>``. It also loads ``surveys.js``
   even though the config says ``surveys: false`` (the bundle then stays idle).

Every SDK version is served the one posthog-js vendored under
``static/vendor/posthog-js/<VERSION>/`` (scripts/vendor_static.sh).

All of these are called cross-origin from the customer's site, so every response
carries CORS headers and OPTIONS preflights answer 200. None of them raises a 500:
``/flags`` is best effort and answers empty flags to a body it cannot read.
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent
from django.http import FileResponse, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from analytics_app.models import Project

from . import decoder

log = logging.getLogger(__name__)

ANALYTICS_ENDPOINT = "/i/v0/e/"
RECORDING_ENDPOINT = "/s/"
CONFIG_CACHE_SECONDS = 60
STATIC_CACHE_SECONDS = 3600
# Lazy bundles a browser may ask for: a bare file name, no directories.
STATIC_FILENAME = re.compile(r"^[a-z0-9.-]+\.js$")
_VERSION = re.compile(r"^[0-9A-Za-z.+-]+$")
VENDOR_DIR = "vendor/posthog-js"
# /flags bodies are a few KB; refuse to inflate anything bigger than this.
MAX_FLAGS_BODY = 1024 * 1024


# --------------------------------------------------------------------------- CORS


def _cors(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    """Let any site's SDK call us: mirror the Origin (credentials allowed)."""
    origin = request.headers.get("Origin")
    if origin:
        response["Access-Control-Allow-Origin"] = origin
        response["Access-Control-Allow-Credentials"] = "true"
        response["Vary"] = "Origin"
    else:
        response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Methods"] = "GET, POST, OPTIONS"
    # "*" is not a wildcard on credentialed requests, so echo what the preflight asked for.
    response["Access-Control-Allow-Headers"] = request.headers.get("Access-Control-Request-Headers") or "*"
    response["Access-Control-Max-Age"] = "86400"
    return response


def _preflight(request: HttpRequest) -> HttpResponse:
    return _cors(request, HttpResponse(status=200))


def _json(request: HttpRequest, data: dict, status: int = 200) -> HttpResponse:
    return _cors(request, JsonResponse(data, status=status))


def _method_not_allowed(request: HttpRequest, allowed: str) -> HttpResponse:
    response = _json(
        request, {"type": "validation_error", "detail": f"Method {request.method} not allowed"}, 405
    )
    response["Allow"] = allowed
    return response


# ------------------------------------------------------------------ remote config


def _project(token: str | None) -> Project | None:
    return Project.for_token(token)


def project_config(project: Project) -> dict:
    """The remote config posthog-js applies for this project."""
    if project.recording_enabled:
        session_recording: dict | bool = {
            "endpoint": RECORDING_ENDPOINT,
            "consoleLogRecordingEnabled": True,
            "recorderVersion": "v2",
            "masking": {
                "maskAllInputs": True,
                "maskTextSelector": "*" if project.recording_mask_all_text else None,
            },
        }
    else:
        session_recording = False
    return {
        "token": project.api_token,
        "supportedCompression": ["gzip", "gzip-js"],
        "analytics": {"endpoint": ANALYTICS_ENDPOINT},
        "hasFeatureFlags": False,
        "sessionRecording": session_recording,
        "autocapture_opt_out": False,
        "capturePerformance": False,
        "heatmaps": False,
        "surveys": False,
        "siteApps": [],
        "elementsChainAsString": True,
    }


_JS_ESCAPES = {
    ord("<"): "\\u003c",
    ord(">"): "\\u003e",
    ord("&"): "\\u0026",
    0x2028: "\\u2028",
    0x2029: "\\u2029",
}


def js_literal(value) -> str:
    """JSON for inline <script>: no `</script>`, `<!--`, `&` or JS line terminators survive."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).translate(_JS_ESCAPES)


def _config_headers(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = f"public, max-age={CONFIG_CACHE_SECONDS}"
    return response


@csrf_exempt  # read-only and cross-origin: another method gets 405, not a CSRF 403
def remote_config(request: HttpRequest, token: str) -> HttpResponse:
    """GET /array/<token>/config: the project's remote config as JSON."""
    if request.method == "OPTIONS":
        return _preflight(request)
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed(request, "GET, HEAD, OPTIONS")
    project = _project(token)
    if project is None:
        return _json(request, {"type": "authentication_error", "detail": "Unknown project token"}, 404)
    return _config_headers(_json(request, project_config(project)))


@csrf_exempt  # read-only and cross-origin: another method gets 405, not a CSRF 403
def remote_config_js(request: HttpRequest, token: str) -> HttpResponse:
    """GET /array/<token>/config.js: the same config as a script the SDK's loader injects."""
    if request.method == "OPTIONS":
        return _preflight(request)
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed(request, "GET, HEAD, OPTIONS")
    project = _project(token)
    if project is None:
        response = HttpResponse("/* Sextant: unknown project token */\n", status=404)
        response["Content-Type"] = "application/javascript; charset=utf-8"
        return _cors(request, response)
    config = project_config(project)
    body = (
        "(function () {\n"
        "  window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};\n"
        f"  window._POSTHOG_REMOTE_CONFIG[{js_literal(project.api_token)}] = "
        f"{{config: {js_literal(config)}, siteApps: []}};\n"
        "})();\n"
    )
    response = HttpResponse(body, content_type="application/javascript; charset=utf-8")
    return _config_headers(_cors(request, response))


# -------------------------------------------------------------------------- flags


def _decode_flags_body(request: HttpRequest) -> dict:
    """The /flags payload as a dict, through the capture decoder (JSON, gzip, base64, form)."""
    if not request.body and not request.GET.get("data"):
        return {}
    data = decoder.payload_bytes(
        method=request.method,
        body=request.body,
        query=request.GET,
        content_type=request.content_type or "",
        content_encoding=request.headers.get("Content-Encoding", ""),
        limit=MAX_FLAGS_BODY,
    )
    payload = decoder.parse_json(data)
    if not isinstance(payload, dict):
        raise decoder.DecodeError("The flags payload must be a JSON object.")
    return payload


def _empty_flags() -> dict:
    return {
        "flags": {},
        "featureFlags": {},
        "featureFlagPayloads": {},
        "errorsWhileComputingFlags": False,
        "requestId": str(uuid.uuid4()),
        "quotaLimited": [],
    }


def _wants_config(request: HttpRequest) -> bool:
    if request.path.rstrip("/").endswith("decide"):
        return True  # /decide always carried the config
    return request.GET.get("config", "").lower() in ("true", "1", "yes")


@csrf_exempt
def flags(request: HttpRequest) -> HttpResponse:
    """POST/GET /flags/?v=2|4 (and legacy /decide/): Sextant has no flags, so empty ones."""
    if request.method == "OPTIONS":
        return _preflight(request)
    if request.method not in ("GET", "POST", "HEAD"):
        return _method_not_allowed(request, "GET, POST, OPTIONS")
    body: dict = {}
    unreadable = False
    try:
        body = _decode_flags_body(request)
    except (decoder.DecodeError, RequestDataTooBig) as exc:
        log.info("flags: unreadable body (%s); answering empty flags", exc)
        unreadable = True
    except TooManyFieldsSent as exc:  # over 1,000 query parameters: a 400 the SDK can read (CORS)
        return _json(request, {"type": "validation_error", "error": f"The request is malformed: {exc}"}, 400)
    except Exception:  # flags are best effort: never a 500
        log.exception("flags: decoding the body failed; answering empty flags")
        unreadable = True
    token = None
    for key in ("token", "api_key", "$token"):
        if isinstance(body.get(key), str) and body[key]:
            token = body[key]
            break
    token = token or request.GET.get("token") or request.GET.get("api_key")
    project = _project(token)
    if project is None and not (unreadable and not token):
        return _json(
            request,
            {
                "type": "authentication_error",
                "code": "invalid_api_key",
                "detail": "Project API key invalid. You can find your project API key in Sextant's project settings.",
            },
            401,
        )
    answer = _empty_flags()
    if project is not None and _wants_config(request):
        answer = {**project_config(project), **answer}
    return _json(request, answer)


# -------------------------------------------------------------------- lazy bundles


def vendored_version() -> str | None:
    """The posthog-js version vendored under static/vendor/posthog-js/VERSION."""
    path = finders.find(f"{VENDOR_DIR}/VERSION")
    candidates = [Path(path)] if path else []
    candidates.append(Path(settings.STATIC_ROOT) / VENDOR_DIR / "VERSION")
    for candidate in candidates:
        try:
            version = candidate.read_text().strip()
        except OSError:
            continue
        if _VERSION.match(version):
            return version
    return None


def _vendored_file(filename: str) -> Path | None:
    if not STATIC_FILENAME.match(filename) or ".." in filename:
        return None
    version = vendored_version()
    if version is None:
        return None
    relative = f"{VENDOR_DIR}/{version}/{filename}"
    found = finders.find(relative)
    candidates = [Path(found)] if found else []
    candidates.append(Path(settings.STATIC_ROOT) / relative)
    for candidate in candidates:
        resolved = candidate.resolve()
        if resolved.parent.name == version and resolved.name == filename and resolved.is_file():
            return resolved
    return None


@csrf_exempt  # read-only and cross-origin: another method gets 405, not a CSRF 403
def lazy_static(request: HttpRequest, version: str | None = None, filename: str = "") -> HttpResponse:
    """GET /static/<sdk version>/<name>.js and /static/<name>.js?v=<sdk version>.

    Whatever version the SDK asks for, it gets the vendored build of the same name.
    """
    if request.method == "OPTIONS":
        response = _preflight(request)
        response["Access-Control-Allow-Origin"] = "*"
        response.headers.pop("Access-Control-Allow-Credentials", None)
        return response
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed(request, "GET, HEAD, OPTIONS")
    path = _vendored_file(filename)
    if path is None:
        response = HttpResponse("/* not found */\n", status=404, content_type="application/javascript")
    else:
        response = FileResponse(path.open("rb"), content_type="application/javascript; charset=utf-8")
        response["Cache-Control"] = f"public, max-age={STATIC_CACHE_SECONDS}"
    response["Access-Control-Allow-Origin"] = "*"
    response["X-Content-Type-Options"] = "nosniff"
    return response
