"""An insight's result table as rows (for the CSV / JSON export): what the result
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
    if kind not in BUILDERS:
        raise BadRequest("Invalid export.", {"kind": f"must be one of {', '.join(BUILDERS)}"})
    return BUILDERS[kind](request.project, decode_q(q), request.presenter)


def trends_table(project, body, presenter) -> Table:
    from trends.queries import TrendsQueryRunner  # noqa: PLC0415
    from trends.spec import TrendsSpec  # noqa: PLC0415

    payload = TrendsQueryRunner(project, TrendsSpec.from_json(body, project)).run().to_json(presenter)
    results = payload["results"]
    dates = results[0]["dates"] if results else []
    rows = [
        [
            r["label"] + (" (previous)" if r.get("compare_label") == "previous" else ""),
            *r["data"],
            r["total"],
        ]
        for r in results
    ]
    return Table(["series", *dates, "total"], rows)


def funnels_table(project, body, presenter) -> Table:
    from funnels.queries import FunnelQueryRunner  # noqa: PLC0415
    from funnels.spec import FunnelSpec  # noqa: PLC0415

    payload = FunnelQueryRunner(project, FunnelSpec.from_json(body, project)).run().to_json(presenter)
    columns = [
        "breakdown_value",
        "step",
        "event",
        "count",
        "conversion_rate",
        "conversion_rate_from_previous",
        "dropped",
        "average_conversion_time_seconds",
        "median_conversion_time_seconds",
    ]
    rows = [
        [
            "" if r.get("breakdown_value") is None else r["breakdown_value"],
            s["order"] + 1,
            s["event"],
            s["count"],
            s["conversion_rate"],
            s["conversion_rate_from_previous"],
            s["dropped"],
            _blank(s["average_conversion_time_seconds"]),
            _blank(s["median_conversion_time_seconds"]),
        ]
        for r in payload["results"]
        for s in r["steps"]
    ]
    return Table(columns, rows)


def retention_table(project, body, presenter) -> Table:
    from retention import charts  # noqa: PLC0415
    from retention.queries import RetentionQueryRunner  # noqa: PLC0415
    from retention.spec import RetentionSpec  # noqa: PLC0415

    spec = RetentionSpec.from_json(body, project)
    payload = RetentionQueryRunner(project, spec).run().to_json(presenter)
    width = max((len(r["values"]) for r in payload["results"]), default=0)
    label = charts.PERIOD_LABEL[spec.period.value]
    rows = [
        [
            "" if r.get("breakdown_value") is None else r["breakdown_value"],
            r["cohort_start"],
            r["values"][0] if r["values"] else 0,
            *r["values"],
            *([""] * (width - len(r["values"]))),
        ]
        for r in payload["results"]
    ]
    return Table(["breakdown_value", "cohort_start", "size", *(f"{label} {k}" for k in range(width))], rows)


def paths_table(project, body, presenter) -> Table:
    from paths.queries import PathsQueryRunner  # noqa: PLC0415
    from paths.spec import PathsSpec  # noqa: PLC0415

    payload = PathsQueryRunner(project, PathsSpec.from_json(body, project)).run().to_json(presenter)
    rows = [
        ["edge", e["source"], e["target"], e["value"], e["average_conversion_time_seconds"]]
        for e in payload["results"]
    ]
    rows += [
        ["dropoff", d["node"], "", d["dropoff"], ""] for d in payload.get("dropoff", []) if d["dropoff"] > 0
    ]
    return Table(["row", "source", "target", "sessions", "average_conversion_time_seconds"], rows)


def _blank(value):
    return "" if value is None else value


BUILDERS = {
    "trends": trends_table,
    "funnels": funnels_table,
    "retention": retention_table,
    "paths": paths_table,
}
