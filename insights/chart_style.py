"""The colours every plotly chart uses, so a series or node looks the same on every page."""

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
