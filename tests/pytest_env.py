"""Loaded with `-p tests.pytest_env` before Django's settings: every test run gets
its own var/ directory (SQLite, secret key, chdb data), so tests never touch a
developer's data and never collide with a running Sextant holding var/chdb."""

import os
import tempfile

if "SEXTANT_VAR_DIR" not in os.environ or os.environ.get("SEXTANT_TEST_KEEP_VAR") != "1":
    os.environ["SEXTANT_VAR_DIR"] = tempfile.mkdtemp(prefix="sextant-test-")
os.environ.setdefault("CLICKHOUSE_URL", "chdb://" + os.path.join(os.environ["SEXTANT_VAR_DIR"], "chdb"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "analytics_app.settings")
