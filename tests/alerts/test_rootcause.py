"""Root cause: ranking by contribution to the change (pure, against a reference), and on
the real engine: a drop on one URL path is ranked first; a plan dimension that is PII
stays masked in the notification text."""

from __future__ import annotations

import datetime as dt
import random

import pytest

from alerts import evaluate as ev
from alerts.models import AlertRule
from alerts.notify import message
from alerts.rootcause import filtered_insight_url, rank, rank_ratio
from dashboards.models import Insight
from governance.models import PropertyDefinition
from tests.conftest import examples

T = dt.datetime(2026, 6, 24, 14, tzinfo=dt.UTC)


@pytest.mark.parametrize("seed", range(examples(20)))
def test_rank_orders_values_by_their_share_of_the_change(seed):
    rng = random.Random(seed)
    values = [f"v{i}" for i in range(rng.randint(1, 8))]
    current = {v: float(rng.randint(0, 50)) for v in values}
    baseline = {v: float(rng.randint(0, 50)) for v in values if rng.random() < 0.9}
    total = sum(current.values()) - sum(baseline.values()) or 1.0
    rows = rank(current, baseline, total, "$browser")
    base_total = sum(baseline.values())
    reference = []
    for v in set(current) | set(baseline):
        share = (current.get(v, 0) - baseline.get(v, 0)) / total
        score = share - (baseline.get(v, 0) / base_total if base_total else 0)
        if share > 0 and score > 0:
            reference.append((-score, v, share))
    assert [(r["value"], r["share"]) for r in rows] == [(v, s) for _, v, s in sorted(reference)]


def test_a_value_that_moved_with_everything_else_explains_nothing():
    # Every value halves: none stands out. Only one value: it explains nothing either.
    assert rank({"a": 5, "b": 10}, {"a": 10, "b": 20}, -15, "$os") == []
    assert rank({"Chrome": 5}, {"Chrome": 20}, -15, "$browser") == []
    [row] = rank({"a": 0, "b": 20}, {"a": 10, "b": 20}, -10, "$os")
    assert row["value"] == "a" and row["share"] == 1 and row["score"] == pytest.approx(1 - 10 / 30)


def _write(events, prop, values, drop_value, hours=24 * 36):
    n = 0
    for h in range(hours, -2, -1):
        moment = T - dt.timedelta(hours=h)
        for value, base in values.items():
            count = base + (2 if 9 <= moment.hour <= 18 else 0)
            if value == drop_value and moment == T:
                count = 0
            for k in range(count):
                events.add(
                    "signup", f"{n}", moment + dt.timedelta(minutes=k), {prop: value, "$browser": "Chrome"}
                )
                n += 1
    events.flush()


def _rule(project, **fields):
    spec = {"kind": "TrendsQuery", "series": [{"event": "signup", "math": "total"}], "date_from": "-7d"}
    insight = Insight.objects.create(project=project, name="Signups", kind="TrendsQuery", spec=spec)
    return AlertRule.objects.create(
        project=project, name="Signups", insight=insight, params={"min_abs_change": 2}, channels=[], **fields
    )


@pytest.mark.django_db
def test_a_drop_on_one_url_path_is_ranked_first(project, events):
    _write(events, "$pathname", {"/": 6, "/pricing": 4, "/checkout": 5}, "/checkout")
    rule = _rule(project)
    [event] = ev.evaluate(rule, T + dt.timedelta(hours=1, minutes=5))
    assert event.state_to == "firing"
    top = event.root_cause[0]
    assert (top["property"], top["value"], top["current"]) == ("$pathname", "/checkout", 0)
    # $browser has one value (it carries all the change, and all the baseline): not a cause.
    assert all(r["property"] != "$browser" for r in event.root_cause)


@pytest.mark.django_db
def test_a_pii_dimension_stays_masked_in_the_notification(project, events):
    PropertyDefinition.objects.create(project=project, name="account_email", dimension=True, pii_class="pii")
    _write(events, "account_email", {"big@example.com": 8, "small@example.com": 3}, "big@example.com")
    rule = _rule(project)
    [event] = ev.evaluate(rule, T + dt.timedelta(hours=1, minutes=5))
    assert event.root_cause[0]["property"] == "account_email"
    assert event.root_cause[0]["value"] == "big@example.com"  # stored raw
    _, text = message(event)
    assert "account_email = " in text and "big@example.com" not in text and "big@" not in text


