"""Share links: the public read-only pages of a saved insight or a dashboard.

Opened without a session; PII masked as for a role without view-PII (an e-mail address
seeded as a breakdown value shows masked); revoked, expired and unknown tokens are the
same 404; a token opens its own object only, never another URL or another project's data."""

from __future__ import annotations

import datetime as dt
import re

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from dashboards.models import Dashboard, DashboardTile, Insight, ShareLink
from governance.models import AuditEntry
from tests.html import parse

pytestmark = pytest.mark.django_db

EMAILS = ["ann@example.com", "ben@example.com", "ann@example.com", "cat@example.org"]


def trends(**extra) -> dict:
    return {
        "kind": "TrendsQuery",
        "series": [{"event": "signed_up", "math": "total"}],
        "date_from": "-7d",
        "display": "table",
        **extra,
    }


@pytest.fixture
def seeded(project, events):
    now = dt.datetime.now(dt.UTC) - dt.timedelta(hours=2)
    for i, email in enumerate(EMAILS):
        events.add(
            "signed_up",
            f"u{i}",
            now - dt.timedelta(minutes=i),
            {"email": email, "plan": "pro" if i % 2 else "free"},
        )
    events.flush()
    return events


@pytest.fixture
def by_email(project, alice, seeded):
    spec = trends(breakdown={"property": "email", "type": "event", "limit": 10})
    return Insight.objects.create(
        project=project, name="Signups by e-mail", kind="TrendsQuery", spec=spec, created_by=alice
    )


def table(doc) -> list[tuple[str, int]]:
    """The trends table's rows: (label, total)."""
    rows = []
    for tr in doc.select(".trends-table tbody tr"):
        cells = tr.select("td")
        rows.append((cells[0].text, int(cells[-1].text)))
    return rows


def shared_url(link, name="shared") -> str:
    return reverse(f"dashboards:{name}", args=[link.token])


def anonymous() -> Client:
    return Client()


def test_shared_insight_opens_without_a_session_with_pii_masked(project, alice, by_email):
    link = ShareLink.issue(by_email, alice)
    response = anonymous().get(shared_url(link))
    assert response.status_code == 200
    html = response.content.decode()
    doc = parse(response)
    assert doc.texts("h1") == ["Signups by e-mail"]
    for email in set(EMAILS):
        assert email not in html
    rows = table(doc)
    assert len(rows) == 3 and all("•" in label for label, _ in rows)
    assert sorted(total for _, total in rows) == [
        1,
        1,
        2,
    ]  # ann twice, ben, cat: the same numbers, only the labels masked
    # no navigation, no builder, no link into the project
    assert not doc.has("nav") and not doc.has("form")
    assert f"/project/{project.pk}/" not in html
    assert "csrftoken" not in response.cookies and "sessionid" not in response.cookies


def test_signed_in_admin_sees_the_same_masked_page(client, alice, by_email):
    client.force_login(alice)  # alice may view PII in the project; the link does not
    response = client.get(shared_url(ShareLink.issue(by_email, alice)))
    assert response.status_code == 200
    assert "ann@example.com" not in response.content.decode()


def test_shared_dashboard_renders_every_tile_with_its_filters(project, alice, seeded):
    dashboard = Dashboard.objects.create(
        project=project,
        name="Board",
        filters=[{"key": "plan", "operator": "exact", "value": "pro", "type": "event"}],
    )
    insight = Insight.objects.create(project=project, name="All signups", kind="TrendsQuery", spec=trends())
    DashboardTile.objects.create(dashboard=dashboard, insight=insight, order=0, width=4, height="l")
    link = ShareLink.issue(dashboard, alice)
    doc = parse(anonymous().get(shared_url(link)))
    assert doc.texts(".tile-title") == ["All signups"]
    assert doc.has(".tile.w4.hl")
    assert [total for _, total in table(doc)] == [2]  # plan=pro: u1, u3


