"""Squashed person overrides (docs/clickhouse.md, "Person overrides").

person_distinct_ids.squashed
  1 on the copy of a distinct_id's latest mapping row (same version, same person) that
  the squash (ingestion/squash.py) writes once it has rewritten the person_id of that
  distinct_id's stored events to the current person. Readers take the latest row by
  (version, squashed): the person is the same either way, and a distinct_id whose latest
  row is squashed needs no override. A later merge writes a higher version with 0.
"""


def operations(ddl):
    return ddl.alter_both("person_distinct_ids", "ADD COLUMN IF NOT EXISTS squashed UInt8 DEFAULT 0")
