from __future__ import annotations

import json
import uuid

# Integer, UUID and string arrays longer than LARGE_ARRAY go to ClickHouse as one String
# parameter holding their JSON, decoded in the statement (JSONExtract). An Array parameter
# becomes a literal that the analyser formats element by element again for the name of
# every expression built on it: on chdb 26.9, `SELECT length({a:Array(UInt64)})` with
# 11,216 elements took 31 ms against 5 ms as JSON (10,000 UUIDs 74 against 16 ms, 10,000
# URLs 67 against 12 ms), and the paths runners at 10M events, which bind two such arrays
# (the node dictionary's keys and ids), take 4-10% less CPU (docs/clickhouse.md, "Large
# array parameters"). Floats keep their Array parameters (JSON has no inf or nan).
LARGE_ARRAY = 256
_INTEGERS = ("UInt8", "UInt16", "UInt32", "UInt64", "Int8", "Int16", "Int32", "Int64")
JSON_ARRAYS = {f"Array({t})": int for t in _INTEGERS} | {
    "Array(UUID)": lambda v: str(uuid.UUID(str(v))),  # canonical text; not a UUID: ValueError
    "Array(String)": str,
}


class SQLBuilder:
    """Collects bound values; `bind(value, type)` returns the placeholder to put in SQL.

    b = SQLBuilder(project_id=7)
    where = f"event = {b.bind('signup', 'String')}"   # -> "event = {p1:String}"
    ch.query(sql, b.params)
    """

    def __init__(self, project_id: int):
        self.params: dict = {"project_id": project_id}
        self._n = 0
        # The project's person overrides, looked up by the first EventSource built with
        # this builder (insights.blocks.source.current_person).
        self.overrides = None

    def bind(self, value, ch_type: str) -> str:
        self._n += 1
        name = f"p{self._n}"
        convert = JSON_ARRAYS.get(ch_type)
        if convert is not None and len(value) > LARGE_ARRAY:
            # One JSON text (ASCII, \u escapes), decoded by the statement: the same values,
            # exactly (tests/insights/test_builder_params.py).
            self.params[name] = json.dumps([convert(v) for v in value])
            return f"JSONExtract({{{name}:String}}, '{ch_type}')"
        self.params[name] = value
        return "{" + name + ":" + ch_type + "}"
