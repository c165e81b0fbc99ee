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
    if value is None:
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value == value else "–"


def shown_rows(payload: dict, show_series: bool = False) -> list[dict]:
    """The rows a display draws: the formula's (plus the series when asked) or the series."""
    if "formula_results" in payload:
        return payload["formula_results"] + (payload["results"] if show_series else [])
    return payload["results"]


def cumulative(data: list) -> list:
    """Running sum; an empty (None) bucket adds nothing."""
    out, running = [], 0
    for v in data:
        running += 0 if v is None else v
        out.append(running)
    return out


def moving_average(data: list, window: int) -> list:
    """Mean of the non-empty values among the last `window` buckets (fewer at the start)."""
    out = []
    for i in range(len(data)):
        values = [v for v in data[max(0, i - window + 1) : i + 1] if v is not None]
        out.append(sum(values) / len(values) if values else None)
    return out


def transformed(data: list, display: str, window: int) -> list:
    if display == "cumulative":
        return cumulative(data)
    if display == "moving_average":
        return moving_average(data, window)
    return data


def lettered(payload: dict) -> bool:
    """Series carry their letter (A · …) when there are several or a formula uses them."""
    return "formula_results" in payload or len({r["series_index"] for r in payload["results"]}) > 1


def row_name(r: dict, letters: bool = True) -> str:
    name = r["label"]
    if letters and r.get("letter"):
        name = f"{r['letter']} · {name}"
    elif r.get("math") == "formula":
        name = f"ƒ {name}"
    return f"{name} (previous)" if r.get("compare_label") == "previous" else name


def big_numbers(payload: dict, mode: str = "total", show_series: bool = False) -> list[dict]:
    """One number per row: the total over the range, or the last bucket's value."""
    out = []
    for r in shown_rows(payload, show_series):
        value = r["total"] if mode == "total" else (r["data"][-1] if r["data"] else None)
        out.append({"label": row_name(r, lettered(payload)), "value": value, "text": format_number(value)})
    return out


def pie_shares(payload: dict, show_series: bool = False) -> list[dict]:
    """Each current-period row's total over the range and its share of the sum of positive
    totals (a row with a total <= 0 or none has no slice)."""
    rows = [r for r in shown_rows(payload, show_series) if r.get("compare_label") != "previous"]
    positive = [r for r in rows if r["total"] is not None and r["total"] > 0]
    whole = sum(r["total"] for r in positive)
    return [
        {
            "label": row_name(r, lettered(payload)),
            "value": r["total"],
            "share": r["total"] / whole if whole else 0.0,
        }
        for r in positive
    ]


def pie_figure(shares: list[dict]) -> go.Figure:
    fig = go.Figure(
        go.Pie(
            labels=[s["label"] for s in shares],
            values=[s["value"] for s in shares],
            marker={"colors": [PALETTE[i % len(PALETTE)] for i in range(len(shares))]},
            sort=False,
            hole=0.35,
            textinfo="percent",
            hovertemplate="%{label}: <b>%{value:,}</b> (%{percent})<extra></extra>",
        )
    )
    _layout(fig, "day")
    return fig


