#!/usr/bin/env bash
# Every test OSA has, in one command: formatting, lints, the SAM template lint,
# then unit, property, contract (embedded SQLite and a local AWS-compatible
# endpoint), function and end-to-end tests, the dashboard in headless Chromium,
# the whole API fuzzed from its OpenAPI document (Schemathesis), and the real
# Lambda runtime loop. Installs what it needs itself, once, into a
# versioned tool cache outside the repository (infra/tools.sh: moto, aws-sam-cli,
# cfn-lint, cargo-lambda, Playwright and Schemathesis from PyPI, promtool and Chromium from
# Debian), writes nothing into the checkout but target/, and stops every service
# it starts.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "one AWS SDK stack (cargo tree -d)"
# Two versions of an aws-*/smithy crate mean an SDK crate off the others'
# generation: a second client stack in every binary.
tree="$(cargo tree --workspace --locked --duplicates --depth 0 --prefix none)"
duplicates="$(grep -E '^aws-|smithy' <<<"$tree" | sort -u || true)"
if [[ -n "$duplicates" ]]; then
    printf 'more than one version of:\n%s\n(cargo tree -d -i <crate> shows who pulls each)\n' "$duplicates"
    exit 1
fi

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "SAM template (cfn-lint, sam validate --lint)"
./infra/sam-lint.sh

step "AWS-compatible endpoint (moto server on a free loopback port)"
# shellcheck source=infra/moto.sh
source infra/moto.sh

step "tests (cargo test --workspace)"
# One test also writes its Prometheus exposition here, for promtool below.
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
mkdir -p "$TARGET_DIR"
export OSA_METRICS_EXPOSITION="$TARGET_DIR/osa-exposition.prom"
rm -f "$OSA_METRICS_EXPOSITION"
cargo test --workspace --locked

step "metrics exposition (promtool check metrics)"
test -s "$OSA_METRICS_EXPOSITION" || { echo "no exposition was written to $OSA_METRICS_EXPOSITION"; exit 1; }
./infra/promtool.sh check metrics < "$OSA_METRICS_EXPOSITION"

step "dashboard in a real browser (headless Chromium, Playwright)"
./infra/browser-test.sh

step "the API fuzzed from its OpenAPI document (Schemathesis against osa serve)"
./infra/fuzz.sh

step "Standard Webhooks both ways (the official library against osa serve)"
./infra/standard-webhooks.sh

step "Lambda runtime loop (cargo lambda watch + invoke)"
./infra/lambda-loop.sh
