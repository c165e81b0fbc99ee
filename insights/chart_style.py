"""The colours every plotly chart uses, so a series or node looks the same on every page, and
`figure_json`, a plotly figure as JSON safe inside <script type="application/json">."""

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
    """The figure (a plotly Figure) as JSON safe to place inside <script type="application/json">."""
    return fig.to_json().replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
