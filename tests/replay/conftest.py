"""Replay tests store recordings through the real ingestion path: with REDIS_URL set,
capture only appends to the Redis Stream, so the ingestion tests' per-test stream and
background consumer (for live-server tests, where posthog-js uploads from a browser)
apply here too."""

from tests.ingestion.conftest import fresh_ingestion_state  # noqa: F401 - autouse fixture
