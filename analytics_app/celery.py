"""The Celery app. Production: a Redis broker and separate worker + beat processes.
Embedded (no REDIS_URL): a memory broker and a worker + beat running as threads of
the all-in-one process (see analytics_app/embedded.py)."""

import os

from celery import Celery
from celery.signals import celeryd_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_app.settings")

app = Celery("sextant")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@celeryd_init.connect
def _refuse_a_held_embedded_store(**kwargs):
    """`celery worker` as its own process: with chdb held by another process, stop at once.

    (The embedded worker of `manage.py serve` does not send celeryd_init.) The store is
    only probed, not opened: prefork children could not use an engine opened before the fork.
    """
    from analytics_app.embedded import refuse_shared_store  # noqa: PLC0415 - needs Django set up

    refuse_shared_store("a Celery worker", claim=False)
