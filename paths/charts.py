"""Paths result JSON -> plotly Sankey / tables. Pure: no I/O, no Django.

Input is `PathsResult.to_json()`. Node ids are the step-prefixed names
(`2_/pricing`); labels show the name without the prefix. Every node and link
carries customdata for the click -> sessions drill-down: a node
`["node", "2_/pricing"]`, a link `["edge", "1_/", "2_/pricing"]`.
"""

from __future__ import annotations

from insights.chart_style import PALETTE, figure_json  # noqa: F401 - figure_json: the views take it from here


def split_node(node: str) -> tuple[int, str]:
    step, name = node.split("_", 1)
    return int(step), name


def format_seconds(seconds: float) -> str:
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    if seconds < 86400:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} d"


def sankey_figure(payload: dict) -> dict:
    """The Sankey as a plotly figure dict (insights.chart_style.figure_json serializes it)."""
    edges = payload["results"]
    drop = {d["node"]: d for d in payload.get("dropoff", [])}
    nodes: list[str] = []
    index: dict[str, int] = {}
    for e in edges:
        for n in (e["source"], e["target"]):
            if n not in index:
                index[n] = len(nodes)
                nodes.append(n)
    names = sorted({split_node(n)[1] for n in nodes})
    color_of = {name: PALETTE[i % len(PALETTE)] for i, name in enumerate(names)}
    node_custom = []
    for n in nodes:
        d = drop.get(n)
        if d:
            text = f"{d['sessions']:,} sessions · {d['ended']:,} ended here · {d['continued_omitted']:,} on omitted edges"
        else:
            text = ""
        node_custom.append(["node", n, text])
    sankey = {
        "type": "sankey",
        # "fixed": with draggable nodes ("snap") plotly swallows the click on a node,
        # and a node click is how a PM opens the sessions behind it.
        "arrangement": "fixed",
        "node": {
            "label": [f"{split_node(n)[0]}. {split_node(n)[1]}" for n in nodes],
            **node_positions(nodes, edges),
            "color": [color_of[split_node(n)[1]] for n in nodes],
            "pad": 14,
            "thickness": 14,
            "customdata": node_custom,
            "hovertemplate": "%{label}<br>%{customdata[2]}<extra></extra>",
        },
        "link": {
            "source": [index[e["source"]] for e in edges],
            "target": [index[e["target"]] for e in edges],
            "value": [e["value"] for e in edges],
            "customdata": [
                ["edge", e["source"], e["target"], format_seconds(e["average_conversion_time_seconds"])]
                for e in edges
            ],
            "hovertemplate": "%{source.label} → %{target.label}<br><b>%{value:,}</b> sessions<br>avg %{customdata[3]}<extra></extra>",
            # each link in its source node's colour, translucent: flows stay traceable
            "color": [_translucent(color_of[split_node(e["source"])[1]]) for e in edges],
        },
    }
    layout = {
        "margin": {"l": 10, "r": 10, "t": 10, "b": 10},
        "height": max(360, 28 * len(nodes) // 2 + 200),
        "font": {"size": 12},
    }
    return {"data": [sankey], "layout": layout}


EDGE = 0.001  # plotly ignores a node position of exactly 0, so columns run from EDGE to 1 - EDGE


def node_positions(nodes: list[str], edges: list[dict]) -> dict[str, list[float]]:
    """Fixed x / y (node centres, 0..1) so that a node of step k is drawn in column k.

    Left to itself plotly's Sankey pushes a node without outgoing links to the last
    column ("justify"): a path that ended at step 2 was drawn under step 5. Columns are
    spaced evenly from the first step to the last; in each column the nodes stack top
    to bottom in `nodes` order (the biggest flows first), each as tall as its flow on
    the scale of the fullest column, with equal gaps.
    """
    steps = [split_node(n)[0] for n in nodes]
    first, last = min(steps), max(steps)
    span = last - first
    flow: dict[str, float] = dict.fromkeys(nodes, 0.0)
    inflow: dict[str, float] = dict.fromkeys(nodes, 0.0)
    for e in edges:
        flow[e["source"]] += e["value"]
        inflow[e["target"]] += e["value"]
    size = {n: max(flow[n], inflow[n], 1.0) for n in nodes}
    columns: dict[int, list[str]] = {}
    for n, step in zip(nodes, steps, strict=True):
        columns.setdefault(step, []).append(n)
    fullest = max(sum(size[n] for n in col) for col in columns.values())
    most = max(len(col) for col in columns.values())
    gap = 0.25 / most if most > 1 else 0.0  # the share of the height the gaps take
    scale = (1 - gap * (most - 1)) / fullest
    x, y = [], []
    top: dict[int, float] = {}
    for n, step in zip(nodes, steps, strict=True):
        x.append(EDGE + (1 - 2 * EDGE) * ((step - first) / span if span else 0.5))
        start = top.get(step, 0.0)
        height = size[n] * scale
        y.append(min(max(start + height / 2, EDGE), 1 - EDGE))
        top[step] = start + height + gap
    return {"x": x, "y": y}


def _translucent(hex_color: str, alpha: float = 0.3) -> str:
    r, g, b = (int(hex_color[i : i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r}, {g}, {b}, {alpha})"


def dropoff_rows(payload: dict) -> list[dict]:
    """Nodes with drop-off, most first, for the table under the chart."""
    rows = [
        {**d, "step": split_node(d["node"])[0], "name": split_node(d["node"])[1]}
        for d in payload.get("dropoff", [])
        if d["dropoff"] > 0
    ]
    rows.sort(key=lambda d: (-d["dropoff"], d["step"], d["name"]))
    return rows


def edge_rows(payload: dict) -> list[dict]:
    return [
        {
            **e,
            "source_step": split_node(e["source"])[0],
            "source_name": split_node(e["source"])[1],
            "target_name": split_node(e["target"])[1],
            "average": format_seconds(e["average_conversion_time_seconds"]),
        }
        for e in payload["results"]
    ]
