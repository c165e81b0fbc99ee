"""Celery with a real Redis broker: a worker and beat started by the test evaluate a rule
on its schedule, end to end from captured events to an e-mail in Django's outbox; the
task queued again (a retry) sends nothing more. Skipped without REDIS_URL (CI's second
pass sets it)."""

from __future__ import annotations

import datetime as dt
import os
import time
import uuid

import pytest
from django.core import mail

from alerts.models import AlertRule, Notification
from dashboards.models import Insight

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def redis_celery(tmp_path):
    url = os.environ.get("REDIS_URL", "")
    if not url:
        pytest.skip("REDIS_URL is not set: the Celery broker test needs a real Redis")
    from analytics_app.celery import app

    saved = {
        k: app.conf.get(k) for k in ("broker_url", "result_backend", "beat_schedule", "task_default_queue")
    }
    queue = f"alerts-test-{uuid.uuid4().hex[:8]}"  # no other worker on the same Redis takes these
    app.conf.update(
        broker_url=url,
        result_backend=url,
        task_default_queue=queue,
        beat_schedule={"evaluate-alerts": {"task": "alerts.evaluate_due_rules", "schedule": 1.0}},
    )
    try:
        yield app, queue, tmp_path / "celerybeat-schedule"
    finally:
        app.close()  # drop the Redis connection pool, so later tests use the configured broker again
        app.conf.update(saved)


def _wait(predicate, seconds=60.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.2)
    return False


def test_a_worker_and_beat_evaluate_a_rule_on_schedule_and_a_retry_sends_nothing_more(
    redis_celery, project, events, alice
):
    from celery.beat import EmbeddedService
    from celery.contrib.testing.worker import start_worker

    from alerts.tasks import evaluate_rule

    app, queue, schedule_file = redis_celery
    last_hour = dt.datetime.now(dt.UTC).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    for k in range(12):
        events.add("signup", f"u{k}", last_hour + dt.timedelta(minutes=k))
    events.flush()
    spec = {"kind": "TrendsQuery", "series": [{"event": "signup", "math": "total"}], "date_from": "-7d"}
    insight = Insight.objects.create(project=project, name="Signups", kind="TrendsQuery", spec=spec)
    rule = AlertRule.objects.create(
        project=project,
        name="Signup burst",
        insight=insight,
        detector="threshold",
        params={"op": "above", "value": 10},
        channels=[{"type": "email", "to": "pm@example.com"}],
    )
    with start_worker(
        app, pool="threads", concurrency=2, queues=[queue], perform_ping_check=False, loglevel="WARNING"
    ):
        beat = EmbeddedService(app, thread=True, schedule_filename=str(schedule_file))
        beat.start()
        try:
            assert _wait(lambda: len(mail.outbox) >= 1), "beat + worker did not notify"
        finally:
            beat.stop()
        rule.refresh_from_db()
        assert rule.state == "firing" and rule.events.get().value == 12
        # The task delivered again (a retry, a second beat): nothing more is sent.
        evaluate_rule.delay(rule.pk).get(timeout=30)
        evaluate_rule.delay(rule.pk).get(timeout=30)
    assert len(mail.outbox) == 1 and mail.outbox[0].subject == "[Sextant] Signup burst is firing"
    assert Notification.objects.filter(firing__rule=rule).count() == 1
