"""SQLBuilder.bind: long integer, UUID and string arrays travel as one JSON String decoded in the statement
(insights/blocks/builder.py, LARGE_ARRAY); ClickHouse must see exactly the same values as
through an Array parameter, wherever the statement uses them (a lambda, IN, transform)."""

from __future__ import annotations

import random
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analytics_app import clickhouse as ch
from insights.blocks.builder import JSON_ARRAYS, LARGE_ARRAY, SQLBuilder
from tests.conftest import examples

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
    assert t in JSON_ARRAYS
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


def roundtrip(ch_project, got: list, t: str) -> list:
    b = SQLBuilder(ch_project().id)
    a = b.bind(got, t)
    assert a.startswith("JSONExtract(")
    row = ch.query(
        f"SELECT {a} AS a, toTypeName(a), arrayMap(x -> indexOf({a}, x), [{a}[1], {a}[{len(got)}]]), "
        f"{a}[2] IN {a} FROM (SELECT 1) WHERE {{project_id:UInt32}} > 0",
        b.params,
    ).rows[0]
    assert row[1] == t and row[3] == 1
    assert row[2] == [got.index(got[0]) + 1, got.index(got[-1]) + 1]
    return row[0]


def test_uuids_arrive_exactly(ch_project):
    rng = random.Random(7)
    got = [uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)] + [
        uuid.UUID(int=rng.getrandbits(128)) for _ in range(400)
    ]
    assert roundtrip(ch_project, got, "Array(UUID)") == got
    assert roundtrip(ch_project, [str(u).upper() for u in got], "Array(UUID)") == got  # any spelling
    with pytest.raises(ValueError):
        SQLBuilder(1).bind(["not a uuid"] * (LARGE_ARRAY + 1), "Array(UUID)")


@settings(max_examples=examples(40), deadline=None)
@given(st.lists(st.text(), min_size=1, max_size=30), st.randoms(use_true_random=False))
def test_strings_arrive_exactly(ch_project, texts, rng):
    """Any text: quotes, backslashes, control characters, NUL, non-BMP characters."""
    fixed = ["", "'", '"', "\\", "\x00", "\u2028", "\U0001f600", "a\tb\nc", "é", "\\u0041"]
    got = [rng.choice(texts + fixed) for _ in range(LARGE_ARRAY + 1)]
    assert roundtrip(ch_project, got, "Array(String)") == got


def test_other_arrays_keep_their_parameter():
    b = SQLBuilder(1)
    assert b.bind([1.5] * 1000, "Array(Float64)") == "{p1:Array(Float64)}"
    assert b.bind([1] * 3, "Array(UInt64)") == "{p2:Array(UInt64)}"
    assert b.bind(["x"] * LARGE_ARRAY, "Array(String)") == "{p3:Array(String)}"
