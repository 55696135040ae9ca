#!/usr/bin/env bash
# Webhook load test of the whole local server (release build, embedded store):
# wrk posts signed ~15 KB agent results; every one is durable before its 2xx.
#
#   ./infra/load.sh [DURATION_SECS] [CONNECTIONS]
#
# Needs wrk (apt-get install wrk). Prints wrk's throughput and latency report.
# Per-client rate limits are off for the run: every request comes from one address.
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION="${1:-20}"
CONNECTIONS="${2:-64}"

command -v wrk >/dev/null || { echo "load.sh: wrk is needed (apt-get install wrk)" >&2; exit 1; }
cargo build --release --locked --bin osa
OSA="${CARGO_TARGET_DIR:-target}/release/osa"

DIR="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
OSA_RATE_LIMIT_PER_MINUTE=0 "$OSA" serve --port "$PORT" --data-dir "$DIR" --no-simulator \
    --opal-url http://127.0.0.1:9/unreachable >"$DIR/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do
    grep -q "OSA listening" "$DIR/serve.log" && break
    sleep 0.1
done
URL="http://127.0.0.1:$PORT"
# Signatures are valid for 5 minutes: prepare enough distinct events for the run.
REQUESTS=$(( DURATION * 12000 ))
"$OSA" loadgen --url "$URL" --data-dir "$DIR" --workflows 100 --requests "$REQUESTS" \
    --out "$DIR/requests.txt"
wrk -t2 -c"$CONNECTIONS" -d"${DURATION}s" --latency -s infra/load/webhooks.lua "$URL" -- "$DIR/requests.txt"
