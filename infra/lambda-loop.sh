#!/usr/bin/env bash
# Runs the functions in the real Lambda runtime loop: `cargo lambda watch` emulates
# the Lambda control plane and `cargo lambda invoke` sends every event file of
# events/manifest.json (infra/local/tests/lambda_loop.rs).
# Uses cargo-lambda from PATH, else the pinned one from the tool cache
# (infra/tools.sh, installed from PyPI on first use). Extra arguments go to the
# test binary (e.g. --nocapture).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=infra/tools.sh
source infra/tools.sh
osa_cargo_lambda_on_path
echo "lambda-loop: $(cargo-lambda lambda --version)"

# Build the function binaries first, as `cargo lambda watch` will (a plain
# workspace build: no dev-dependency features), so its first invocations do not
# spend the test's warm-up deadline compiling on a fresh machine.
echo "lambda-loop: building the function binaries"
cargo build --locked --workspace --bins

# `cargo lambda invoke` defaults to [::1]; the test always passes 127.0.0.1.
export OSA_REQUIRE_LAMBDA_LOOP=1
cargo test -p osa-local --test lambda_loop --locked -- --nocapture "$@"
