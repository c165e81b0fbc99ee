"""Remote config, /flags and lazy posthog-js bundles (ingestion/config_views.py)."""

from __future__ import annotations

import base64
import gzip
import json
import re
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
from django.conf import settings
from django.test import RequestFactory

from ingestion import config_views
from ingestion.config_views import js_literal

ORIGIN = "https://shop.example.com"
VENDOR = Path(settings.BASE_DIR) / "static" / "vendor" / "posthog-js"
VERSION = (VENDOR / "VERSION").read_text().strip()

pytestmark = pytest.mark.django_db


def _config_from_js(body: str) -> tuple[str, dict]:
    match = re.search(
        r"window\._POSTHOG_REMOTE_CONFIG\[(\".*?\")\] = \{config: (\{.*\}), siteApps: \[\]\};", body
    )
    assert match, body
    return json.loads(match.group(1)), json.loads(match.group(2))


def assert_cors(response, origin=ORIGIN):
    assert response["Access-Control-Allow-Origin"] == origin
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "OPTIONS" in response["Access-Control-Allow-Methods"]


# ------------------------------------------------------------------ remote config


def test_config_json_with_recording(client, project):
    response = client.get(f"/array/{project.api_token}/config", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert_cors(response)
    config = response.json()
    assert config["token"] == project.api_token
    assert config["supportedCompression"] == ["gzip", "gzip-js"]
    assert config["analytics"] == {"endpoint": "/i/v0/e/"}
    assert config["hasFeatureFlags"] is False
    assert config["sessionRecording"] == {
        "endpoint": "/s/",
        "consoleLogRecordingEnabled": True,
        "recorderVersion": "v2",
        "masking": {"maskAllInputs": True, "maskTextSelector": None},
    }
    assert config["elementsChainAsString"] is True
    assert config["siteApps"] == []
    for key in ("autocapture_opt_out", "capturePerformance", "heatmaps", "surveys"):
        assert config[key] is False


def test_config_masks_all_text_when_the_project_says_so(client, make_project):
    project = make_project("Masked", recording_mask_all_text=True)
    config = client.get(f"/array/{project.api_token}/config").json()
    assert config["sessionRecording"]["masking"] == {"maskAllInputs": True, "maskTextSelector": "*"}


def test_config_recording_off(client, make_project):
    project = make_project("No replay", recording_enabled=False)
    config = client.get(f"/array/{project.api_token}/config").json()
    assert config["sessionRecording"] is False
    _, js_config = _config_from_js(client.get(f"/array/{project.api_token}/config.js").content.decode())
    assert js_config["sessionRecording"] is False


def test_config_without_origin_allows_any(client, project):
    response = client.get(f"/array/{project.api_token}/config")
    assert response["Access-Control-Allow-Origin"] == "*"


def test_unknown_token_is_404(client):
    response = client.get("/array/phc_nope/config", headers={"Origin": ORIGIN})
    assert response.status_code == 404
    assert response.json()["type"] == "authentication_error"
    assert_cors(response)
    response = client.get("/array/phc_nope/config.js")
    assert response.status_code == 404
    assert response["Content-Type"].startswith("application/javascript")


def test_config_js_assigns_the_global(client, project):
    response = client.get(f"/array/{project.api_token}/config.js", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert_cors(response)
    body = response.content.decode()
    assert "window._POSTHOG_REMOTE_CONFIG = window._POSTHOG_REMOTE_CONFIG || {};" in body
    token, config = _config_from_js(body)
    assert token == project.api_token
    assert config == client.get(f"/array/{project.api_token}/config").json()


HOSTILE = "</script><script>alert(1)</script><!-- & \u2028\u2029 \" '"


def test_js_literal_cannot_break_out_of_a_script():
    out = js_literal({"token": HOSTILE, HOSTILE: [HOSTILE]})
    for bad in ("<", ">", "&", "\u2028", "\u2029"):
        assert bad not in out
    assert json.loads(out) == {"token": HOSTILE, HOSTILE: [HOSTILE]}


def test_config_js_escapes_a_hostile_token(client, make_project):
    token = "phc_<b>x&y\u2028z\"'"  # no "/" so it fits the URL pattern
    project = make_project("Hostile")
    type(project).objects.filter(pk=project.pk).update(api_token=token)
    response = client.get(f"/array/{quote(token)}/config.js")
    assert response.status_code == 200
    body = response.content.decode()
    for bad in ("<", ">", "&", "\u2028"):
        assert bad not in body
    assert _config_from_js(body)[0] == token


@pytest.mark.parametrize(
    "path", ["/array/{token}/config", "/array/{token}/config.js", "/flags/?v=2", "/flags"]
)
def test_preflight(client, project, path):
    response = client.options(
        path.format(token=project.api_token),
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type,x-custom",
        },
    )
    assert response.status_code == 200
    assert_cors(response)
    assert response["Access-Control-Allow-Headers"] == "content-type,x-custom"


# -------------------------------------------------------------------------- flags

EMPTY_FLAG_KEYS = {
    "flags",
    "featureFlags",
    "featureFlagPayloads",
    "errorsWhileComputingFlags",
    "requestId",
    "quotaLimited",
}


def assert_empty_flags(response):
    assert response.status_code == 200, response.content
    data = response.json()
    assert EMPTY_FLAG_KEYS <= set(data)
    assert data["flags"] == {} and data["featureFlags"] == {} and data["featureFlagPayloads"] == {}
    assert data["errorsWhileComputingFlags"] is False
    assert data["quotaLimited"] == []
    assert re.fullmatch(r"[0-9a-f-]{36}", data["requestId"])
    return data


def _v2_body(project) -> dict:
    return {
        "token": project.api_token,
        "distinct_id": "anon-1",
        "groups": {},
        "$anon_distinct_id": "anon-1",
        "person_properties": {},
        "timezone": "Europe/Paris",
        "$device_id": "anon-1",
    }


def test_flags_v2_json(client, project):
    response = client.post(
        "/flags/?v=2",
        json.dumps(_v2_body(project)),
        content_type="application/json",
        headers={"Origin": ORIGIN},
    )
    data = assert_empty_flags(response)
    assert "sessionRecording" not in data
    assert_cors(response)


def test_flags_v2_gzip_without_query_hint(client, project):
    body = gzip.compress(json.dumps(_v2_body(project)).encode())
    assert_empty_flags(client.post("/flags/?v=2", body, content_type="text/plain"))


def test_flags_v2_base64_form(client, project):
    data = base64.b64encode(json.dumps(_v2_body(project)).encode()).decode()
    response = client.post(
        "/flags/?v=2&compression=base64",
        urlencode({"data": data}),
        content_type="application/x-www-form-urlencoded",
    )
    assert_empty_flags(response)


def test_flags_v4_python_sdk(client, project):
    body = {
        "distinct_id": "u1",
        "groups": {},
        "person_properties": {},
        "geoip_disable": True,
        "api_key": project.api_token,
    }
    assert_empty_flags(client.post("/flags/?v=4", json.dumps(body), content_type="application/json"))


def test_flags_without_trailing_slash_and_get(client, project):
    assert_empty_flags(client.post("/flags", json.dumps(_v2_body(project)), content_type="application/json"))
    assert_empty_flags(client.get(f"/flags/?v=2&token={project.api_token}"))


def test_flags_config_true_adds_remote_config(client, project):
    response = client.post(
        "/flags/?v=2&config=true", json.dumps(_v2_body(project)), content_type="application/json"
    )
    data = assert_empty_flags(response)
    assert data["sessionRecording"]["endpoint"] == "/s/"
    assert data["supportedCompression"] == ["gzip", "gzip-js"]


def test_decide_always_carries_config(client, project):
    response = client.post("/decide/?v=3", json.dumps(_v2_body(project)), content_type="application/json")
    data = assert_empty_flags(response)
    assert data["analytics"] == {"endpoint": "/i/v0/e/"}


@pytest.mark.parametrize(
    "body",
    [{"distinct_id": "x"}, {"token": "phc_unknown", "distinct_id": "x"}, {"api_key": "", "distinct_id": "x"}],
)
def test_flags_unknown_or_missing_token_is_401(client, body):
    response = client.post(
        "/flags/?v=2", json.dumps(body), content_type="application/json", headers={"Origin": ORIGIN}
    )
    assert response.status_code == 401
    assert response.json()["type"] == "authentication_error"
    assert_cors(response)


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"\x1f\x8b\x08\x00garbage", "text/plain"),
        (b"{not json", "application/json"),
        (b"data=%%%not-base64", "application/x-www-form-urlencoded"),
        (b"\xff\xfe\x00binary", "application/octet-stream"),
        (b"[1, 2, 3]", "application/json"),
    ],
)
def test_flags_unreadable_body_still_answers_empty_flags(client, body, content_type):
    assert_empty_flags(client.post("/flags/?v=2", body, content_type=content_type))


