"""A rule's metric as a plotly figure: the values, the band of expected values (shaded),
the expected line, anomalous periods (red dots) and the periods that fired (crosses).
Pure: no I/O, no Django."""

from __future__ import annotations

import plotly.graph_objects as go

from insights.chart_style import PALETTE

BAND = "rgba(66, 99, 235, 0.12)"
RED = "#f03e3e"


def alert_figure(points: list[dict], interval: str) -> go.Figure:
    """points: [{"x": iso start, "value", "expected", "low", "high", "anomalous", "fired"}]."""
    x = [p["x"] for p in points]
    fig = go.Figure()
    has_band = any(p["low"] is not None or p["high"] is not None for p in points)
    if has_band:
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[p["high"] for p in points],
                mode="lines",
                line={"width": 0},
                hoverinfo="skip",
                showlegend=False,
                connectgaps=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[p["low"] for p in points],
                mode="lines",
                line={"width": 0},
                fill="tonexty",
                fillcolor=BAND,
                name="Expected band",
                hoverinfo="skip",
                connectgaps=False,
            )
        )
        fig.add_trace(
            go.Scatter(
                x=x,
                y=[p["expected"] for p in points],
                mode="lines",
                name="Expected",
                line={"color": PALETTE[0], "width": 1, "dash": "dot"},
                hovertemplate="expected %{y:,.4g}<extra></extra>",
            )
        )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[p["value"] for p in points],
            mode="lines",
            name="Value",
            line={"color": PALETTE[0], "width": 2},
            hovertemplate="%{x}<br><b>%{y:,.4g}</b><extra></extra>",
        )
    )
    odd = [p for p in points if p["anomalous"]]
    fig.add_trace(
        go.Scatter(
            x=[p["x"] for p in odd],
            y=[p["value"] for p in odd],
            mode="markers",
            name="Anomalous",
            marker={"color": RED, "size": 7},
            hovertemplate="anomalous: %{y:,.4g}<extra></extra>",
        )
    )
    fired = [p for p in points if p["fired"]]
    fig.add_trace(
        go.Scatter(
            x=[p["x"] for p in fired],
            y=[p["value"] for p in fired],
            mode="markers",
            name="Would fire",
            marker={"color": RED, "size": 13, "symbol": "x-thin-open", "line": {"width": 2, "color": RED}},
            hovertemplate="fires: %{y:,.4g}<extra></extra>",
        )
    )
    fig.update_layout(
        margin={"l": 48, "r": 16, "t": 16, "b": 40},
        height=340,
        hovermode="closest",
        showlegend=True,
        legend={"orientation": "h", "y": -0.2},
        plot_bgcolor="#ffffff",
        paper_bgcolor="#ffffff",
        font={"family": "system-ui, -apple-system, Segoe UI, sans-serif", "size": 12},
        xaxis={"showgrid": False, "tickformat": "%b %d" if interval != "hour" else "%b %d %H:%M"},
        yaxis={"gridcolor": "#eef0f3", "rangemode": "tozero", "tickformat": ","},
    )
    return fig


def backtest_points(test, fired_starts=None) -> list[dict]:
    """The figure's points from an alerts.evaluate.Backtest (the judged periods only)."""
    fired = set(test.firings if fired_starts is None else fired_starts)
    return [
        {
            "x": item.start.isoformat(),
            "value": item.judgement.value,
            "expected": item.judgement.expected,
            "low": item.judgement.low,
            "high": item.judgement.high,
            "anomalous": item.judgement.anomalous,
            "fired": item.start in fired,
        }
        for item in test.judged
    ]
