"""An insight's result table as rows (for the CSV / JSON export; each app builds its own in
<app>/exports.py and registers it with insights.people.register): what the result
partial shows, from the same payload the page renders (`to_json(presenter)`: labels
masked for roles without view-PII), with the numbers unformatted.

- trends: one row per series (and breakdown value / compared period): label, the value
  of each interval, the total.
- funnels: one row per breakdown value and step: counts, conversion rates, drop-off, times.
- retention: one row per cohort (and breakdown value): start, size, the count of each period.
- paths: one row per edge (source, target, sessions, average seconds), then one per
  node with drop-off.
"""

from __future__ import annotations

from dataclasses import dataclass

from analytics_app.errors import BadRequest

from .registry import decode_q

SLUGS = {
    "TrendsQuery": "trends",
    "FunnelsQuery": "funnels",
    "RetentionQuery": "retention",
    "PathsQuery": "paths",
}


@dataclass
class Table:
    columns: list[str]
    rows: list[list]


def slug(kind: str) -> str:
    """`trends` for `trends` or `TrendsQuery` (saved insights store the latter)."""
    return SLUGS.get(kind, kind)


def result_table(request, kind: str, q: str) -> Table:
    from .people import TABLES  # noqa: PLC0415

    if kind not in TABLES:
        raise BadRequest("Invalid export.", {"kind": f"must be one of {', '.join(sorted(TABLES))}"})
    return TABLES[kind](request.project, decode_q(q), request.presenter)
