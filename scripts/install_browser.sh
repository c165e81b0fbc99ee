#!/usr/bin/env bash
# Install the headless browser the end-to-end tests drive (pytest -m browser).
#
# Debian's chromium + chromium-driver; Playwright is pointed at /usr/bin/chromium
# (tests/browser.py), so no `playwright install` download is needed.
# Idempotent: does nothing when /usr/bin/chromium is already there.
#
# Usage: scripts/install_browser.sh
set -euo pipefail

if [[ -x /usr/bin/chromium ]]; then
    echo "install_browser: /usr/bin/chromium already installed ($(/usr/bin/chromium --version 2>/dev/null || echo 'version unknown'))"
    exit 0
fi

if [[ "$(id -u)" -eq 0 ]]; then
    SUDO=()
else
    command -v sudo >/dev/null || { echo "install_browser: not root and no sudo" >&2; exit 1; }
    SUDO=(sudo)
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" apt-get install -y --no-install-recommends chromium chromium-driver

if [[ ! -x /usr/bin/chromium ]]; then
    echo "install_browser: apt-get finished but /usr/bin/chromium is missing" >&2
    exit 1
fi
echo "install_browser: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
