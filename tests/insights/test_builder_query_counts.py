"""How many ClickHouse statements each builder page and list page sends, exactly.

Counted with the ClickHouse layer's statement log (`ch.counting()`), on the real engine,
after one warm-up request so per-process caches are as on a live server, against the
same small data set as tests/insights/test_builder_requests.py. The numbers are the
ones measured when this test was written: a rise needs a reason (a query the page
cannot do without; change the number and say why in the commit), a fall is a win
(lower the number).
"""

from __future__ import annotations

import json

import pytest

from analytics_app import clickhouse as ch
from tests.insights.test_builder_requests import HTMX, journeys, page  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db

FUNNEL = {"step_event": ["$pageview", "signup", "pay"], "order": "ordered", "date_from": "-7d"}
RETENTION = {"target_event": "signup", "period": "day", "date_from": "-7d"}
PATHS = {"date_from": "-7d"}
PATHS_Q = {"q": json.dumps({"kind": "PathsQuery", "date_from": "-7d"})}  # the page's secondary views
TRENDS = {"series_event": "$pageview", "date_from": "-7d", "interval": "day"}

# (page, app path, query, htmx?, statements per request). Measured 2026-12-03; what they are:
# - event names: the builder's autocomplete (full pages only; the htmx partial has no form)
# - identity check: whether the cached person overrides still hold (the person-resolving
#   runners). Since 2026-12-07 a listing of person_distinct_ids' parts (3.3-3.5 ms whatever
#   the rows), followed by the count/checksum of the project's mapping rows only when the parts
#   changed (insights/blocks/source.py, PDI_PARTS_SQL); after the warm-up they have not.
# - known events: the builder's check that each non-$ event name was seen or is planned
#   (one lookup in the discovery table; an unknown name is a form error, not a zero chart)
PAGES = [
    ("funnels", "funnels", FUNNEL, False, 4),  # event names, known events, identity check, steps
    ("funnels htmx", "funnels", FUNNEL, True, 3),  # known events, identity check, steps
    ("retention", "retention", RETENTION, False, 4),  # event names, known events, identity check, matrix
    ("retention htmx", "retention", RETENTION, True, 3),  # known events, identity check, matrix
    # paths: + the multi-row check of session_paths (2026-12-04: a separate scan, so that the
    # Sankey's query reads the one-row sessions without grouping; -0.3 s CPU at 10M events)
    # (the start/end point picker's nodes load after the page since 2026-12-04: paths/nodes/)
    # (2026-12-06: the node dictionary, until then a scalar subquery of the Sankey's query,
    # rides in the multi-row check's statement: docs/paths.md, "SQL shape")
    # (2026-12-07: the dictionary is kept while path_node_keys' parts are unchanged, as after
    # the warm-up here, and that statement lists the parts: paths/nodecache.py; it also asks
    # whether the range has session-less events: these journeys have none, so the query
    # leaves that branch out and with it the identity check)
    ("paths", "paths", PATHS, False, 2),  # the tables' parts + session-less rows?, Sankey
    ("paths htmx", "paths", PATHS, True, 2),  # the tables' parts + session-less rows?, Sankey
    ("paths: top paths", "paths/top", PATHS_Q, True, 2),  # the parts + session-less rows?, paths
    ("paths: point picker", "paths/nodes", PATHS_Q, True, 2),  # identity check, the parts, nodes
    ("trends", "insights/trends", TRENDS, False, 2),  # event names, the series
    ("trends htmx", "insights/trends", TRENDS, True, 1),  # the series
    ("persons list", "persons", {}, False, 1),  # one page of persons
    ("events explorer", "events", {}, False, 3),  # the page's uuids, their rows, event names
]


@pytest.mark.usefixtures("journeys")
@pytest.mark.parametrize("name, app, params, htmx, expected", PAGES, ids=[p[0] for p in PAGES])
def test_statements_per_request(alice_client, project, name, app, params, htmx, expected):
    url = page(project, app, **params)
    headers = HTMX if htmx else {}
    assert alice_client.get(url, headers=headers).status_code == 200  # warm-up
    with ch.counting() as log:
        response = alice_client.get(url, headers=headers)
    assert response.status_code == 200
    assert log.count == expected, (
        f"{name}: {log.count} ClickHouse statements per request, {expected} expected. A rise needs a "
        "reason (a query the page cannot do without); a fall lowers the number. Sent:\n"
        + "\n---\n".join(log.statements)
    )
