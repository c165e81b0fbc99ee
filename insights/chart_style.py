"""The colours every plotly chart uses, so a series or node looks the same on every page, and
`figure_json`, a plotly figure as JSON safe inside <script type="application/json">."""

import json

PALETTE = [
    "#4263eb",
    "#f76707",
    "#37b24d",
    "#ae3ec9",
    "#1098ad",
    "#f03e3e",
    "#f59f00",
    "#495057",
    "#d6336c",
    "#0ca678",
]


def figure_json(fig) -> str:
    """The figure as JSON safe to place inside <script type="application/json">: a plotly
    Figure, or a plain dict {"data": [...], "layout": {...}} of JSON values. A dict skips
    plotly's validation of every attribute, which for a Sankey of a few hundred links costs
    more than the query behind it (the tests build a go.Figure of each dict to validate it)."""
    text = json.dumps(fig, separators=(",", ":")) if isinstance(fig, dict) else fig.to_json()
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
