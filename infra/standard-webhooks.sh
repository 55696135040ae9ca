#!/usr/bin/env bash
# Standard Webhooks, both ways, checked by the official library (PyPI
# `standardwebhooks`, pinned in infra/tools.sh): `osa serve` on a free loopback
# port with `OSA_WEBHOOK_SIGNATURE_SCHEMES=osa,standard` and secrets in the
# `whsec_` form. The library signs all nine agents' webhooks; a repeat of a
# message id is a duplicate, a forged one is refused; the finished workflow's
# notification reaches a local listener, where the library verifies it.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=infra/tools.sh
source infra/tools.sh

TARGET="${CARGO_TARGET_DIR:-target}"
VENV=$(osa_standardwebhooks_venv)
# Already built by the test command's `cargo test`; this only makes sure.
cargo build --locked --quiet --bin osa
exec "$VENV/bin/python" infra/standard-webhooks/check.py --osa "$TARGET/debug/osa"
