"""Trends result JSON -> plotly figure / table rows. Pure: no I/O, no Django.

Input is `TrendsResult.to_json(presenter)`, so labels are already masked for the user.
A previous-period series is drawn against the current period's x positions (same
length), dashed, with its own dates in the hover text.
"""

from __future__ import annotations

import datetime as dt

import plotly.graph_objects as go

from insights.chart_style import PALETTE, figure_json  # noqa: F401 - figure_json: the views take it from here

DATE_FORMATS = {"hour": "%Y-%m-%d %H:%M", "day": "%a %Y-%m-%d", "week": "Week of %Y-%m-%d", "month": "%B %Y"}


def format_date(iso: str, interval: str) -> str:
    return dt.datetime.fromisoformat(iso).strftime(DATE_FORMATS.get(interval, "%Y-%m-%d %H:%M"))


def format_number(value) -> str:
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value == value else "–"


def trends_figure(payload: dict, display: str = "line") -> go.Figure:
    interval = payload.get("interval", "day")
    results = payload["results"]
    current_x = {}
    for r in results:
        if r.get("compare_label") != "previous":
            current_x.setdefault(r["series_index"], r["dates"])
    fig = go.Figure()
    colors: dict[str, str] = {}
    for r in results:
        previous = r.get("compare_label") == "previous"
        key = r["label"]
        color = colors.setdefault(key, PALETTE[len(colors) % len(PALETTE)])
        x = current_x.get(r["series_index"], r["dates"]) if previous else r["dates"]
        x = x[: len(r["data"])]
        shown_dates = [format_date(d, interval) for d in r["dates"]]
        name = f"{r['label']} (previous)" if previous else r["label"]
        customdata = [
            [r["series_index"], d, r.get("breakdown_index"), r.get("compare_label") or "current"]
            for d in r["dates"]
        ]
        common = {
            "x": x,
            "y": r["data"],
            "name": name,
            "customdata": customdata,
            "hovertext": shown_dates,
            "hovertemplate": "%{hovertext}<br>" + _escape(name) + ": <b>%{y:,}</b><extra></extra>",
        }
        if display == "bar":
            fig.add_trace(go.Bar(marker={"color": color, "opacity": 0.5 if previous else 1}, **common))
        else:
            fig.add_trace(
                go.Scatter(
                    mode="lines+markers",
                    line={
                        "color": color,
                        "width": 2,
                        "dash": "dash" if previous else "solid",
                        "shape": "linear",
                    },
                    marker={"size": 5},
                    fill="tozeroy" if display == "area" else None,
                    **common,
                )
            )
    fig.update_layout(
        margin={"l": 48, "r": 16, "t": 16, "b": 40},
        height=380,
        hovermode="closest",
        barmode="group",
        showlegend=True,
        legend={"orientation": "h", "y": -0.18},
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        font={"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
        xaxis={"showgrid": False, "tickformat": "%b %d" if interval != "hour" else "%b %d %H:%M"},
        yaxis={"gridcolor": "#eef0f3", "rangemode": "tozero", "tickformat": ","},
    )
    return fig


def _escape(text: str) -> str:
    return (
        text.replace("%", "%%").replace("<", "&lt;").replace(">", "&gt;").replace("{", "(").replace("}", ")")
    )


def table(payload: dict) -> dict:
    """Series x dates for the table view."""
    interval = payload.get("interval", "day")
    results = payload["results"]
    if not results:
        return {"columns": [], "rows": []}
    columns = [format_date(d, interval) for d in results[0]["dates"]]
    rows = []
    for r in results:
        label = r["label"] + (" (previous)" if r.get("compare_label") == "previous" else "")
        rows.append(
            {
                "label": label,
                "values": [format_number(v) for v in r["data"]],
                "total": format_number(r["total"]),
            }
        )
    return {"columns": columns, "rows": rows}
