"""docs/performance.md keeps an earlier growth run's section when a run measured none
(bench/run.py carried_growth): marked once, however often the document is rendered."""

from __future__ import annotations

import sys

import pytest
from django.conf import settings


@pytest.fixture(scope="module")
def bench_run():
    path = str(settings.BASE_DIR / "bench")
    sys.path.insert(0, path)
    try:
        import run  # noqa: PLC0415

        yield run
    finally:
        sys.path.remove(path)


DOC = """# Performance

## Queries

| kind | query |

## Growth

The same queries at 3 and 10 events.

| kind | query | 3 | 10 |
| --- | --- | --- | --- |
| trends | DAU | 1 ms | 2 ms |
"""


def test_the_growth_section_is_carried_over_and_marked_once(bench_run):
    section = bench_run.carried_growth(DOC)
    assert section[0] == "## Growth" and section[2] == bench_run.CARRIED
    assert "| trends | DAU | 1 ms | 2 ms |" in section and "## Queries" not in section
    again = bench_run.carried_growth("# Performance\n\n" + "\n".join(section))
    assert again == section


def test_no_growth_section_nothing_carried(bench_run):
    assert bench_run.carried_growth(DOC.split("## Growth")[0]) == []
