"""The Sankey draws a node of step k in column k, also when no path continues from it
(plotly's own layout pushed such a node to the last column)."""

from __future__ import annotations

import plotly.graph_objects as go
from hypothesis import given
from hypothesis import strategies as st

from paths.charts import sankey_figure


def figure(payload: dict):
    """The chart as plotly reads it: building a go.Figure validates every attribute."""
    return go.Figure(sankey_figure(payload))


def columns(payload: dict) -> dict[str, float]:
    node = figure(payload).data[0].node
    return dict(zip(node.label, node.x, strict=True))


def edge(source: str, target: str, value: int) -> dict:
    return {"source": source, "target": target, "value": value, "average_conversion_time_seconds": 1.0}


def test_a_step_2_node_without_further_steps_stays_in_column_2():
    payload = {
        "results": [
            edge("1_/", "2_/pricing", 5),
            edge("1_/", "2_/blog", 2),  # the /blog visitors leave at step 2
            edge("2_/pricing", "3_/signup", 4),
            edge("3_/signup", "4_/welcome", 3),
            edge("4_/welcome", "5_/app", 2),
        ]
    }
    x = columns(payload)
    assert x["2. /blog"] == x["2. /pricing"]
    assert x["1. /"] < x["2. /pricing"] < x["3. /signup"] < x["4. /welcome"] < x["5. /app"]
    assert x["1. /"] == 0.001 and x["5. /app"] == 0.999  # plotly ignores a position of exactly 0
    assert x["2. /blog"] == 0.001 + 0.998 * 1 / 4


@given(
    st.lists(
        st.tuples(st.integers(1, 6), st.sampled_from("abcd"), st.sampled_from("abcd"), st.integers(1, 50)),
        min_size=1,
        max_size=25,
    )
)
def test_every_node_sits_in_its_steps_column_and_inside_the_plot(raw):
    edges = {(f"{k}_/{a}", f"{k + 1}_/{b}"): v for k, a, b, v in raw}
    payload = {"results": [edge(s, t, v) for (s, t), v in edges.items()]}
    fig = figure(payload)
    node = fig.data[0].node
    steps = [int(label.split(".", 1)[0]) for label in node.label]
    first, last = min(steps), max(steps)
    for step, x, y in zip(steps, node.x, node.y, strict=True):
        expected = 0.5 if first == last else (step - first) / (last - first)
        assert abs(x - (0.001 + 0.998 * expected)) < 1e-9
        assert 0 < y < 1
