#!/usr/bin/env bash
# Every test OSA has, in one command: formatting, lints, then unit, property,
# contract, function and end-to-end tests. Installs what it needs itself.
set -euo pipefail
cd "$(dirname "$0")/.."

step() { printf '\n==> %s\n' "$*"; }

step "formatting (cargo fmt --check)"
cargo fmt --all -- --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "tests (cargo test --workspace)"
cargo test --workspace --locked
