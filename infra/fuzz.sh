#!/usr/bin/env bash
# The whole API fuzzed from its own OpenAPI document: Schemathesis (pinned in
# infra/tools.sh, from PyPI, in the tool cache) against `osa serve` on a free
# loopback port over a throw-away data dir, with the development token. Every
# operation (the live streams: their first events),
# positive and negative data, the stateful phase through the document's links
# (intake -> status -> report -> erasure). Webhooks are signed per generated body
# (infra/fuzz/hooks.py). Checks and per-operation settings: infra/fuzz/schemathesis.toml.
#
#   OSA_FUZZ_EXAMPLES   cases per operation and phase (default 25; the test command's)
#   OSA_FUZZ_SEED       a seed, to replay a run (default: Schemathesis picks one)
#
# A longer run: OSA_FUZZ_EXAMPLES=500 ./infra/fuzz.sh. Reports (JUnit, and the
# server's log) go to $CARGO_TARGET_DIR/fuzz (target/fuzz by default).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=infra/tools.sh
source infra/tools.sh

TARGET="${CARGO_TARGET_DIR:-target}"
OUT="$TARGET/fuzz"
EXAMPLES="${OSA_FUZZ_EXAMPLES:-25}"

VENV=$(osa_schemathesis_venv)

# Already built by the test command's `cargo test`; this only makes sure.
cargo build --locked --quiet --bin osa
OSA="$TARGET/debug/osa"

mkdir -p "$OUT"
DATA=$(mktemp -d "${TMPDIR:-/tmp}/osa-fuzz.XXXXXX")
SERVER=""
cleanup() {
    local status=$?
    if [[ -n "$SERVER" ]]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
    fi
    rm -rf "$DATA"
    exit "$status"
}
trap cleanup EXIT

PORT=$("$VENV/bin/python" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')
# No rate limit: the generator should reach the handlers, not the limiter (whose
# 429 has its own tests).
OSA_RATE_LIMIT_PER_MINUTE=0 "$OSA" serve --port "$PORT" --data-dir "$DATA" \
    >"$OUT/server.log" 2>&1 &
SERVER=$!

BASE="http://127.0.0.1:$PORT"
for i in $(seq 1 150); do
    if curl -fsS -o /dev/null "$BASE/api/openapi.json" 2>/dev/null; then
        break
    fi
    if ! kill -0 "$SERVER" 2>/dev/null || [[ "$i" -eq 150 ]]; then
        echo "fuzz.sh: osa serve did not start; its log:" >&2
        tail -n 20 "$OUT/server.log" >&2
        exit 1
    fi
    sleep 0.2
done

# The document it serves is the committed one, and valid OpenAPI 3.1.
curl -fsS "$BASE/api/openapi.json" -o "$OUT/openapi.json"
"$VENV/bin/python" - "$OUT/openapi.json" docs/openapi.json <<'PY'
import json, sys
served, committed = (json.load(open(p)) for p in sys.argv[1:])
if served != committed:
    sys.exit("fuzz.sh: the served document is not docs/openapi.json (run `osa openapi`)")
PY
"$VENV/bin/openapi-spec-validator" docs/openapi.json

TOKEN=$("$OSA" token --data-dir "$DATA")
seed=()
[[ -n "${OSA_FUZZ_SEED:-}" ]] && seed=(--seed "$OSA_FUZZ_SEED")

echo "fuzz.sh: Schemathesis $OSA_SCHEMATHESIS_VERSION, $EXAMPLES examples per operation, against $BASE"
FUZZ="$PWD/infra/fuzz"
# From the output directory: Schemathesis keeps its cache in the working directory.
cd "$OUT"
OSA_FUZZ_WEBHOOK_SECRET_FILE="$DATA/webhook-secret" \
    SCHEMATHESIS_HOOKS=hooks PYTHONPATH="$FUZZ" PYTHONDONTWRITEBYTECODE=1 \
    "$VENV/bin/schemathesis" --config-file "$FUZZ/schemathesis.toml" run "$BASE/api/openapi.json" \
    --header "Authorization: Bearer $TOKEN" \
    --max-examples "$EXAMPLES" "${seed[@]}" \
    --report junit --report-junit-path junit.xml
