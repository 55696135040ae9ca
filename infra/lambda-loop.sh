#!/usr/bin/env bash
# Runs the functions in the real Lambda runtime loop: `cargo lambda watch` emulates
# the Lambda control plane and `cargo lambda invoke` sends every event file of
# events/manifest.json (infra/local/tests/lambda_loop.rs).
# Installs a pinned cargo-lambda from PyPI into .tools/cargo-lambda (git-ignored)
# if it is not on PATH. Extra arguments go to the test binary (e.g. --nocapture).
set -euo pipefail
cd "$(dirname "$0")/.."

CARGO_LAMBDA_VERSION="1.9.2"
VENV=".tools/cargo-lambda"
STAMP="$VENV/.installed-cargo-lambda-${CARGO_LAMBDA_VERSION}"

if ! command -v cargo-lambda >/dev/null 2>&1; then
    if [[ ! -f "$STAMP" ]]; then
        echo "lambda-loop: installing cargo-lambda ${CARGO_LAMBDA_VERSION} into ${VENV}"
        rm -rf "$VENV"
        python3 -m venv "$VENV"
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "cargo-lambda==${CARGO_LAMBDA_VERSION}"
        touch "$STAMP"
    fi
    export PATH="$PWD/$VENV/bin:$PATH"
fi
echo "lambda-loop: $(cargo-lambda lambda --version)"

# Build the function binaries first, as `cargo lambda watch` will (a plain
# workspace build: no dev-dependency features), so its first invocations do not
# spend the test's warm-up deadline compiling on a fresh machine.
echo "lambda-loop: building the function binaries"
cargo build --locked --workspace --bins

# `cargo lambda invoke` defaults to [::1]; the test always passes 127.0.0.1.
export OSA_REQUIRE_LAMBDA_LOOP=1
cargo test -p osa-local --test lambda_loop --locked -- --nocapture "$@"
