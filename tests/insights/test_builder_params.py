"""SQLBuilder.bind: long integer arrays travel as one JSON String decoded in the statement
(insights/blocks/builder.py, LARGE_ARRAY); ClickHouse must see exactly the same values as
through an Array parameter, wherever the statement uses them (a lambda, IN, transform)."""

from __future__ import annotations

import random

import pytest

from analytics_app import clickhouse as ch
from insights.blocks.builder import INTEGER_ARRAYS, LARGE_ARRAY, SQLBuilder

EXTREMES = {
    "UInt8": (0, 255),
    "UInt16": (0, 65535),
    "UInt32": (0, 2**32 - 1),
    "UInt64": (0, 2**64 - 1),
    "Int8": (-128, 127),
    "Int16": (-(2**15), 2**15 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "Int64": (-(2**63), 2**63 - 1),
}


def values(kind: str, n: int) -> list[int]:
    lo, hi = EXTREMES[kind]
    rng = random.Random(n)
    return [lo, hi, lo + 1, hi - 1, *(rng.randint(lo, hi) for _ in range(n - 4))]


@pytest.mark.parametrize("kind", sorted(EXTREMES))
@pytest.mark.parametrize("n", [LARGE_ARRAY, LARGE_ARRAY + 1, 11_216])
def test_the_values_arrive_exactly(ch_project, kind, n):
    t = f"Array({kind})"
    assert t in INTEGER_ARRAYS
    b = SQLBuilder(ch_project().id)
    got = values(kind, n)
    a = b.bind(got, t)
    assert a.startswith("JSONExtract(") == (n > LARGE_ARRAY)
    row = ch.query(
        f"SELECT {a} AS a, toTypeName(a), "
        f"arrayMap(x -> transform(x, {a}, arrayEnumerate({a}), 0), [{a}[3], {a}[2]]), "
        f"{a}[2] IN {a}, has({a}, {a}[{len(got)}]) "
        "FROM (SELECT 1) WHERE {project_id:UInt32} > 0",
        b.params,
    ).rows[0]
    assert row[0] == got and row[1] == t
    assert row[2] == [3, 2] and row[3] == 1 and row[4] == 1


def test_other_arrays_keep_their_parameter():
    b = SQLBuilder(1)
    assert b.bind(["x"] * 1000, "Array(String)") == "{p1:Array(String)}"
    assert b.bind([1.5] * 1000, "Array(Float64)") == "{p2:Array(Float64)}"
    assert b.bind([1] * 3, "Array(UInt64)") == "{p3:Array(UInt64)}"
