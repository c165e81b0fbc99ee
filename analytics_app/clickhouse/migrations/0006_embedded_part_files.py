"""Bound the files the embedded engine holds open for `events` (issue 13, docs/clickhouse.md
"Open files in the embedded engine").

chdb runs inside the web process, so every file a part write or a merge opens is a
descriptor of that process. A Wide part stores each JSON property path as its own
subcolumn files (about a dozen per path): 3,718 files for a part of 300 string
properties, and 11,535 descriptors open at once when five such parts merged.

- `min_bytes_for_wide_part = 64 MiB`: parts written by inserts (a capture request is
  at most 20 MB) are Compact, about a dozen files whatever the number of paths.
- `merge_max_dynamic_subcolumns_in_wide_part = 64`: a merged Wide part keeps the 64
  most frequent paths as subcolumns and the rest in the JSON column's shared data, so
  a merge writes at most about a thousand files.

Big merged parts stay Wide: Compact parts read 2.5 to 7 times slower (2M events,
measured in docs/clickhouse.md). A ClickHouse server keeps its defaults: it runs in its
own process with its own file limits.
"""

SETTINGS = "min_bytes_for_wide_part = 67108864, merge_max_dynamic_subcolumns_in_wide_part = 64"


def operations(ddl):
    from analytics_app.clickhouse import backend  # noqa: PLC0415 - which engine the migration runs on

    if ddl.cluster or backend().name != "chdb":
        return []
    return ddl.alter("events", f"MODIFY SETTING {SETTINGS}")