@pytest.mark.django_db
def test_an_ingestion_volume_drop_is_sliced_too(project, events):
    _write(events, "$app_version", {"2.0": 6, "1.9": 4, "1.8": 5}, "1.9")
    rule = AlertRule.objects.create(
        project=project, name="Volume", metric="events_per_period", params={"min_abs_change": 2}
    )
    [event] = ev.evaluate(rule, T + dt.timedelta(hours=1, minutes=5))
    assert event.state_to == "firing"
    top = event.root_cause[0]
    assert (top["property"], top["value"], top["current"]) == ("$app_version", "1.9", 0)
    assert top["baseline"] == pytest.approx(4 + 2)  # 14:00 is a busy hour (+2) in every week


# ------------------------------------------------------------------ funnels
def _ratio_reference(current, baseline):
    """Independent form of the decomposition: c1_v/N1 - c0_v/N0 - (n1_v/N1 - n0_v/N0) * R0."""
    n1, n0 = sum(n for n, _ in current.values()), sum(n for n, _ in baseline.values())
    c1, c0 = sum(c for _, c in current.values()), sum(c for _, c in baseline.values())
    r0 = c0 / n0
    out = {}
    for v in set(current) | set(baseline):
        a, b = current.get(v, (0, 0)), baseline.get(v, (0, 0))
        out[v] = a[1] / n1 - b[1] / n0 - (a[0] / n1 - b[0] / n0) * r0
    return out, c1 / n1 - r0, c0


@pytest.mark.parametrize("seed", range(examples(20)))
def test_rank_ratio_against_a_reference_decomposition(seed):
    rng = random.Random(seed)

    def counts():
        n = rng.randint(0, 40)
        return (float(n), float(rng.randint(0, n)))

    values = [f"v{i}" for i in range(rng.randint(1, 6))]
    current = {v: counts() for v in values if rng.random() < 0.9}
    baseline = {v: counts() for v in values if rng.random() < 0.9}
    current[""] = counts()  # blank counts in the totals, is never ranked
    baseline[""] = counts()
    if not sum(n for n, _ in current.values()) or not sum(n for n, _ in baseline.values()):
        assert rank_ratio(current, baseline, "$browser") == []
        return
    contributions, total, c0 = _ratio_reference(current, baseline)
    # The contributions add up to the whole change (rate + mix effects, nothing left over).
    assert sum(contributions.values()) == pytest.approx(total, abs=1e-12)
    rows = rank_ratio(current, baseline, "$browser")
    if not total:
        assert rows == []
        return
    expected = []
    for v, contribution in contributions.items():
        share = contribution / total
        part = (
            (baseline.get(v, (0, 0))[1] / c0)
            if c0
            else baseline.get(v, (0, 0))[0] / sum(n for n, _ in baseline.values())
        )
        if v and share > 0 and share - part > 0:
            expected.append((-(share - part), v, share))
    assert [(r["value"], pytest.approx(r["share"])) for r in rows] == [(v, s) for _, v, s in sorted(expected)]
    assert all(r["unit"] == "rate" for r in rows)


def test_rank_ratio_a_value_that_moved_with_everything_else_explains_nothing():
    # Every value's conversion halves, same mix: none stands out; one value alone neither.
    assert rank_ratio({"a": (10, 2), "b": (20, 8)}, {"a": (10, 4), "b": (20, 16)}, "$os") == []
    assert rank_ratio({"Chrome": (10, 1)}, {"Chrome": (10, 5)}, "$browser") == []
    # More entrants from a value converting like everyone: no change, nothing to explain.
    assert rank_ratio({"a": (20, 10), "b": (10, 5)}, {"a": (10, 5), "b": (10, 5)}, "$os") == []
    # Only b's conversion drops (50% -> 0%): b explains all of it.
    [row] = rank_ratio({"a": (10, 5), "b": (10, 0)}, {"a": (10, 5), "b": (10, 5)}, "$os")
    assert (row["value"], row["current"], row["baseline"]) == ("b", 0.0, 0.5)
    assert row["share"] == pytest.approx(1.0) and row["score"] == pytest.approx(0.5)


FUNNEL_BROWSERS = {"Chrome": (30, 0.5), "Firefox": (20, 0.4), "Safari": (10, 0.3)}


