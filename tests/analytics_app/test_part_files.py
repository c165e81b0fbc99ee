"""The embedded engine writes a capture-sized insert of wide events as one Compact part:
a dozen files, not a dozen per property path (issue 13, defect 1; migration 0006)."""

from __future__ import annotations

import datetime as dt
import os
import uuid

from analytics_app import clickhouse as ch

PATHS = 300
ROWS = 1_500


def test_a_wide_capture_sized_insert_is_one_compact_part_of_a_few_files(project):
    now = dt.datetime.now(dt.UTC)
    properties = [
        "{" + ",".join(f'"k{j}":"value-{i}-{j}-xxxxxxxxxxxxxxxx"' for j in range(PATHS)) + "}"
        for i in range(ROWS)
    ]
    ch.insert(
        "events",
        {
            "uuid": [str(uuid.uuid4()) for _ in range(ROWS)],
            "project_id": [project.id] * ROWS,
            "event": ["wide"] * ROWS,
            "distinct_id": [f"u{i}" for i in range(ROWS)],
            "person_id": [str(uuid.uuid4()) for _ in range(ROWS)],
            "timestamp": [now] * ROWS,
            "properties": properties,
        },
    )
    parts = ch.query(
        "SELECT DISTINCT _part AS part FROM events WHERE project_id = {project_id:UInt32}",
        {"project_id": project.id},
    ).column("part")
    assert len(parts) == 1
    (row,) = ch.query(
        "SELECT part_type, path, data_uncompressed_bytes FROM system.parts"
        " WHERE database = currentDatabase() AND table = 'events' AND name = {name:String} AND active",
        {"name": parts[0]},
        global_=True,
    ).rows
    part_type, path, uncompressed = row
    # Above the engine's default 10 MB threshold, this part used to be Wide (~12 files per path).
    assert uncompressed > 10 * 1024 * 1024
    assert part_type == "Compact"
    assert len(os.listdir(path)) < 20
    assert ch.query(
        "SELECT count(), uniqExact(properties.k299::String) FROM events WHERE project_id = {project_id:UInt32}",
        {"project_id": project.id},
    ).rows == [(ROWS, ROWS)]
