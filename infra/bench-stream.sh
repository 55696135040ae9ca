#!/usr/bin/env bash
# Live-stream fan-out benchmark of the local server (release build, embedded
# store): SUBSCRIBERS streams follow one workflow while its nine agents start and
# complete; prints the server's memory per idle subscriber and the fan-out
# latency (webhook sent -> change read by a subscriber), p50/p90/p99.
#
#   ./infra/bench-stream.sh [SUBSCRIBERS]
#
# The simulator accepts the OPAL trigger and stays silent; the benchmark sends
# the agents' webhooks itself. Per-client rate limits are off: every stream
# comes from one address.
set -euo pipefail
cd "$(dirname "$0")/.."
SUBSCRIBERS="${1:-1000}"
# Two sockets a subscriber (its end and the server's), plus some.
ulimit -n "$(( SUBSCRIBERS * 2 + 512 ))" 2>/dev/null || true

cargo build --release --locked --bin osa
OSA="${CARGO_TARGET_DIR:-target}/release/osa"

DIR="$(mktemp -d)"
PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
ALL_AGENTS="integration_health,content_review,geo_audit,audience_suggester,experiment_blueprinter,personalization_idea_generator,customer_journey,roadmap_generator,cmp_organizer"
OSA_RATE_LIMIT_PER_MINUTE=0 RUST_LOG=warn "$OSA" serve --port "$PORT" --data-dir "$DIR" \
    --sim-silent "$ALL_AGENTS" >"$DIR/serve.log" 2>&1 &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$DIR"' EXIT
for _ in $(seq 1 100); do
    grep -q "OSA listening" "$DIR/serve.log" && break
    sleep 0.1
done
"$OSA" fanout --url "http://127.0.0.1:$PORT" --data-dir "$DIR" --subscribers "$SUBSCRIBERS" \
    --server-pid "$SERVER"
