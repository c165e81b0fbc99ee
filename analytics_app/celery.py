"""The Celery app. Production: a Redis broker and separate worker + beat processes.
Embedded (no REDIS_URL): a memory broker and a worker + beat running as threads of
the all-in-one process (see analytics_app/embedded.py)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_app.settings")

app = Celery("sextant")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
