"""Every encoding and payload shape PostHog SDKs send reaches ClickHouse once."""

from __future__ import annotations

import base64
import gzip
import json
from urllib.parse import quote

import lzstring
import pytest

from .conftest import count_events, event, ingested, send


def envelope(project, *events):
    return {"api_key": project.api_token, "batch": list(events), "sent_at": None}


@pytest.mark.parametrize(
    "path", ["/e/", "/e", "/i/v0/e/", "/i/v0/e", "/batch/", "/batch", "/capture/", "/track/", "/engage/"]
)
def test_every_capture_path_stores_a_plain_json_envelope(client, project, path):
    response = send(client, path, envelope(project, event("clicked")))
    assert response.status_code == 200
    assert response.json() == {"status": 1}
    assert count_events(project.id, "clicked") == 1


def test_gzip_is_detected_by_magic_bytes_in_text_plain(client, project):
    response = send(
        client, "/i/v0/e/", envelope(project, event(), event()), gz=True, content_type="text/plain"
    )
    assert response.status_code == 200
    assert count_events(project.id) == 2


def test_content_encoding_gzip_header(client, project):
    response = send(client, "/batch/", envelope(project, event()), gz=True, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200
    assert count_events(project.id) == 1


def test_compression_gzip_js_query(client, project):
    response = send(
        client,
        "/e/?compression=gzip-js&ver=1.290.0&_=1700000000000",
        envelope(project, event()),
        gz=True,
        content_type="text/plain",
    )
    assert response.status_code == 200
    assert count_events(project.id) == 1


def test_base64_body_with_compression_query(client, project):
    body = base64.b64encode(json.dumps(envelope(project, event())).encode())
    response = send(client, "/e/?compression=base64", body, content_type="text/plain")
    assert response.status_code == 200
    assert count_events(project.id) == 1


def test_form_data_field_holding_base64_json(client, project):
    encoded = base64.b64encode(json.dumps(envelope(project, event(), event())).encode()).decode()
    body = "data=" + quote(encoded)
    response = send(client, "/e/?compression=base64", body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert count_events(project.id) == 2


def test_form_data_with_unencoded_plus_signs(client, project):
    payload = envelope(project, event(note="??>>??>>" * 10))
    encoded = base64.b64encode(json.dumps(payload).encode()).decode()
    assert "+" in encoded or "/" in encoded
    response = send(client, "/e/", "data=" + encoded, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    assert count_events(project.id) == 1


def test_lz64(client, project):
    text = lzstring.LZString().compressToBase64(json.dumps(envelope(project, event())))
    response = send(
        client,
        "/e/?compression=lz64",
        "data=" + quote(text),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    assert count_events(project.id) == 1


def test_get_with_data_parameter(client, project):
    encoded = base64.b64encode(json.dumps(event("viewed", token=project.api_token)).encode()).decode()
    response = client.get("/capture/", {"data": encoded})
    ingested()
    assert response.status_code == 200
    assert count_events(project.id, "viewed") == 1


def test_get_with_plain_json_data_parameter(client, project):
    response = client.get("/e/", {"data": json.dumps(event("viewed", token=project.api_token))})
    ingested()
    assert response.status_code == 200
    assert count_events(project.id, "viewed") == 1


def test_bare_array_with_token_in_properties(client, project):
    response = send(client, "/e/", [event(token=project.api_token), event(token=project.api_token)])
    assert response.status_code == 200
    assert count_events(project.id) == 2


def test_single_event_with_top_level_api_key(client, project):
    response = send(client, "/capture/", {**event("single"), "api_key": project.api_token})
    assert response.status_code == 200
    assert count_events(project.id, "single") == 1


@pytest.mark.parametrize("where", ["api_key", "token", "$token", "properties.token", "properties.$token"])
def test_token_in_each_place(client, project, where):
    e = event("tokened")
    if where.startswith("properties."):
        e["properties"][where.split(".", 1)[1]] = project.api_token
    else:
        e[where] = project.api_token
    response = send(client, "/e/", e)
    assert response.status_code == 200
    assert count_events(project.id, "tokened") == 1


@pytest.mark.parametrize("where", ["distinct_id", "$distinct_id", "properties"])
def test_distinct_id_in_each_place(client, project, where):
    e = event("ided")
    del e["distinct_id"]
    if where == "properties":
        e["properties"]["distinct_id"] = 12345
    else:
        e[where] = 12345
    response = send(client, "/e/", envelope(project, e))
    assert response.status_code == 200
    from analytics_app import clickhouse as ch

    stored = ch.query(
        "SELECT distinct_id FROM events WHERE project_id = {project_id:UInt32}", {"project_id": project.id}
    ).scalar()
    assert stored == "12345"


def test_distinct_id_is_truncated_and_nul_replaced(client, project):
    from analytics_app import clickhouse as ch

    response = send(client, "/e/", envelope(project, event(distinct_id="a\0b" + "x" * 500)))
    assert response.status_code == 200
    stored = ch.query(
        "SELECT distinct_id FROM events WHERE project_id = {project_id:UInt32}", {"project_id": project.id}
    ).scalar()
    assert len(stored) == 200
    assert stored.startswith("a\ufffdb")


def test_engage_without_event_becomes_identify(client, project):
    response = send(
        client, "/engage/", {"$token": project.api_token, "$distinct_id": "u9", "$set": {"plan": "pro"}}
    )
    assert response.status_code == 200
    assert count_events(project.id, "$identify") == 1


def test_options_preflight_and_cors_headers(client, project):
    response = client.options(
        "/i/v0/e/", HTTP_ORIGIN="https://shop.example", HTTP_ACCESS_CONTROL_REQUEST_HEADERS="content-type"
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://shop.example"
    assert response["Access-Control-Allow-Credentials"] == "true"
    assert "POST" in response["Access-Control-Allow-Methods"]
    posted = send(client, "/i/v0/e/", envelope(project, event()), HTTP_ORIGIN="https://shop.example")
    assert posted["Access-Control-Allow-Origin"] == "https://shop.example"
    failed = send(client, "/i/v0/e/", b"{nope", HTTP_ORIGIN="https://shop.example")
    assert failed.status_code == 400
    assert failed["Access-Control-Allow-Origin"] == "https://shop.example"


def test_beacon_answers_204(client, project):
    response = send(client, "/e/?beacon=1", envelope(project, event()))
    assert response.status_code == 204
    assert count_events(project.id) == 1


def test_user_agent_enrichment_and_ip(client, project):
    from analytics_app import clickhouse as ch

    ua = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
    send(
        client,
        "/e/",
        envelope(project, event()),
        HTTP_USER_AGENT=ua,
        HTTP_X_FORWARDED_FOR="203.0.113.9, 10.0.0.1",
    )
    row = ch.query(
        "SELECT mat_browser, mat_os, mat_device_type, properties.`$ip`::String FROM events WHERE project_id = {project_id:UInt32}",
        {"project_id": project.id},
    ).rows[0]
    assert row == ("Mobile Safari", "iOS", "Mobile", "203.0.113.9")


def test_anonymized_ips_are_not_kept(client, make_project):
    from analytics_app import clickhouse as ch

    project = make_project("Private", anonymize_ips=True)
    send(client, "/e/", envelope(project, event(**{"$ip": "1.2.3.4"})), HTTP_X_FORWARDED_FOR="203.0.113.9")
    ip = ch.query(
        "SELECT properties.`$ip`::Nullable(String) FROM events WHERE project_id = {project_id:UInt32}",
        {"project_id": project.id},
    ).scalar()
    assert ip is None


def test_server_sdk_events_keep_their_own_fields(client, project):
    from analytics_app import clickhouse as ch

    send(
        client,
        "/batch/",
        envelope(project, event(**{"$lib": "posthog-python"})),
        HTTP_USER_AGENT="posthog-python/7.91.1",
    )
    browser = ch.query(
        "SELECT mat_browser FROM events WHERE project_id = {project_id:UInt32}", {"project_id": project.id}
    ).scalar()
    assert browser == ""


def test_gzip_payload_survives_decoder_roundtrip():
    from ingestion.decoder import payload_bytes

    raw = json.dumps({"a": 1}).encode()
    assert (
        payload_bytes(
            method="POST",
            body=gzip.compress(raw),
            query={},
            content_type="text/plain",
            content_encoding="",
            limit=10_000,
        )
        == raw
    )
