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
from alerts.rootcause import rank
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
