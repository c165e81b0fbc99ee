"""Replay plugs into ingestion and the core by registering (docs/architecture.md, Dependencies):
POST /s/ reaches replay.ingest through ingestion's recordings seam, and `manage.py demo_setup`
runs replay's demo step without the core importing replay."""

from __future__ import annotations

import datetime as dt

from analytics_app import demo_steps
from ingestion import processing
from replay import ingest, synthetic
from replay import summary as replay_summary
from tests.conftest import EventBuilder


def test_replay_sets_the_snapshot_processor_and_the_demo_step():
    assert processing.snapshot_processor is ingest.process_snapshots
    assert demo_steps.steps.count(synthetic.demo_step) == 1


def test_the_demo_step_records_the_demo_sessions_once(project):
    builder = EventBuilder(project.id)
    start = dt.datetime.now(dt.UTC) - dt.timedelta(days=1)
    for i in range(2):
        props = {"$current_url": "https://shop.example/", "$session_id": f"step-{i}"}
        builder.add("$pageview", f"visitor-{i}", start + dt.timedelta(minutes=10 * i), props)
    builder.flush()
    assert synthetic.demo_step(project, {"recordings": 0}) is None
    assert replay_summary.summary(project, "step-0") is None
    assert synthetic.demo_step(project, {"recordings": 10}) == "2 demo session recordings"
    assert replay_summary.summary(project, "step-1")["distinct_id"] == "visitor-1"
    assert synthetic.demo_step(project, {"recordings": 10}) is None  # the project has recordings now
