#!/usr/bin/env bash
# One command: set up everything and run Sextant with demo data on the embedded
# defaults (SQLite + chdb under var/, Celery in-process). Re-running is safe.
#   ./scripts/run.sh [--port 8000]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv ""
"$PY" manage.py migrate --verbosity 0
"$PY" manage.py demo_setup
exec "$PY" manage.py serve --no-migrate "$@"
