#!/usr/bin/env bash
# One command: install the dev dependencies (and Debian's chromium for the
# browser tests) and run the whole test suite. Extra arguments go to pytest.
#   ./scripts/test.sh [-k funnel]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv "[dev]"
bash scripts/install_browser.sh
exec "$PY" -m pytest "$@"
