"""One small product scenario and a saved insight of every kind over it, shared by the
server-side and the browser tests of saved insights and dashboard tiles.

Three visitors sign up and view "/" then "/pricing"; u1 also views "/signup" and pays;
u3 views "/" then "/blog" and leaves (a path that ends at step 2).
Every event lies on today's date (UTC, the project's zone) and in the past, whatever
the time of day the test runs, so day buckets never split.
"""

from __future__ import annotations

import datetime as dt
import json

from tests.html import parse

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
    found = parse(body).select(f"[{marker}] script[type=application/json]")
    assert found, f"no {marker} element"
    return json.loads(found[0].text)


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
    tables = parse(body).select(f"table.{css_class}")
    assert tables, f"no table {css_class}"
    return [[cell.text for cell in tr.iter() if cell.tag in ("td", "th")] for tr in tables[0].find_all("tr")]
