"""The environment switches each part between the embedded and the production backend."""

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, os
os.environ['DJANGO_SETTINGS_MODULE'] = 'analytics_app.settings'
import django; django.setup()
from django.conf import settings
from analytics_app.clickhouse.backends import from_url
print(json.dumps({
    'db': settings.DATABASES['default']['ENGINE'],
    'db_name': settings.DATABASES['default'].get('NAME'),
    'cache': settings.CACHES['default']['BACKEND'],
    'broker': settings.CELERY_BROKER_URL,
    'embedded_worker': settings.SEXTANT_EMBEDDED_WORKER,
    'clickhouse': type(from_url(settings.CLICKHOUSE_URL)).__name__,
    'debug': settings.DEBUG,
    'secret_len': len(settings.SECRET_KEY),
}))
"""


def probe(tmp_path, **env):
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATABASE_URL", "REDIS_URL", "CLICKHOUSE_URL", "SECRET_KEY", "DEBUG"}
    }
    clean.update({"SEXTANT_VAR_DIR": str(tmp_path), **env})
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, env=clean, cwd=ROOT, timeout=120
    )
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_nothing_set_gives_the_embedded_defaults(tmp_path):
    got = probe(tmp_path)
    assert got["db"] == "django.db.backends.sqlite3"
    assert got["db_name"] == str(tmp_path / "sextant.sqlite3")
    assert got["cache"].endswith("LocMemCache")
    assert got["broker"] == "memory://"
    assert got["embedded_worker"] is True
    assert got["clickhouse"] == "ChdbBackend"
    assert got["debug"] is False
    key = (tmp_path / "secret_key").read_text()
    assert len(key) >= 50 and probe(tmp_path)["secret_len"] == len(key)  # generated once, then reused


def test_urls_switch_to_production_services(tmp_path):
    got = probe(
        tmp_path,
        DATABASE_URL="postgres://postgres@127.0.0.1:5432/sextant",
        REDIS_URL="redis://127.0.0.1:6379/0",
        CLICKHOUSE_URL="clickhouse://default:pw@127.0.0.1:9000/sextant",
        SECRET_KEY="x" * 60,
    )
    assert got["db"] == "django.db.backends.postgresql"
    assert got["cache"].endswith("RedisCache")
    assert got["broker"] == "redis://127.0.0.1:6379/0"
    assert got["embedded_worker"] is False
    assert got["clickhouse"] == "DriverBackend"
    assert got["secret_len"] == 60
