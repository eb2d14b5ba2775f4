#!/usr/bin/env bash
# CI: install Debian's Chromium for the playground's browser tests (tests/test_playground_browser.py),
# driven by Playwright for Python through executable_path. Never `playwright install`: it downloads
# its own browser builds from outside, which CI cannot reach.
# Idempotent: whatever is already installed is left alone.
set -euo pipefail

if ! command -v chromium >/dev/null 2>&1; then
    SUDO=""
    if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
    export DEBIAN_FRONTEND=noninteractive
    $SUDO apt-get update
    $SUDO apt-get install -y --no-install-recommends chromium
fi

chromium --version
