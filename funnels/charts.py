"""Funnel results -> plotly figures. Pure: no I/O, no Django.

Inputs are already-presented values (masked breakdown labels), so nothing here
decides what a user may see.
"""

from __future__ import annotations

import plotly.graph_objects as go

from insights.chart_style import PALETTE, figure_json  # noqa: F401 - figure_json: the views take it from here

FONT = {"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12}


def _escape(text: str) -> str:
    return (
        str(text)
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace("{", "(")
        .replace("}", ")")
        .replace("%", "%%")
    )


def _plain(text: str) -> str:
    """Text shown as it is where plotly reads its pseudo-HTML: axis labels and the values
    a hovertemplate substitutes (%{customdata[2]}). _escape is for the template itself."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


AXIS_LABEL_CHARS = 24


def _short(label: str) -> str:
    return label if len(label) <= AXIS_LABEL_CHARS else label[: AXIS_LABEL_CHARS - 1] + "…"


def step_label(order: int, label: str) -> str:
    """`label`: the step's event, with its filters when it has any (results.step_labels)."""
    return f"{order + 1}. {label}"


def _layout(fig: go.Figure, height: int, **extra) -> go.Figure:
    fig.update_layout(
        margin={"l": 16, "r": 16, "t": 16, "b": 40},
        height=height,
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        font=FONT,
        **extra,
    )
    return fig


def steps_figure(payload: dict) -> go.Figure:
    """Horizontal bars, one per step (top to bottom), for the first result; with a
    breakdown, grouped bars (one trace per breakdown value)."""
    results = payload["results"]
    fig = go.Figure()
    if not results:
        return _layout(fig, 200)
    full = [step_label(s["order"], s.get("label", s["event"])) for s in results[0]["steps"]]
    # The axis gets short labels (a tile or a phone leaves the bars no room for a step's
    # filters); the hover and the table below the chart show them whole.
    labels = [_plain(_short(label)) for label in full]
    hover = [_plain(label) for label in full]
    grouped = len(results) > 1 or results[0].get("breakdown_value") is not None
    for i, r in enumerate(results):
        counts = [s["count"] for s in r["steps"]]
        rates = [s["conversion_rate"] for s in r["steps"]]
        name = r["breakdown_value"] if grouped else "Converted"
        fig.add_trace(
            go.Bar(
                y=labels,
                x=counts,
                orientation="h",
                name=name,
                marker={"color": PALETTE[i % len(PALETTE)]},
                text=[f"{c:,} · {rate:.1%}" for c, rate in zip(counts, rates, strict=True)],
                textposition="auto",
                customdata=[[s["order"], i, hover[k]] for k, s in enumerate(r["steps"])],
                hovertemplate=(
                    "%{customdata[2]}<br>"
                    + (_escape(name) + ": " if grouped else "")
                    + "<b>%{x:,}</b><extra></extra>"
                ),
            )
        )
        if not grouped:
            dropped = [s["dropped"] for s in r["steps"]]
            fig.add_trace(
                go.Bar(
                    y=labels,
                    x=[0] + [d for d in dropped[1:]],
                    orientation="h",
                    name="Dropped off",
                    marker={"color": "#dee2e6"},
                    customdata=[[s["order"], i, hover[k]] for k, s in enumerate(r["steps"])],
                    hovertemplate="%{customdata[2]}<br>dropped off: <b>%{x:,}</b><extra></extra>",
                )
            )
    return _layout(
        fig,
        max(220, 60 * len(labels) * (1 if not grouped else min(len(results), 4))),
        barmode="group" if grouped else "stack",
        yaxis={"autorange": "reversed", "automargin": True},
        xaxis={"gridcolor": "#eef0f3", "rangemode": "tozero", "tickformat": ","},
        legend={"orientation": "h", "y": -0.15},
        showlegend=True,
    )


def time_to_convert_figure(bins: list[tuple[float, float, int]]) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(
        go.Bar(
            x=[format_duration(lo) + "–" + format_duration(hi) for lo, hi, _ in bins],
            y=[n for _, _, n in bins],
            marker={"color": PALETTE[0]},
            hovertemplate="%{x}<br><b>%{y:,}</b><extra></extra>",
        )
    )
    return _layout(
        fig,
        260,
        xaxis={"title": {"text": "time from first to last step"}},
        yaxis={"gridcolor": "#eef0f3", "tickformat": ","},
    )


def trends_figure(points: list[dict]) -> go.Figure:
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[p["day"] for p in points],
            y=[p["rate"] * 100 for p in points],
            mode="lines+markers",
            name="Conversion rate",
            line={"color": PALETTE[2], "width": 2},
            customdata=[[p["entered"], p["converted"]] for p in points],
            hovertemplate="%{x|%a %Y-%m-%d}<br><b>%{y:.1f}%</b> (%{customdata[1]:,} of %{customdata[0]:,})<extra></extra>",
        )
    )
    return _layout(
        fig,
        260,
        showlegend=False,  # one series (the annotations' markers explain themselves on hover)
        xaxis={"showgrid": False, "tickformat": "%b %d"},
        yaxis={"gridcolor": "#eef0f3", "rangemode": "tozero", "ticksuffix": "%"},
    )


def format_duration(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms" if seconds else "0s"
    if seconds < 60:
        return f"{seconds:.0f}s" if seconds == int(seconds) else f"{seconds:.1f}s"
    if seconds < 3600:
        return f"{seconds / 60:.0f}m" if seconds % 60 == 0 else f"{seconds / 60:.1f}m"
    if seconds < 86400:
        return f"{seconds / 3600:.1f}h".replace(".0h", "h")
    return f"{seconds / 86400:.1f}d".replace(".0d", "d")


def step_rows(payload: dict) -> list[dict]:
    """Table rows per breakdown value and step, formatted for the template."""
    out = []
    for i, r in enumerate(payload["results"]):
        for s in r["steps"]:
            out.append(
                {
                    "result_index": i,
                    "breakdown_value": r.get("breakdown_value"),
                    "breakdown_key": r.get("breakdown_key"),
                    "order": s["order"],
                    "label": step_label(s["order"], s.get("label", s["event"])),
                    "count": f"{s['count']:,}",
                    "count_raw": s["count"],
                    "rate": f"{s['conversion_rate']:.1%}",
                    "rate_previous": f"{s['conversion_rate_from_previous']:.1%}",
                    "dropped": f"{s['dropped']:,}",
                    "dropped_raw": s["dropped"],
                    "average": format_duration(s["average_conversion_time_seconds"]),
                    "median": format_duration(s["median_conversion_time_seconds"]),
                }
            )
    return out
