#!/usr/bin/env bash
# Runs the functions in the real Lambda runtime loop: `cargo lambda watch` emulates
# the Lambda control plane and `cargo lambda invoke` sends every event file of
# events/manifest.json (infra/local/tests/lambda_loop.rs), then alerts travel
# from the evaluator through the worker to local listeners (alerts_aws.rs).
# Uses cargo-lambda from PATH, else the pinned one from the tool cache
# (infra/tools.sh, installed from PyPI on first use). Extra arguments go to the
# test binary (e.g. --nocapture). On the AWS backend (the test command runs it
# against moto), each function's AWS calls are then checked against its IAM
# policy (infra/iam-parity.sh).
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
# Every AWS call the functions make is recorded, for the IAM parity check below.
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
export OSA_AWS_CALL_LOG="$TARGET_DIR/aws-calls.log"
rm -f "$OSA_AWS_CALL_LOG"
cargo test -p osa-local --test lambda_loop --locked -- --nocapture "$@"
# Alerts on AWS: the worker and the evaluator in the same loop send a dead
# letter's alert to local Slack and PagerDuty listeners, then resolve it.
cargo test -p osa-local --test alerts_aws --locked -- --nocapture "$@"

if [ -n "${OSA_TEST_AWS_ENDPOINT:-}" ]; then
    echo "lambda-loop: IAM parity of the calls made against the template's policies"
    ./infra/iam-parity.sh "$OSA_AWS_CALL_LOG"
fi
