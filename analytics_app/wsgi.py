"""WSGI entry point (gunicorn analytics_app.wsgi:application).

On the embedded store (CLICKHOUSE_URL=chdb) the web process opens it at start, so a
second process (another gunicorn worker, `manage.py ingest_consumer`, a Celery worker)
is refused at its start with what to run instead, and this one is refused when another
process already holds it. `manage.py serve` imports this module after opening the store.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_app.settings")
application = get_wsgi_application()

from analytics_app.embedded import refuse_shared_store  # noqa: E402 - needs the settings loaded

refuse_shared_store("the web server")