def trends_figure(
    payload: dict,
    display: str = "line",
    *,
    window: int = 7,
    show_series: bool = False,
    annotations: list[dict] | None = None,
) -> go.Figure:
    """A time chart. The bucket still running (`incomplete_from`) is drawn as a dashed last
    segment in line-type displays; annotations are dotted vertical lines with a marker."""
    interval = payload.get("interval", "day")
    rows = shown_rows(payload, show_series)
    current_x = {}
    for r in rows:
        if r.get("compare_label") != "previous":
            current_x.setdefault(r["series_index"], r["dates"])
    incomplete = payload.get("incomplete_from")
    letters = lettered(payload)
    fig = go.Figure()
    colors: dict[str, str] = {}
    for r in rows:
        previous = r.get("compare_label") == "previous"
        key = r["label"]
        color = colors.setdefault(key, PALETTE[len(colors) % len(PALETTE)])
        x = current_x.get(r["series_index"], r["dates"]) if previous else r["dates"]
        y = transformed(r["data"], display, window)
        x = x[: len(y)]
        shown_dates = [format_date(d, interval) for d in r["dates"]]
        name = row_name(r, letters)
        customdata = [
            [r["series_index"], d, r.get("breakdown_index"), r.get("compare_label") or "current"]
            for d in r["dates"]
        ]
        common = {
            "x": x,
            "y": y,
            "name": name,
            "legendgroup": name,
            "customdata": customdata,
            "hovertext": shown_dates,
            "hovertemplate": "%{hovertext}<br>" + _escape(name) + ": <b>%{y:,}</b><extra></extra>",
        }
        if display == "bar":
            fig.add_trace(go.Bar(marker={"color": color, "opacity": 0.5 if previous else 1}, **common))
            continue
        dashed_tail = (
            not previous and incomplete is not None and len(y) >= 2 and r["dates"][len(y) - 1] == incomplete
        )
        line = {"color": color, "width": 2, "dash": "dash" if previous else "solid", "shape": "linear"}
        fill = "tozeroy" if display == "area" else None
        if dashed_tail:
            # The points (full data: hover, click, readers of the figure) as markers, and
            # the line in two pieces: solid up to the last complete bucket, then dashed.
            n = len(y)
            symbols = ["circle"] * (n - 1) + ["circle-open"]
            texts = shown_dates[: n - 1] + [shown_dates[n - 1] + " (incomplete)"]
            points = {**common, "hovertext": texts, "showlegend": False}
            fig.add_trace(
                go.Scatter(mode="markers", marker={"size": 5, "color": color, "symbol": symbols}, **points)
            )
            pieces = {"name": name, "legendgroup": name, "hoverinfo": "skip", "fill": fill}
            fig.add_trace(go.Scatter(x=x, y=y[:-1] + [None], mode="lines", line=line, **pieces))
            fig.add_trace(
                go.Scatter(
                    x=x[-2:],
                    y=y[-2:],
                    mode="lines",
                    line={**line, "dash": "dash"},
                    showlegend=False,
                    **pieces,
                )
            )
        else:
            fig.add_trace(
                go.Scatter(mode="lines+markers", line=line, marker={"size": 5}, fill=fill, **common)
            )
    _layout(fig, interval)
    if annotations:
        add_annotations(fig, annotations, payload)
    return fig


def add_annotations(fig: go.Figure, annotations: list[dict], payload: dict) -> None:
    """Dotted vertical lines at each annotation's moment inside the charted range, with a
    marker on top whose hover text is the date, the text and its author."""
    start, end = payload.get("date_from"), payload.get("date_to")
    xs, texts = [], []
    for a in annotations:
        at = a["date"]
        if (
            start
            and end
            and not (
                dt.datetime.fromisoformat(start)
                <= dt.datetime.fromisoformat(at)
                <= dt.datetime.fromisoformat(end)
            )
        ):
            continue
        fig.add_shape(
            type="line",
            x0=at,
            x1=at,
            xref="x",
            y0=0,
            y1=1,
            yref="paper",
            line={"color": "#868e96", "width": 1, "dash": "dot"},
        )
        xs.append(at)
        texts.append(f"{a['date_text']}<br>{_escape(a['text'])}<br><i>{_escape(a['author'])}</i>")
    if xs:
        fig.add_trace(
            go.Scatter(
                x=xs,
                y=[1.0] * len(xs),
                yaxis="y2",
                mode="markers",
                marker={"symbol": "triangle-down", "size": 11, "color": "#495057"},
                name="Annotations",
                hovertext=texts,
                hovertemplate="%{hovertext}<extra></extra>",
                showlegend=False,
                customdata=[["annotation"] for _ in xs],
            )
        )
        fig.update_layout(
            yaxis2={"overlaying": "y", "range": [0, 1.04], "visible": False, "fixedrange": True}
        )


def _layout(fig: go.Figure, interval: str) -> None:
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


def _escape(text: str) -> str:
    return (
        text.replace("%", "%%").replace("<", "&lt;").replace(">", "&gt;").replace("{", "(").replace("}", ")")
    )


def table(payload: dict, show_series: bool = True) -> dict:
    """Rows x dates for the table view (with a formula: its rows first, then the series)."""
    interval = payload.get("interval", "day")
    results = shown_rows(payload, show_series)
    if not results:
        return {"columns": [], "rows": []}
    columns = [format_date(d, interval) for d in results[0]["dates"]]
    rows = []
    for r in results:
        label = row_name(r, lettered(payload))
        rows.append(
            {
                "label": label,
                "values": [format_number(v) for v in r["data"]],
                "total": format_number(r["total"]),
            }
        )
    return {"columns": columns, "rows": rows}