def _write_funnel(events, judged_day, days=40, drop="Firefox"):
    """Each day at 10:00, per browser: `n` persons view, 80% add to cart, `rate` of the
    viewers buy (+/-1 by day parity); on the judged day nobody on `drop` buys."""
    for d in range(days, -1, -1):
        day = judged_day - dt.timedelta(days=d)
        for browser, (n, rate) in FUNNEL_BROWSERS.items():
            buyers = round(n * rate) + (day.day % 2)
            if browser == drop and d == 0:
                buyers = 0
            for k in range(n):
                who, at = f"{browser}-{day:%m%d}-{k}", day + dt.timedelta(minutes=k)
                props = {"$browser": browser, "$os": "Mac OS X", "$pathname": "/shop"}
                events.add("view", who, at, props)
                if k < int(n * 0.8) or k < buyers:
                    events.add("cart", who, at + dt.timedelta(seconds=20), props)
                if k < buyers:
                    events.add("buy", who, at + dt.timedelta(seconds=40), props)
    events.flush()


@pytest.mark.django_db
def test_a_conversion_drop_on_one_browser_ranks_that_browser_first(project, events):
    judged = dt.datetime(2026, 6, 24, 10, tzinfo=dt.UTC)
    _write_funnel(events, judged)
    spec = {
        "kind": "FunnelsQuery",
        "steps": [{"event": "view"}, {"event": "cart"}, {"event": "buy"}],
        "window": {"value": 1, "unit": "hour"},
    }
    funnel = Insight.objects.create(project=project, name="Checkout", kind="FunnelsQuery", spec=spec)
    overall = AlertRule.objects.create(
        project=project, name="Checkout", insight=funnel, interval="day", channels=[]
    )
    step = AlertRule.objects.create(
        project=project, name="Buy", insight=funnel, interval="day", funnel_step=2, channels=[]
    )
    now = dt.datetime(2026, 6, 25, 2, tzinfo=dt.UTC)
    for rule, entered in ((overall, 20), (step, 16)):
        [event] = ev.evaluate(rule, now)
        assert event.state_to == "firing", event.reason
        top = event.root_cause[0]
        assert (top["property"], top["value"], top["current"]) == ("$browser", "Firefox", 0.0)
        assert top["entered"] == entered  # viewers (overall) or cart adders (step 2) on Firefox
        # Baseline: Firefox's pooled conversion on the same weekday of the last 4 weeks.
        buyers = [
            round(20 * 0.4) + ((dt.date(2026, 6, 24) - dt.timedelta(weeks=w)).day % 2) for w in (1, 2, 3, 4)
        ]
        assert top["baseline"] == pytest.approx(sum(buyers) / (4 * entered))
        # $os and $pathname have one value each: they explain nothing.
        assert all(r["property"] == "$browser" for r in event.root_cause)
        _, text = message(event)
        assert "$browser = Firefox: " in text and "% -> 0.0%" in text
        url = filtered_insight_url(rule, top)
        assert url.startswith(f"/project/{project.pk}/") and "Firefox" in url


# ------------------------------------------------------------------ ingestion warnings, recordings
def _hours(until=T, days=36):
    return [until - dt.timedelta(hours=h) for h in range(days * 24, -2, -1)]


@pytest.mark.django_db
def test_a_warnings_spike_is_sliced_by_warning_type_and_event_name(project):
    from analytics_app import clickhouse as ch

    # Recent hours: warnings are kept 90 days (TTL).
    at = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=3)
    rows = []
    for moment in _hours(at):
        rows += [("invalid_timestamp", "pageview", moment)] * 3 + [("too_large", "signup", moment)] * 2
        if moment == at:
            rows += [("invalid_timestamp", "checkout", moment + dt.timedelta(minutes=1))] * 20
    ch.insert(
        "ingestion_warnings",
        {
            "project_id": [project.id] * len(rows),
            "type": [r[0] for r in rows],
            "event": [r[1] for r in rows],
            "distinct_id": ["d"] * len(rows),
            "details": ["{}"] * len(rows),
            "payload": ["{}"] * len(rows),
            "timestamp": [r[2] for r in rows],
        },
    )
    rule = AlertRule.objects.create(
        project=project, name="Warnings", metric="warnings_per_period", params={"min_abs_change": 2}
    )
    [event] = ev.evaluate(rule, at + dt.timedelta(hours=1, minutes=5))
    assert event.state_to == "firing" and event.value == 25, (event.value, event.expected, event.reason)
    got = [(r["property"], r["value"], r["current"], r["baseline"]) for r in event.root_cause]
    # checkout: all of the change, none of the baseline (score 1); invalid_timestamp: all
    # of the change, 3/5 of the baseline (score 0.4); too_large did not move.
    assert got == [("event name", "checkout", 20, 0), ("warning type", "invalid_timestamp", 23, 3)]
    assert filtered_insight_url(rule, event.root_cause[0]) == ""  # no insight to filter


