#!/usr/bin/env bash
# The dashboard in a real browser: headless Chromium (Debian's package) driven by
# Python Playwright (pinned in infra/tools.sh, from PyPI, in the tool cache) against
# `osa serve` with the simulator. Installs both when missing; never runs
# `playwright install` (that would download a browser of its own).
# Screenshots of each step, the server logs and the downloaded report go to
# $CARGO_TARGET_DIR/browser-test (target/browser-test by default).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=infra/tools.sh
source infra/tools.sh

TARGET="${CARGO_TARGET_DIR:-target}"

if ! command -v chromium >/dev/null 2>&1; then
    echo "installing Debian's chromium (apt-get)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
        -o DPkg::Lock::Timeout=300 chromium >/dev/null
fi

VENV=$(osa_playwright_venv)

# Already built by the test command's `cargo test`; this only makes sure.
cargo build --locked --quiet --bin osa

"$VENV/bin/python" infra/browser/dashboard_test.py \
    --osa "$TARGET/debug/osa" \
    --chromium "$(command -v chromium)" \
    --out "$TARGET/browser-test"
