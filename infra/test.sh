#!/usr/bin/env bash
# Every test OSA has, in one command: formatting, lints, the SAM template lint,
# then unit, property, contract (embedded SQLite and a local AWS-compatible
# endpoint), function and end-to-end tests, the dashboard in headless Chromium,
# and the real Lambda runtime loop. Installs what it needs itself (moto,
# aws-sam-cli, cfn-lint, cargo-lambda and Playwright from PyPI, into .tools/;
# Chromium from Debian) and stops every service it starts.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "SAM template (cfn-lint, sam validate --lint)"
./infra/sam-lint.sh

step "AWS-compatible endpoint (moto server on a free loopback port)"
# shellcheck source=infra/moto.sh
source infra/moto.sh

step "tests (cargo test --workspace)"
# One test also writes its Prometheus exposition here, for promtool below.
mkdir -p .tools
export OSA_METRICS_EXPOSITION="$PWD/.tools/exposition.prom"
rm -f "$OSA_METRICS_EXPOSITION"
cargo test --workspace --locked

step "metrics exposition (promtool check metrics)"
test -s "$OSA_METRICS_EXPOSITION" || { echo "no exposition was written to $OSA_METRICS_EXPOSITION"; exit 1; }
./infra/promtool.sh check metrics < "$OSA_METRICS_EXPOSITION"

step "dashboard in a real browser (headless Chromium, Playwright)"
./infra/browser-test.sh

step "Lambda runtime loop (cargo lambda watch + invoke)"
./infra/lambda-loop.sh