@pytest.mark.django_db
def test_a_recordings_drop_on_one_browser_is_ranked_first(project):
    from analytics_app import clickhouse as ch

    cols = {k: [] for k in ("session_id", "start_time", "end_time", "browser", "os", "version")}
    for moment in _hours():
        for browser, n in (("Chrome", 4), ("Firefox", 3)):
            if browser == "Firefox" and moment == T:
                continue
            for k in range(n):
                sid = f"{browser}-{moment:%m%d%H}-{k}"
                # A first summary without the browser yet, then the complete one (latest version).
                for version, shown in ((1, ""), (2, browser)):
                    cols["session_id"].append(sid)
                    cols["start_time"].append(moment + dt.timedelta(minutes=k))
                    cols["end_time"].append(moment + dt.timedelta(minutes=k + 5))
                    cols["browser"].append(shown)
                    cols["os"].append("Linux")
                    cols["version"].append(version)
    n = len(cols["session_id"])
    far = dt.datetime(2099, 1, 1, tzinfo=dt.UTC)
    ch.insert("session_replay_summaries", {"project_id": [project.id] * n, "expires_at": [far] * n, **cols})
    rule = AlertRule.objects.create(
        project=project, name="Recordings", metric="recordings_per_period", params={"min_abs_change": 2}
    )
    [event] = ev.evaluate(rule, T + dt.timedelta(hours=1, minutes=5))
    assert event.state_to == "firing" and event.value == 4
    [top] = event.root_cause  # Linux is the only OS: it explains nothing
    assert (top["property"], top["value"], top["current"], top["baseline"]) == ("$browser", "Firefox", 0, 3)


@pytest.mark.django_db
def test_freshness_has_no_root_cause_and_the_page_says_so(project, client, alice):
    from django.urls import reverse

    from alerts.models import AlertEvent

    rule = AlertRule.objects.create(project=project, name="Fresh", metric="freshness_minutes", state="firing")
    AlertEvent.objects.create(
        rule=rule, period_start=T, value=300, expected=5, anomalous=True, state_from="ok", state_to="firing"
    )
    client.force_login(alice)
    page = client.get(reverse("alerts:alert", kwargs={"project_id": project.pk, "alert_id": rule.pk}))
    assert page.status_code == 200
    assert "Freshness has no root cause" in page.content.decode()


@pytest.mark.django_db
def test_the_alert_page_shows_funnel_causes_as_conversion_rates_with_a_filtered_link(project, client, alice):
    from django.urls import reverse

    from alerts.models import AlertEvent

    spec = {"kind": "FunnelsQuery", "steps": [{"event": "view"}, {"event": "buy"}]}
    funnel = Insight.objects.create(project=project, name="Checkout", kind="FunnelsQuery", spec=spec)
    rule = AlertRule.objects.create(project=project, name="Checkout", insight=funnel, interval="day")
    row = {"property": "$browser", "value": "Firefox", "current": 0.0, "baseline": 0.425, "entered": 20,
           "baseline_entered": 80, "delta": -0.12, "share": 0.89, "score": 0.6, "unit": "rate"}  # fmt: skip
    AlertEvent.objects.create(
        rule=rule, period_start=T, value=0.3, expected=0.46, anomalous=True, state_from="ok",
        state_to="firing", root_cause=[row],
    )  # fmt: skip
    client.force_login(alice)
    html = client.get(
        reverse("alerts:alert", kwargs={"project_id": project.pk, "alert_id": rule.pk})
    ).content.decode()
    assert "42.5% → 0.0%" in html and "89%" in html
    assert filtered_insight_url(rule, row).replace("&", "&amp;") in html
