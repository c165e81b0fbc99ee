"""The fault suite, short: a few thousand events, one fault of each kind (issue 13).

Real processes on loopback: `manage.py serve` killed with SIGKILL and restarted
while an SDK-style client sends; in Redis mode a private redis-server (AOF on)
killed too; ClickHouse refusing inserts (TOO_MANY_PARTS, then NOT_ENOUGH_SPACE)
for a few seconds; everything replayed twice. The full run (50,000 events) is
`manage.py fault_suite`, numbers in docs/ingestion.md.

Runs in the mode of the configuration: embedded without REDIS_URL, Redis +
PostgreSQL with it.
"""

from __future__ import annotations

import os
import shutil

import pytest

from ingestion.fault_suite import Suite


def test_every_acknowledged_event_is_stored_once_through_kills_refusals_and_replays():
    mode = "redis" if os.environ.get("REDIS_URL") else "embedded"
    if mode == "redis" and not shutil.which("redis-server"):
        pytest.skip("redis-server is not installed")
    lines: list[str] = []
    suite = Suite(mode, events=2000, kills=2, seed=13, out=lines.append)
    alive_and_clean = suite.run()
    print("\n".join(lines))  # noqa: T201 - the suite's report, shown with -s or on failure
    kills, refusals, replay = suite.tallies
    assert (kills.sent, refusals.sent, replay.sent) == (2000, 400, 4800)
    assert (kills.acknowledged, refusals.acknowledged, replay.acknowledged) == (2000, 400, 4800)
    assert (kills.stored, refusals.stored, replay.stored) == (2000, 400, 2400)
    assert [(t.lost, t.duplicated, t.quarantined) for t in suite.tallies] == [(0, 0, 0)] * 3
    assert kills.retries > 0  # the kills hit requests in flight
    assert suite.refused_attempts > 0  # ClickHouse did refuse, and the inserts were retried
    assert suite.alive
    assert alive_and_clean