def test_embed_page_may_be_framed_and_the_page_may_not(alice, by_email, settings):
    link = ShareLink.issue(by_email, alice)
    page = anonymous().get(shared_url(link))
    assert page["X-Frame-Options"] == "DENY"
    assert "frame-ancestors 'none'" in page["Content-Security-Policy"]
    assert "unsafe-inline" not in page["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    embed = anonymous().get(shared_url(link, "embed"))
    assert embed.status_code == 200
    assert "X-Frame-Options" not in embed
    assert "frame-ancestors *" in embed["Content-Security-Policy"]
    assert not parse(embed).has("h1")  # minimal chrome
    settings.SEXTANT_EMBED_FRAME_ANCESTORS = ["https://wiki.example.com"]
    embed = anonymous().get(shared_url(link, "embed"))
    assert "frame-ancestors https://wiki.example.com" in embed["Content-Security-Policy"]
    # the other pages keep theirs
    login = anonymous().get(reverse("login"))
    assert login["X-Frame-Options"] in ("DENY", "SAMEORIGIN")
    assert "frame-ancestors *" not in login["Content-Security-Policy"]


def test_no_inline_scripts_on_shared_pages(alice, by_email):
    link = ShareLink.issue(by_email, alice)
    for name in ("shared", "embed"):
        html = anonymous().get(shared_url(link, name)).content.decode()
        for tag in re.findall(r"<script\b[^>]*>", html):
            assert "src=" in tag or 'type="application/json"' in tag, tag
        assert not re.search(r"\son[a-z]+=", html)


@pytest.mark.parametrize("state", ["revoked", "expired", "unknown", "truncated"])
def test_dead_links_are_the_same_404(alice, by_email, state):
    link = ShareLink.issue(by_email, alice)
    token = link.token
    if state == "revoked":
        link.revoked_at = timezone.now()
        link.save()
    elif state == "expired":
        link.expires_at = timezone.now() - dt.timedelta(seconds=1)
        link.save()
    elif state == "unknown":
        token = "x" * len(token)
    else:
        token = token[:-1]
    for name in ("shared", "embed"):
        response = anonymous().get(reverse(f"dashboards:{name}", args=[token]))
        assert response.status_code == 404
    assert b"Signups" not in response.content


def test_a_link_expiring_later_still_opens(alice, by_email):
    link = ShareLink.issue(by_email, alice, timezone.now() + dt.timedelta(hours=1))
    assert anonymous().get(shared_url(link)).status_code == 200


def test_a_token_opens_nothing_else(project, alice, by_email):
    """The token is no credential anywhere else: not as a bearer key on the API, not on the
    project's pages (people lists, recordings), not as a query parameter."""
    link = ShareLink.issue(by_email, alice)
    c = anonymous()
    api = reverse("api_query", kwargs={"project_id": project.pk})
    assert (
        c.post(
            api, "{}", content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {link.token}"
        ).status_code
        == 401
    )
    people = reverse("explorer:persons", kwargs={"project_id": project.pk})
    assert c.get(people, {"token": link.token}).status_code == 302  # to the login page
    insight_page = reverse("dashboards:insight", kwargs={"project_id": project.pk, "insight_id": by_email.pk})
    assert c.get(insight_page, {"token": link.token}).status_code == 302
    # and the shared page takes no path below it
    assert c.get(shared_url(link) + "people/").status_code == 404


def test_another_projects_token_never_shows_this_projects_data(
    project, other_project, alice, charlie, by_email
):
    theirs = Insight.objects.create(
        project=other_project, name="Globex signups", kind="TrendsQuery", spec=trends(), created_by=charlie
    )
    link = ShareLink.issue(theirs, charlie)
    doc = parse(anonymous().get(shared_url(link)))
    assert doc.texts("h1") == ["Globex signups"]
    assert "Acme" not in str(doc) and "Signups by e-mail" not in str(doc)
    # Globex has no events: its page shows no data (none of Acme's four signups)
    assert all(total == 0 for _, total in table(doc))


def test_share_panel_creates_lists_and_revokes_links_with_audit(alice_client, project, by_email):
    panel = reverse("dashboards:insight_share", kwargs={"project_id": project.pk, "insight_id": by_email.pk})
    response = alice_client.post(
        panel, {"action": "create", "expires_at": ""}, headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    link = ShareLink.objects.get(insight=by_email)
    doc = parse(response)
    assert link.token in doc.one(f"#share-url-{link.pk}").text
    assert f"/embed/{link.token}/" in doc.one(f"#share-embed-{link.pk}").text
    assert "&lt;iframe" in response.content.decode()
    page = alice_client.get(
        reverse("dashboards:insight", kwargs={"project_id": project.pk, "insight_id": by_email.pk})
    )
    assert parse(page).has(f"#share-url-{link.pk}")
    assert alice_client.post(panel, {"action": "revoke", "link": link.pk}).status_code == 302
    link.refresh_from_db()
    assert link.revoked_at is not None
    assert anonymous().get(shared_url(link)).status_code == 404
    actions = list(AuditEntry.objects.filter(project=project).values_list("action", flat=True))
    assert "share_link.create" in actions and "share_link.revoke" in actions
    assert link.token not in str(list(AuditEntry.objects.values_list("before", "after")))


def test_bad_share_input_is_400_not_500(alice_client, project, by_email, other_project, charlie):
    panel = reverse("dashboards:insight_share", kwargs={"project_id": project.pk, "insight_id": by_email.pk})
    assert alice_client.post(panel, {"action": "create", "expires_at": "2001-01-01T00:00"}).status_code == 400
    assert alice_client.post(panel, {"action": "create", "expires_at": "soon"}).status_code == 400
    assert alice_client.post(panel, {"action": "nope"}).status_code == 400
    assert alice_client.post(panel, {"action": "revoke", "link": "x"}).status_code == 400
    foreign = ShareLink.issue(
        Insight.objects.create(project=other_project, name="G", kind="TrendsQuery", spec=trends()), charlie
    )
    assert alice_client.post(panel, {"action": "revoke", "link": foreign.pk}).status_code == 400
    foreign.refresh_from_db()
    assert foreign.revoked_at is None and not ShareLink.objects.filter(project=project).exists()


def test_readers_cannot_see_or_make_share_links(client, bob, project, by_email):
    client.force_login(bob)  # exec: views insights, may not edit them
    page = client.get(
        reverse("dashboards:insight", kwargs={"project_id": project.pk, "insight_id": by_email.pk})
    )
    assert page.status_code == 200 and not parse(page).has("#share-panel")
    panel = reverse("dashboards:insight_share", kwargs={"project_id": project.pk, "insight_id": by_email.pk})
    assert client.get(panel).status_code == 403
    assert client.post(panel, {"action": "create"}).status_code == 403
    assert not ShareLink.objects.exists()


def test_share_pages_are_rate_limited(alice, by_email, settings):
    settings.SEXTANT_SHARE_RATE_LIMIT = 3
    link = ShareLink.issue(by_email, alice)
    c = anonymous()
    statuses = [c.get(shared_url(link)).status_code for _ in range(4)]
    assert statuses == [200, 200, 200, 429]


def test_the_token_is_random_and_looked_up_by_digest(alice, by_email):
    a, b = ShareLink.issue(by_email, alice), ShareLink.issue(by_email, alice)
    assert a.token != b.token and len(a.token) >= 40
    assert ShareLink.resolve(a.token) == a and ShareLink.resolve(b.token) == b
    assert ShareLink.resolve("") is None and ShareLink.resolve("y" * 500) is None


def test_shared_pages_leak_nothing_through_headers(alice, by_email):
    link = ShareLink.issue(by_email, alice)
    for name in ("shared", "embed"):
        response = anonymous().get(shared_url(link, name))
        assert response["Referrer-Policy"] == "no-referrer"
        assert "noindex" in response["X-Robots-Tag"]
        assert "no-store" in response["Cache-Control"]
        assert not response.cookies


def test_a_stored_pii_filter_shows_masked_on_the_shared_dashboard(project, alice, seeded):
    dashboard = Dashboard.objects.create(
        project=project,
        name="Ann's board",
        filters=[{"key": "email", "operator": "exact", "value": "ann@example.com", "type": "event"}],
    )
    insight = Insight.objects.create(project=project, name="All signups", kind="TrendsQuery", spec=trends())
    DashboardTile.objects.create(dashboard=dashboard, insight=insight, order=0)
    response = anonymous().get(shared_url(ShareLink.issue(dashboard, alice)))
    html = response.content.decode()
    assert response.status_code == 200 and "ann@example.com" not in html
    assert [total for _, total in table(parse(response))] == [2]  # the filter still applies
