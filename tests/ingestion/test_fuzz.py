"""Property-based fuzzing: whatever a client sends, the answer is never a 500, and
unreadable payloads write nothing."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import json
import uuid

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ingestion.decoder import DecodeError, parse_json, payload_bytes, to_batch
from tests.conftest import examples

from .conftest import count_events, ingested

FUZZ = settings(
    max_examples=examples(150),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def decode(body: bytes, query=None, content_type="text/plain"):
    data = payload_bytes(
        method="POST",
        body=body,
        query=query or {},
        content_type=content_type,
        content_encoding="",
        limit=1_000_000,
    )
    return to_batch(parse_json(data))


@FUZZ
@given(st.binary(max_size=2000), st.sampled_from(["", "gzip-js", "base64", "lz64"]))
def test_decoder_only_raises_decode_errors(body, compression):
    try:
        decode(body, {"compression": compression} if compression else {})
    except DecodeError as exc:
        assert exc.status in (400, 401, 413)


@FUZZ
@given(st.binary(min_size=1, max_size=500), st.integers(min_value=1, max_value=50))
def test_truncated_gzip_is_a_decode_error(payload, cut):
    data = gzip.compress(payload)
    truncated = data[: max(2, len(data) - cut)]
    with pytest.raises(DecodeError):
        decode(truncated)


def test_deep_nesting_is_a_decode_error_or_quarantined(client, project):
    deep = "[" * 10_000 + "]" * 10_000
    with pytest.raises(DecodeError):
        decode(deep.encode())
    nested: dict = {}
    cursor = nested
    for _ in range(200):
        cursor["a"] = {}
        cursor = cursor["a"]
    body = {
        "api_key": project.api_token,
        "batch": [{"event": "deep", "distinct_id": "u", "properties": nested}],
    }
    response = client.post("/e/", data=json.dumps(body), content_type="application/json")
    ingested()
    assert response.status_code == 400
    assert count_events(project.id) == 0


def test_invalid_unicode_and_lone_surrogates(client, project):
    raw = (
        b'{"api_key": "%s", "batch": [{"event": "u\xff\xfe", "distinct_id": "x\\ud800y", "properties": {"k\\udfff": "\\ud83d"}}]}'
        % project.api_token.encode()
    )
    response = client.post("/e/", data=raw, content_type="application/json")
    ingested()
    assert response.status_code == 200
    assert count_events(project.id) == 1


def test_huge_string_property(client, project):
    body = {
        "api_key": project.api_token,
        "batch": [{"event": "big", "distinct_id": "u", "properties": {"s": "é" * 400_000}}],
    }
    response = client.post("/batch/", data=json.dumps(body), content_type="application/json")
    ingested()
    assert response.status_code == 200
    assert count_events(project.id) == 1


@pytest.mark.django_db
@FUZZ
@given(
    body=st.binary(max_size=3000),
    path=st.sampled_from(["/e/", "/batch/", "/i/v0/e/", "/s/", "/engage/"]),
    content_type=st.sampled_from(["application/json", "text/plain", "application/x-www-form-urlencoded"]),
)
def test_random_bytes_never_500_and_write_nothing(client, project, body, path, content_type):
    response = client.post(path, data=body, content_type=content_type)
    assert response.status_code in (400, 401, 413), response.content
    ingested()
    assert count_events(project.id) == 0


field_values = st.one_of(json_values, st.just(None), st.text(max_size=5))


@pytest.mark.django_db
@FUZZ
@given(
    event=field_values,
    distinct_id=field_values,
    properties=field_values,
    timestamp=field_values,
    uuid_=field_values,
    offset=field_values,
    sent_at=field_values,
    extra=st.dictionaries(
        st.sampled_from(["$set", "$set_once", "$unset", "token", "batch", "data"]), json_values, max_size=3
    ),
    encoding=st.sampled_from(["json", "gzip", "base64"]),
)
def test_wrong_types_for_every_field_are_never_a_500(
    client, project, event, distinct_id, properties, timestamp, uuid_, offset, sent_at, extra, encoding
):
    e = {
        "event": event,
        "distinct_id": distinct_id,
        "properties": properties,
        "timestamp": timestamp,
        "uuid": uuid_,
        "offset": offset,
        **extra,
    }
    body = json.dumps({"api_key": project.api_token, "batch": [e], "sent_at": sent_at}).encode()
    if encoding == "gzip":
        body = gzip.compress(body)
    elif encoding == "base64":
        body = base64.b64encode(body)
    response = client.post("/e/", data=body, content_type="text/plain")
    assert response.status_code in (200, 400, 401, 413), response.content
    ingested()


@pytest.mark.django_db
@FUZZ
@given(snapshot_data=field_values, session=field_values, window=field_values)
def test_snapshot_fields_of_any_type_are_never_a_500(client, project, snapshot_data, session, window):
    body = [
        {
            "event": "$snapshot",
            "properties": {
                "$snapshot_data": snapshot_data,
                "$session_id": session,
                "$window_id": window,
                "token": project.api_token,
            },
        }
    ]
    response = client.post("/s/", data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400), response.content
    ingested()


# Keys that collide as ClickHouse JSON paths ("a.b" is the path a -> b).
path_keys = st.sampled_from(["a", "b", "a.b", "b.a", "a.b.c", "b.c", "", "a."])
property_trees = st.recursive(
    st.none() | st.integers(-5, 5) | st.text(max_size=3) | st.just({}),
    lambda children: st.dictionaries(path_keys, children, max_size=4) | st.lists(children, max_size=2),
    max_leaves=12,
)


@pytest.mark.django_db
@settings(FUZZ, max_examples=examples(60))
@given(props=st.dictionaries(path_keys, property_trees, max_size=5))
def test_the_door_refuses_exactly_the_properties_clickhouse_refuses(project, props):
    """property_path_conflict agrees with the events table: a row it passes is stored, a row
    it refuses ClickHouse refuses too ("Duplicate path", code 117)."""
    from analytics_app import clickhouse as ch
    from ingestion.processing import dumps, property_path_conflict

    conflict = property_path_conflict(props)
    row = {
        "uuid": [str(uuid.uuid4())],
        "project_id": [project.id],
        "event": ["fuzz"],
        "distinct_id": ["u"],
        "person_id": [str(uuid.uuid4())],
        "timestamp": [dt.datetime.now(dt.UTC)],
        "properties": [dumps(props)],
    }
    try:
        ch.insert("events", row)
    except ch.ClickHouseError as exc:
        assert conflict is not None, (props, exc.message)
        assert exc.code == 117 and "Duplicate path" in exc.message
    else:
        assert conflict is None, (props, conflict)


@pytest.mark.django_db
@settings(FUZZ, max_examples=examples(60))
@given(
    token=st.text(max_size=8).map(lambda t: t + "\x00") | st.text(alphabet="\x00ab", max_size=6),
    path=st.sampled_from(["/e/", "/batch/", "/flags/", "/decide", "/s/"]),
    params=st.integers(min_value=0, max_value=1100),
)
def test_bad_tokens_and_query_strings_are_4xx_with_a_reason(client, project, token, path, params):
    query = "&".join(f"p{i}=" for i in range(params))
    body = {"api_key": token, "token": token, "batch": [{"event": "e", "distinct_id": "u"}]}
    response = client.post(f"{path}?{query}", data=json.dumps(body), content_type="application/json")
    assert 400 <= response.status_code < 500, response.content
    assert response.json().get("error") or response.json().get("detail")
    ingested()
    assert count_events(project.id) == 0
