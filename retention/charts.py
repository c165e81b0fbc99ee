"""Retention result (the JSON payload of RetentionResult.to_json) -> what the page
draws: heatmap rows, the mean retention curve (weighted by cohort size), summary
cards and a plotly figure. Pure functions, no I/O."""

from __future__ import annotations

import json

PERIOD_LABEL = {"day": "Day", "week": "Week", "month": "Month"}
SUMMARY_OFFSETS = {"day": [1, 7, 30], "week": [1, 4, 12], "month": [1, 3, 6]}
COLORS = [
    "#4c6ef5",
    "#12b886",
    "#fab005",
    "#fa5252",
    "#7950f2",
    "#15aabf",
    "#fd7e14",
    "#82c91e",
    "#e64980",
    "#868e96",
]


def percent(part: int, whole: int) -> float | None:
    return None if not whole else 100.0 * part / whole


def cell_style(pct: float | None) -> str:
    """Background from white (0 %) to the accent colour (100 %); dark text on light cells."""
    if pct is None:
        return ""
    alpha = 0.08 + 0.87 * max(0.0, min(pct, 100.0)) / 100.0
    color = "#fff" if alpha > 0.55 else "inherit"
    return f"background: rgba(76, 110, 245, {alpha:.3f}); color: {color};"


def groups(payload: dict) -> list[dict]:
    """Rows grouped by breakdown value (one group without a breakdown), in payload order."""
    out: dict[object, dict] = {}
    for row in payload["results"]:
        key = row.get("breakdown_index")  # labels may collide once masked; the index does not
        out.setdefault(key, {"breakdown_value": row["breakdown_value"], "breakdown_index": key, "rows": []})[
            "rows"
        ].append(row)
    return list(out.values())


def mean_curve(rows: list[dict]) -> list[float | None]:
    """Per offset k: sum of values[k] / sum of the sizes of the cohorts that have a value at k."""
    width = max((len(r["values"]) for r in rows), default=0)
    curve = []
    for k in range(width):
        having = [r for r in rows if len(r["values"]) > k]
        size = sum(r["values"][0] for r in having)
        curve.append(percent(sum(r["values"][k] for r in having), size))
    return curve


def heatmap(rows: list[dict], period: str, show: str) -> dict:
    width = max((len(r["values"]) for r in rows), default=0)
    label = PERIOD_LABEL[period]
    table_rows = []
    for i, row in enumerate(rows):
        size = row["values"][0] if row["values"] else 0
        cells = []
        for k, value in enumerate(row["values"]):
            pct = percent(value, size)
            text = (
                "–"
                if pct is None and k
                else (f"{pct:.1f}%" if show == "percent" and pct is not None else str(value))
            )
            cells.append(
                {
                    "k": k,
                    "value": value,
                    "pct": pct,
                    "text": text,
                    "style": cell_style(pct),
                    "title": f"{row['cohort_start']} · {label} {k}: {value} of {size} persons"
                    + (f" ({pct:.1f}%)" if pct is not None else ""),
                }
            )
        table_rows.append(
            {
                "index": i,
                "cohort_start": row["cohort_start"],
                "size": size,
                "cells": cells,
                "blank": range(width - len(cells)),
            }
        )
    curve = mean_curve(rows)
    return {
        "columns": [f"{label} {k}" for k in range(width)],
        "rows": table_rows,
        "mean": [
            {"k": k, "pct": p, "text": "–" if p is None else f"{p:.1f}%", "style": cell_style(p)}
            for k, p in enumerate(curve)
        ],
    }


def summary(rows: list[dict], period: str) -> list[dict]:
    curve = mean_curve(rows)
    label = PERIOD_LABEL[period]
    return [
        {"label": f"{label} {k} retention", "value": "–" if curve[k] is None else f"{curve[k]:.1f}%"}
        for k in SUMMARY_OFFSETS[period]
        if k < len(curve)
    ]


def curve_figure(payload: dict) -> dict:
    """Mean retention (%) per offset: one line per breakdown value."""
    label = PERIOD_LABEL[payload["period"]]
    traces = []
    for i, group in enumerate(groups(payload)):
        curve = mean_curve(group["rows"])
        traces.append(
            {
                "type": "scatter",
                "mode": "lines+markers",
                "name": group["breakdown_value"] if group["breakdown_value"] is not None else "All cohorts",
                "x": [f"{label} {k}" for k in range(len(curve))],
                "y": [None if p is None else round(p, 2) for p in curve],
                "line": {"color": COLORS[i % len(COLORS)], "width": 2},
                "hovertemplate": "%{x}: %{y:.1f}%<extra>%{fullData.name}</extra>",
            }
        )
    return {
        "data": traces,
        "layout": {
            "margin": {"l": 50, "r": 20, "t": 10, "b": 40},
            "yaxis": {"title": {"text": "% of cohort"}, "rangemode": "tozero", "ticksuffix": "%"},
            "xaxis": {"type": "category"},
            "showlegend": len(traces) > 1,
            "legend": {"orientation": "h"},
            "hovermode": "x unified",
        },
    }


def figure_json(figure: dict) -> str:
    """JSON safe to embed in a <script type="application/json"> element."""
    return (
        json.dumps(figure, separators=(",", ":"))
        .replace("<", "\\u003c")
        .replace(">", "\\u003e")
        .replace("&", "\\u0026")
    )
