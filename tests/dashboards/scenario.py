"""One small product scenario and a saved insight of every kind over it, shared by the
server-side and the browser tests of saved insights and dashboard tiles.

Three visitors sign up and view "/" then "/pricing"; u1 also views "/signup" and pays;
u3 views "/" then "/blog" and leaves (a path that ends at step 2).
Every event lies on today's date (UTC, the project's zone) and in the past, whatever
the time of day the test runs, so day buckets never split.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re

URL = "https://shop.example.com"

SPECS = {
    "TrendsQuery": {
        "kind": "TrendsQuery",
        "series": [{"event": "signed_up", "math": "total"}],
        "date_from": "-7d",
        "interval": "day",
        "display": "line",
    },
    "FunnelsQuery": {
        "kind": "FunnelsQuery",
        "steps": [{"event": "signed_up"}, {"event": "pay"}],
        "date_from": "-7d",
    },
    "RetentionQuery": {
        "kind": "RetentionQuery",
        "period": "day",
        "date_from": "-7d",
        "target_event": {"event": "$pageview"},
    },
    "PathsQuery": {"kind": "PathsQuery", "date_from": "-7d"},
}
BUILDERS = {
    "TrendsQuery": "insights/trends/",
    "FunnelsQuery": "funnels/",
    "RetentionQuery": "retention/",
    "PathsQuery": "paths/",
}
# The element that holds a kind's main plotly figure (its JSON in a child <script>).
FIGURE_MARKERS = {
    "TrendsQuery": "data-trends-figure",
    "FunnelsQuery": "data-funnel-figure",
    "RetentionQuery": "data-retention-figure",
    "PathsQuery": "data-paths-figure",
}


def seed(events) -> None:
    now = dt.datetime.now(dt.UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    base = midnight + (now - midnight) / 2  # today, in the past
    step = min((now - midnight) / 100, dt.timedelta(seconds=30))
    t = iter(base + step * i for i in range(1, 60))
    for person in ("u0", "u1", "u2"):
        session = f"s-{person}"
        events.add("signed_up", person, next(t), session_id=session)
        pages = ["/", "/pricing"] + (["/signup"] if person == "u1" else [])
        for page in pages:
            events.add(
                "$pageview",
                person,
                next(t),
                {"$current_url": URL + page, "$session_id": session},
                session_id=session,
            )
    events.add("pay", "u1", next(t), session_id="s-u1")
    for page in ("/", "/blog"):
        events.add(
            "$pageview", "u3", next(t), {"$current_url": URL + page, "$session_id": "s-u3"}, session_id="s-u3"
        )
    events.flush()


def figure(body: str, kind: str) -> dict:
    """The first plotly figure of `kind` in a page or tile (its JSON, parsed)."""
    marker = FIGURE_MARKERS[kind]
    at = body.find(marker)
    assert at >= 0, f"no {marker} element"
    match = re.compile(r'<script type="application/json">(.*?)</script>', re.S).search(body, at)
    return json.loads(match.group(1))


def trace_numbers(fig: dict) -> list:
    """What a figure shows, without its styling: per trace the numbers it plots."""
    out = []
    for trace in fig["data"]:
        if trace["type"] == "sankey":
            out.append(
                (
                    trace["node"]["label"],
                    trace["link"]["source"],
                    trace["link"]["target"],
                    trace["link"]["value"],
                )
            )
        else:
            out.append((trace.get("name"), trace.get("x"), trace.get("y")))
    return out


def table_text(body: str, css_class: str) -> list[list[str]]:
    """The cells of the first table with `css_class`, as text (links and tags dropped)."""
    at = body.find(css_class)
    assert at >= 0, f"no table {css_class}"
    table = body[at : body.index("</table>", at)]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", table, re.S):
        cells = re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row, re.S)
        rows.append([html.unescape(re.sub(r"<[^>]+>", "", c)).strip() for c in cells])
    return rows
