"""Loaded with `-p tests.pytest_env` before Django's settings: every test run gets
its own var/ directory (SQLite, secret key, chdb data), so tests never touch a
developer's data and never collide with a running Sextant holding var/chdb.

Under pytest-xdist (`-n 2`, as CI runs both passes) every worker is a process of its own
and inherits the controller's environment: it makes its own var/ directory here too (with
SEXTANT_TEST_KEEP_VAR=1, a subdirectory gw0, gw1 ... of the kept one), and an embedded
chdb path that this module derived (marked by SEXTANT_TEST_DERIVED_CLICKHOUSE) follows it,
since chdb opens a data path from one process only. A CLICKHOUSE_URL the caller set (a real server) is kept. With REDIS_URL set (CI's
second pass), worker gwN uses the Redis database N + 1 above the one given: the stream,
caches, rate limits and Celery's queues of two workers never meet."""

import os
import tempfile
from urllib.parse import urlsplit, urlunsplit

_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if "SEXTANT_VAR_DIR" not in os.environ or os.environ.get("SEXTANT_TEST_KEEP_VAR") != "1":
    os.environ["SEXTANT_VAR_DIR"] = tempfile.mkdtemp(prefix="sextant-test-")
elif _worker.startswith("gw"):  # a kept var/ directory: one subdirectory per worker
    os.environ["SEXTANT_VAR_DIR"] = os.path.join(os.environ["SEXTANT_VAR_DIR"], _worker)
if "CLICKHOUSE_URL" not in os.environ or os.environ.get("SEXTANT_TEST_DERIVED_CLICKHOUSE") == "1":
    os.environ["CLICKHOUSE_URL"] = "chdb://" + os.path.join(os.environ["SEXTANT_VAR_DIR"], "chdb")
    os.environ["SEXTANT_TEST_DERIVED_CLICKHOUSE"] = "1"
if _worker.startswith("gw") and os.environ.get("REDIS_URL"):
    _url = urlsplit(os.environ["REDIS_URL"])
    _db = int(_url.path.strip("/") or 0) + 1 + int(_worker[2:])
    os.environ["REDIS_URL"] = urlunsplit(_url._replace(path=f"/{_db}"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_app.settings")