def test_flags_gzip_bomb_is_refused_not_inflated(client):
    bomb = gzip.compress(b"{" + b" " * (20 * 1024 * 1024) + b"}")
    assert_empty_flags(client.post("/flags/?v=2", bomb, content_type="text/plain"))


# --------------------------------------------------------------------- lazy bundles


def test_lazy_recorder_versioned_path_falls_through_whitenoise(client):
    response = client.get(f"/static/{VERSION}/lazy-recorder.js", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Cache-Control"] == "public, max-age=3600"
    assert response["Access-Control-Allow-Origin"] == "*"
    assert b"".join(response.streaming_content) == (VENDOR / VERSION / "lazy-recorder.js").read_bytes()


def test_any_sdk_version_gets_the_vendored_build(client):
    response = client.get("/static/1.2.3/lazy-recorder.js")
    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (VENDOR / VERSION / "lazy-recorder.js").read_bytes()


def test_lazy_recorder_unversioned_fallback(client):
    response = client.get(f"/static/lazy-recorder.js?v={VERSION}")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Access-Control-Allow-Origin"] == "*"
    assert b"".join(response.streaming_content) == (VENDOR / VERSION / "lazy-recorder.js").read_bytes()


def test_whitenoise_still_serves_real_static_files(client):
    response = client.get(f"/static/vendor/posthog-js/{VERSION}/array.js")
    assert response.status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        f"/static/{VERSION}/..%2F..%2Fsettings.py",
        f"/static/{VERSION}/..%2F..%2F..%2Fanalytics_app%2Fsettings.py",
        f"/static/{VERSION}/VERSION",
        f"/static/{VERSION}/integrity.json",
        f"/static/{VERSION}/Lazy-Recorder.js",
        f"/static/{VERSION}/not-vendored.js",
        "/static/..%2Fmanage.py",
        "/static/not-vendored.js?v=1",
    ],
)
def test_lazy_static_refuses_anything_else(client, path):
    assert client.get(path).status_code == 404


@pytest.mark.parametrize(
    "filename", ["../../analytics_app/settings.py", "../VERSION", "..js", "/etc/passwd", "a/../../x.js", ""]
)
def test_lazy_static_view_guards_filenames_itself(filename):
    request = RequestFactory().get("/static/x/y.js")
    assert config_views.lazy_static(request, version=VERSION, filename=filename).status_code == 404
