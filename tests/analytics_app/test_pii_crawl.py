"""PII never reaches a user without view-PII, on any page or API (docs/access.md, "Masking rules").

Seeds PII through real capture (top level, nested under `$set` / `$set_once`, in nested
objects and arrays, in free text, in URL query strings of `$current_url` / `$referrer` /
`$initial_current_url` / `$pathname`, as an e-mail distinct_id, in quarantined payloads
and in a recording's URL), classifies a custom event property and a person property as pii /
sensitive in the tracking plan with distinctive values, saves an insight of every kind on a dashboard, then crawls
every page, htmx partial, drill-down and API reachable to each role, following the links
the pages offer, plus the pickers' suggestion endpoints, the search boxes and the funnel's
correlation analysis (events, and the values of PII-bearing properties, with the persons
behind each count), and scans every response body for the seeded values: zero hits for pm,
exec and support; the same crawl as admin finds every seed (so the scan can find them).
Share links of the dashboard and of each insight, opened without a session (page and
embed), show no seed either.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import re
import uuid
from urllib.parse import unquote, urlencode

import pytest
from django.urls import reverse

from analytics_app.models import Membership
from cohorts.definitions import clean_definition, parse_csv
from cohorts.models import Cohort
from cohorts.queries import compute_cohort
from dashboards.models import Dashboard, DashboardTile, Insight, ShareLink
from governance.models import EventDefinition, PropertyDefinition
from governance.roles import Role
from tests.ingestion.conftest import fresh_ingestion_state, person_of, send  # noqa: F401 - autouse fixture
from tests.replay.test_list import session_events
from tests.replay.test_summary import send as send_recording

pytestmark = pytest.mark.django_db

URL = "https://shop.example/checkout?token=urltoken9x1&email=urlmail.zq7%40example.org"
REFERRER = "https://ref.example/landing?ref=reftoken4k2#fragtoken8v6"
INITIAL_URL = "https://land.example/?utm_term=initialtoken7m3"
PATHNAME = "/search?q=pathtoken5p8"
RECORDED_URL = "https://shop.example/replay?rtoken=replaytoken3w9"
DID = "didmail.zq7@example.org"
SEEDS = {
    "top-level email": "topmail.zq7",
    "top-level name": "Quinlan Topname",
    "top-level phone": "555-0199-771",
    "$set email": "setmail.zq7",
    "$set name": "Setname Vexley",
    "$set_once first_name": "Oncefirst Zorb",
    "nested object email": "nestmail.zq7",
    "nested object name": "Nestedname Plover",
    "array name": "Arrayname Quist",
    "free-text e-mail": "freetext.zq7",
    "e-mail distinct_id": "didmail.zq7",
    "$current_url query": "urltoken9x1",
    "$current_url query e-mail": "urlmail.zq7",
    "$referrer query": "reftoken4k2",
    "$referrer fragment": "fragtoken8v6",
    "$initial_current_url query": "initialtoken7m3",
    "$pathname query": "pathtoken5p8",
    "quarantined payload e-mail": "warnmail.zq7",
    "quarantined payload name": "Warnname Quell",
    "recording URL query": "replaytoken3w9",
    "plan-classified event property": "loyaltyseed7k4",
    "plan-classified person property": "Nickseed Wq8",
}


def event(name: str, distinct_id: str, props: dict, *, minutes_ago: int = 0) -> dict:
    return {
        "event": name,
        "distinct_id": distinct_id,
        "properties": props,
        "uuid": str(uuid.uuid4()),
        "timestamp": (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=minutes_ago)).isoformat(),
    }


def pageview(distinct_id, url, *, minutes_ago, session="sess-pii-1", **props):
    return event(
        "$pageview",
        distinct_id,
        {"$current_url": url, "$session_id": session, **props},
        minutes_ago=minutes_ago,
    )


@pytest.fixture
def seeded(client, project, alice, bob, make_user):
    """alice admin, bob exec, pat pm, sam support; PII everywhere through capture."""
    pat, sam = make_user("pat@example.com"), make_user("sam@example.com")
    Membership.objects.create(user=pat, project=project, role=Role.PM)
    Membership.objects.create(user=sam, project=project, role=Role.SUPPORT)
    # The tracking plan classifies a custom event property and a person property.
    pageview_definition = EventDefinition.objects.create(project=project, name="$pageview")
    PropertyDefinition.objects.create(
        project=project, event=pageview_definition, name="loyalty_code", pii_class="pii"
    )
    PropertyDefinition.objects.create(project=project, name="nickname", pii_class="sensitive")
    first = pageview(
        "anon-pii-1",
        URL,
        minutes_ago=30,
        email="topmail.zq7@example.org",
        name="Quinlan Topname",
        phone="555-0199-771",
        account={"owner": {"email": "nestmail.zq7@example.org", "name": "Nestedname Plover"}, "tier": 2},
        contacts=[{"name": "Arrayname Quist"}, "plain"],
        note="please call freetext.zq7@example.org today",
        loyalty_code="loyaltyseed7k4",
        **{"$referrer": REFERRER, "$pathname": PATHNAME, "$initial_current_url": INITIAL_URL},
    )
    identify = event(
        "$identify",
        DID,
        {
            "$anon_distinct_id": "anon-pii-1",
            "$set": {
                "email": "setmail.zq7@example.org",
                "name": "Setname Vexley",
                "plan": "pro",
                "nickname": "Nickseed Wq8",
            },
            "$set_once": {"first_name": "Oncefirst Zorb", "$initial_current_url": INITIAL_URL},
            "$current_url": URL,
            "$session_id": "sess-pii-1",
        },
        minutes_ago=29,
    )
    batch = [
        first,
        identify,
        pageview(DID, "https://shop.example/pricing", minutes_ago=28, **{"$referrer": REFERRER}),
        pageview(DID, URL, minutes_ago=27, **{"$referrer": REFERRER}),
        pageview("anon-pii-2", "https://shop.example/pricing", minutes_ago=26, session="sess-pii-2"),
        event("signed_up", DID, {"$current_url": URL, "$referrer": REFERRER}, minutes_ago=25),
        # quarantined: an illegal distinct_id, with PII in the payload
        event(
            "bad",
            "anonymous",
            {"email": "warnmail.zq7@example.org", "name": "Warnname Quell", "$current_url": URL},
        ),
    ]
    response = send(client, "/batch/", {"api_key": project.api_token, "batch": batch})
    assert response.status_code == 200, response.content
    start = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=30)
    events = session_events(start, seconds=20, clicks=1, errors=0, rage=False, url=RECORDED_URL)
    send_recording(project, "sess-pii-1", [(uuid.uuid4(), events)], distinct_id=DID)

    specs = {
        "TrendsQuery": {
            "kind": "TrendsQuery",
            "date_from": "-7d",
            "series": [{"event": "$pageview"}],
            "breakdown": {"property": "$current_url"},
        },
        "FunnelsQuery": {
            "kind": "FunnelsQuery",
            "date_from": "-7d",
            "steps": [{"event": "$pageview"}, {"event": "signed_up"}],
            "breakdown": {"property": "$referrer"},
        },
        "RetentionQuery": {
            "kind": "RetentionQuery",
            "date_from": "-7d",
            "period": "day",
            "target_event": {"event": "$pageview"},
            "returning_event": {"event": "$pageview"},
            "breakdown": {"property": "$current_url"},
        },
        "PathsQuery": {"kind": "PathsQuery", "date_from": "-7d"},
    }
    board = Dashboard.objects.create(project=project, name="PII board", created_by=alice)
    for order, (kind, spec) in enumerate(specs.items()):
        insight = Insight.objects.create(project=project, name=f"{kind} saved", kind=kind, spec=spec)
        DashboardTile.objects.create(dashboard=board, insight=insight, order=order)
    email_trends = {**specs["TrendsQuery"], "breakdown": {"property": "email"}}
    person_trends = {
        **specs["TrendsQuery"],
        "breakdown": {"property": "$initial_current_url", "type": "person"},
    }
    # A static cohort listing the person by e-mail distinct_id (its definition holds it too).
    cohort = Cohort.objects.create(
        project=project,
        name="Uploaded",
        kind=Cohort.Kind.STATIC,
        definition=clean_definition(parse_csv(f"distinct_id\n{DID}\n".encode()), "static", project),
    )
    compute_cohort(cohort)
    person = person_of(project.id, DID)["id"]
    return {
        "users": {"admin": alice, "exec": bob, "pm": pat, "support": sam},
        "specs": {**specs, "email_trends": email_trends, "person_trends": person_trends},
        # The pages of the event and the person that carry the most seeds.
        "pages": [
            f"/project/{project.pk}/events/{first['uuid']}/",
            f"/project/{project.pk}/persons/{person}/",
            f"/api/projects/{project.pk}/persons/{person}/",
        ],
    }


_LINK = re.compile(r"""(?:href|hx-get|data-url|data-drill-url)=["']([^"']+)["']""")
SKIP = ("/delete", "/logout", "/edit/", "projects/switch", "/admin/", "/members/", "/settings/", "/static/")


def scan(body: str) -> set[str]:
    """The seeds found in a body, however it is escaped (HTML, JSON, URL encoding)."""
    variants = [body, html.unescape(body), unquote(body), unquote(html.unescape(body))]
    try:
        variants.append(json.dumps(json.loads(body), ensure_ascii=False))
    except ValueError:
        pass
    text = "\n".join(variants).lower()
    return {name for name, seed in SEEDS.items() if seed.lower() in text}


def q(spec) -> str:
    return json.dumps(spec, separators=(",", ":"))


def start_urls(project, specs, pages) -> list[str]:
    p = project.pk
    builders = {
        "TrendsQuery": f"/project/{p}/insights/trends/",
        "FunnelsQuery": f"/project/{p}/funnels/",
        "RetentionQuery": f"/project/{p}/retention/",
        "PathsQuery": f"/project/{p}/paths/",
    }
    urls = list(pages)
    # Every project page of the URL conf that takes no other argument.
    for name in (
        "project_overview",
        "explorer:events",
        "explorer:persons",
        "explorer:api_persons",
        "trends:trends",
        "funnels:funnel",
        "retention:retention",
        "cohorts:cohorts",
        "cohorts:api_cohorts",
        "paths:paths",
        "replay:list",
        "replay:api_list",
        "ingestion_warnings",
        "dashboards:insights",
        "dashboards:dashboards",
    ):
        urls.append(reverse(name, kwargs={"project_id": p}))
    columns = "email,name,phone,$set,$set_once,account,contacts,note,$referrer,$pathname,$initial_current_url"
    urls += [
        f"/project/{p}/events/?{urlencode({'columns': columns, 'date_from': '-7d'})}",
        f"/project/{p}/events/export.csv?{urlencode({'columns': columns, 'date_from': '-7d'})}",
        f"/project/{p}/ingestion/warnings/?range=7d",
        f"/api/projects/{p}/recordings/?date_from=-7d",
    ]
    # The pickers' suggestions (names, and the top values of classified, built-in PII and
    # ordinary keys, also searched by a part of a seed) and the search boxes.
    urls.append(reverse("api_property_names", kwargs={"project_id": p}))
    urls.append(reverse("api_property_names", kwargs={"project_id": p}) + "?q=loyalty&event=%24pageview")
    values = reverse("api_property_values", kwargs={"project_id": p})
    for key, kind, part in (
        ("loyalty_code", "event", ""),
        ("loyalty_code", "event", "loyalty"),
        ("nickname", "person", ""),
        ("nickname", "person", "Nickseed"),
        ("email", "person", ""),
        ("name", "event", ""),
        ("$current_url", "event", ""),
        ("$current_url", "event", "urltoken"),
        ("$referrer", "event", "reftoken"),
        ("$pathname", "event", ""),
        ("$initial_current_url", "person", ""),
        ("note", "event", ""),
        ("account", "event", ""),
        ("contacts", "event", ""),
        ("plan", "person", ""),
    ):
        urls.append(f"{values}?{urlencode({'key': key, 'type': kind, 'q': part})}")
    urls += [
        f"/project/{p}/persons/?{urlencode({'search': 'Nickseed'})}",
        f"/project/{p}/persons/?{urlencode({'search': 'loyaltyseed'})}",
        f"/project/{p}/events/?{urlencode({'prop_key': 'loyalty_code', 'prop_op': 'icontains', 'prop_value': 'loyalty', 'date_from': '-7d'})}",
        f"/project/{p}/events/?{urlencode({'prop_key': 'note', 'prop_op': 'icontains', 'prop_value': 'freetext', 'columns': 'note,loyalty_code', 'date_from': '-7d'})}",
        f"/project/{p}/insights/trends/?{urlencode({'series_event': '$pageview', 'filter_key': 'nickname', 'filter_type': 'person', 'filter_operator': 'icontains', 'filter_value': 'Nick', 'breakdown': 'nickname', 'breakdown_type': 'person'})}",
        f"/project/{p}/insights/trends/?{urlencode({'series_event': '$pageview', 'breakdown': 'loyalty_code'})}",
        f"/project/{p}/replay/?{urlencode({'event': '$pageview', 'prop_key': 'loyalty_code', 'prop_op': 'icontains', 'prop_value': 'loyalty'})}",
    ]
    for spec in specs.values():
        base = builders.get(spec["kind"])
        urls.append(f"{base}?{urlencode({'q': q(spec)})}")
    # The funnel's correlation analysis: events, and the values of PII-bearing properties
    # (its rows link to the persons behind each count, which the crawl follows).
    correlation = reverse("funnels:correlation", kwargs={"project_id": p})
    funnel = q(specs["FunnelsQuery"])
    urls.append(f"{correlation}?{urlencode({'q': funnel, 'correlation_type': 'events'})}")
    for key, kind in (
        ("email", "person"),
        ("nickname", "person"),
        ("$initial_current_url", "person"),
        ("$current_url", "event"),
        ("loyalty_code", "event"),
        ("name", "event"),
    ):
        params = {"q": funnel, "correlation_type": "properties", "property": key, "property_type": kind}
        urls.append(f"{correlation}?{urlencode(params)}")
    return urls


def api_bodies(specs) -> list[dict]:
    bodies = [dict(s) for s in specs.values()]
    bodies.append({"kind": "EventsQuery", "date_from": "-7d", "limit": 100})
    bodies.append({**specs["FunnelsQuery"], "kind": "FunnelsActorsQuery", "step": 0})
    bodies.append({"kind": "EventNamesQuery"})
    return bodies


def drill_urls(client, project, specs) -> list[str]:
    """Drill-down partials, built from the API answers the user gets (as the page's JS does)."""
    p, out = project.pk, []
    api = f"/api/projects/{p}/query/"
    for key in ("TrendsQuery", "email_trends", "person_trends"):
        spec = specs[key]
        response = client.post(api, json.dumps(spec), content_type="application/json")
        if response.status_code != 200:
            continue
        for series in response.json()["results"][:4]:
            for date, value in list(zip(series["dates"], series["data"], strict=True))[-1:]:
                if value:
                    params = {"q": q(spec), "series": 0, "date": date}
                    if series.get("breakdown_index") is not None:
                        params["breakdown_index"] = series["breakdown_index"]
                    out.append(f"/project/{p}/insights/trends/persons/?{urlencode(params)}")
    response = client.post(api, json.dumps(specs["RetentionQuery"]), content_type="application/json")
    if response.status_code == 200:
        for index, _row in enumerate(response.json()["results"][:4]):
            for offset in (0,):
                params = {
                    "q": q(specs["RetentionQuery"]),
                    "cohort": 0,
                    "offset": offset,
                    "breakdown_index": index,
                }
                out.append(f"/project/{p}/retention/persons/?{urlencode(params)}")
    response = client.post(api, json.dumps(specs["PathsQuery"]), content_type="application/json")
    if response.status_code == 200:
        for edge in response.json()["results"][:4]:
            params = {"q": q(specs["PathsQuery"]), "node": edge["source"], "target": edge["target"]}
            out.append(f"/project/{p}/paths/sessions/?{urlencode(params)}")
            out.append(
                f"/project/{p}/paths/sessions/?{urlencode({'q': params['q'], 'node': edge['source']})}"
            )
    return out


def crawl(client, project, seeded, per_path: int = 2) -> dict[str, set[str]]:
    """url -> seeds found in its body, for every URL this user can reach: the start URLs
    (also as htmx partials) and drill-downs, then the links their pages offer, at most
    `per_path` URLs of one path (the same view with other parameters: keeps it fast)."""
    prefixes = (f"/project/{project.pk}/", f"/api/projects/{project.pk}/")
    found: dict[str, set[str]] = {}
    specs = seeded["specs"]
    starts, drills = start_urls(project, specs, seeded["pages"]), drill_urls(client, project, specs)
    queue = starts + drills
    seen: set[str] = set()
    per: dict[str, int] = {}
    # Builders' #result partials are rendered from the same context as their pages.
    no_htmx = tuple(f"/project/{project.pk}/{b}/" for b in ("funnels", "paths", "retention"))
    while queue and len(seen) < 400:
        url = queue.pop(0)
        if url in seen or not url.startswith(prefixes) or any(s in url for s in SKIP) or "newer_than" in url:
            continue
        path = re.sub(r"[0-9a-f-]{36}", "#", url.split("?")[0])
        if url not in starts and url not in drills and per.get(path, 0) >= per_path:
            continue
        per[path] = per.get(path, 0) + 1
        seen.add(url)
        for htmx in (False, True) if url in starts and not url.startswith(no_htmx) else (False,):
            response = client.get(url, HTTP_HX_REQUEST="true") if htmx else client.get(url)
            if response.status_code >= 500:
                raise AssertionError(f"{url} answered {response.status_code}")
            body = b"".join(response.streaming_content) if response.streaming else response.content
            text = body.decode("utf-8", "replace")
            hits = scan(text)
            if hits:
                found.setdefault(("htmx " if htmx else "") + url, set()).update(hits)
            if not htmx and response.status_code == 200:
                queue += [html.unescape(link) for link in _LINK.findall(text)]
    api = f"/api/projects/{project.pk}/query/"
    for body in api_bodies(specs):
        response = client.post(api, json.dumps(body), content_type="application/json")
        assert response.status_code < 500, (body["kind"], response.content)
        hits = scan(response.content.decode())
        if hits:
            found.setdefault(f"POST {api} {body['kind']}", set()).update(hits)
    found["__crawled__"] = seen  # for the assertions' messages
    return found


def test_admin_crawl_finds_every_seed(client, project, seeded):
    client.force_login(seeded["users"]["admin"])
    found = crawl(client, project, seeded)
    crawled = found.pop("__crawled__")
    union = set().union(*found.values()) if found else set()
    assert set(SEEDS) - union == set(), f"the admin crawl ({len(crawled)} URLs) never saw these seeds"
    # The crawl reaches every kind of output it is meant to scan.
    assert any("/events/export.csv" in u for u in found)
    assert any("/ingestion/warnings/" in u for u in found)
    assert any("/insights/trends/persons/" in u for u in crawled)
    assert any("/funnels/actors/" in u for u in crawled)
    assert any("/funnels/correlation/" in u and "property=email" in u for u in crawled)
    assert any("/funnels/correlation/actors/" in u for u in crawled)  # a count's persons
    assert any("/retention/persons/" in u for u in crawled)
    assert any("/dashboards/" in u for u in crawled)
    assert any(re.search(r"/cohorts/\d+/", u) for u in crawled)
    assert any("/replay/sess-pii-1" in u for u in crawled)
    assert any(re.search(r"/events/[0-9a-f-]{36}/", u) for u in crawled)
    assert any(re.search(r"/persons/[0-9a-f-]{36}/", u) for u in crawled)
    # the pickers' value suggestions show admins the classified values (so the scan can find them)
    suggested = set().union(*(hits for u, hits in found.items() if "/properties/values/" in u))
    assert {"plan-classified event property", "plan-classified person property"} <= suggested


def test_share_links_never_show_a_seed(client, project, seeded):
    """A share link (no session) of the PII dashboard and of each saved insight on it, as a
    page and as an embed: masked as for a role without view-PII."""
    from django.test import Client  # noqa: PLC0415

    alice = seeded["users"]["admin"]
    board = Dashboard.objects.get(project=project, name="PII board")
    targets = [board, *Insight.objects.filter(project=project)]
    anonymous = Client()
    leaks, shown = {}, 0
    for target in targets:
        link = ShareLink.issue(target, alice)
        for name in ("dashboards:shared", "dashboards:embed"):
            response = anonymous.get(reverse(name, args=[link.token]))
            assert response.status_code == 200, (target, name)
            body = response.content.decode()
            shown += body.count("plotly") > 0
            hits = scan(body)
            if hits:
                leaks[f"{name} {target}"] = sorted(hits)
    assert shown, "the shared pages drew no chart"
    assert leaks == {}, leaks


@pytest.mark.parametrize("role", ["pm", "exec", "support"])
def test_roles_without_view_pii_never_see_a_seed(client, project, seeded, role):
    client.force_login(seeded["users"][role])
    found = crawl(client, project, seeded)
    crawled = found.pop("__crawled__")
    assert len(crawled) >= (8 if role == "exec" else 20), crawled
    leaks = {url: sorted(hits) for url, hits in found.items()}
    report = "\n".join(f"  {url[:160]}: {hits}" for url, hits in leaks.items())
    assert leaks == {}, f"{role} saw PII in {len(leaks)} responses:\n{report}"
