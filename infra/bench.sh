#!/usr/bin/env bash
# The webhook benchmark: every row of the performance table, measured on this
# machine and printed beside its goal. Release `osa serve` on the embedded store,
# signed ~15 KB agent results (`osa loadgen`, each durable before its 2xx), wrk
# from one address with the per-client rate limit off.
#
#   ./infra/bench.sh            # ~1.5 minutes after the release build
#   OSA_BENCH_SECS=30 ./infra/bench.sh
#
# Rows: one connection (p50, p99), 16 connections (throughput, p50, p99, errors),
# 64 connections (throughput, p99), the server's peak resident memory under load,
# process start to its first 202, and the server's CPU time per webhook at 16. Needs wrk (installed from Debian if missing).
# Not part of the test command: timings belong to a quiet machine, not to CI.
set -euo pipefail
cd "$(dirname "$0")/.."

SECS="${OSA_BENCH_SECS:-15}"

if ! command -v wrk >/dev/null 2>&1; then
    echo "bench.sh: installing wrk (apt-get)"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq -o DPkg::Lock::Timeout=300 wrk >/dev/null
fi

cargo build --release --locked --quiet --bin osa
OSA="${CARGO_TARGET_DIR:-target}/release/osa"

DIR="$(mktemp -d)"
SERVER=""
stop_server() {
    if [[ -n "$SERVER" ]]; then
        kill "$SERVER" 2>/dev/null || true
        wait "$SERVER" 2>/dev/null || true
        SERVER=""
    fi
}
cleanup() {
    local status=$?
    stop_server
    rm -rf "$DIR"
    exit "$status"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

start_server() {
    PORT="$(free_port)"
    OSA_RATE_LIMIT_PER_MINUTE=0 "$OSA" serve --port "$PORT" --data-dir "$DIR/data" --no-simulator \
        --opal-url http://127.0.0.1:9/unreachable >>"$DIR/serve.log" 2>&1 &
    SERVER=$!
    URL="http://127.0.0.1:$PORT"
}

wait_listening() {
    for _ in $(seq 1 200); do
        curl -fsS -o /dev/null "$URL/api/health/database" 2>/dev/null && return 0
        sleep 0.05
    done
    echo "bench.sh: osa serve did not start" >&2
    tail -n 20 "$DIR/serve.log" >&2
    exit 1
}

start_server
wait_listening

# 20,000 distinct signed events (~300 MB; signatures are valid for 5 minutes),
# replayed in turn: after the first pass a replay is a duplicate, answered 200
# after its audit write.
"$OSA" loadgen --url "$URL" --data-dir "$DIR/data" --workflows 100 \
    --requests 20000 --out "$DIR/requests.txt" >/dev/null

run_wrk() { # NAME THREADS CONNECTIONS
    echo "bench.sh: $1 ($3 connection(s), ${SECS} s)" >&2
    wrk -t"$2" -c"$3" -d"${SECS}s" --latency -s infra/load/webhooks.lua "$URL" -- \
        "$DIR/requests.txt" >"$DIR/$1.txt"
}

# The server's peak resident set, sampled while the 16-connection run goes.
sample_rss() {
    local peak=0 rss
    while kill -0 "$SERVER" 2>/dev/null; do
        rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$SERVER/status" 2>/dev/null || echo 0)
        (( rss > peak )) && peak=$rss && echo "$peak" >"$DIR/rss.txt"
        sleep 0.2
    done
}

# The server's CPU time (user and system, in clock ticks) so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$SERVER/stat"; }

run_wrk sequential 1 1
sample_rss &
SAMPLER=$!
CPU_BEFORE=$(cpu_ticks)
run_wrk c16 2 16
echo "$CPU_BEFORE $(cpu_ticks) $(getconf CLK_TCK)" >"$DIR/cpu.txt"
kill "$SAMPLER" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
run_wrk c64 2 64

# Process start to the first 202: a fresh event of a workflow that exists, sent
# from the moment the process is started until it is accepted.
"$OSA" loadgen --url "$URL" --data-dir "$DIR/data" --workflows 1 --requests 1 \
    --out "$DIR/first.txt" >/dev/null
stop_server
python3 - "$OSA" "$DIR" >"$DIR/start.txt" <<'PY'
import os, socket, subprocess, sys, time, urllib.error, urllib.request
osa, workdir = sys.argv[1:]
s = socket.socket(); s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]; s.close()
signature, body = open(os.path.join(workdir, "first.txt")).readline().rstrip("\n").split("\t", 1)
env = dict(os.environ, OSA_RATE_LIMIT_PER_MINUTE="0")
log = open(os.path.join(workdir, "serve.log"), "a")
started = time.perf_counter()
server = subprocess.Popen([osa, "serve", "--port", str(port), "--data-dir", os.path.join(workdir, "data"),
                           "--no-simulator", "--opal-url", "http://127.0.0.1:9/unreachable"],
                          stdout=log, stderr=log, env=env)
try:
    while True:
        request = urllib.request.Request(f"http://127.0.0.1:{port}/api/webhooks/opal-workflow",
            data=body.encode(), method="POST",
            headers={"Content-Type": "application/json", "X-OSA-Signature": signature})
        try:
            with urllib.request.urlopen(request, timeout=5) as reply:
                if reply.status == 202:
                    print(f"{(time.perf_counter() - started) * 1000:.1f}")
                    break
                sys.exit(f"first answer {reply.status}, not 202")
        except (ConnectionError, urllib.error.URLError):
            if time.perf_counter() - started > 30:
                sys.exit("no 202 within 30 s")
            time.sleep(0.001)
finally:
    server.terminate()
    server.wait()
PY

python3 - "$DIR" <<'PY'
import os, re, sys
workdir = sys.argv[1]

def wrk(name):
    text = open(os.path.join(workdir, f"{name}.txt")).read()
    def ms(p):
        m = re.search(rf"^\s*{p}%\s+([\d.]+)(us|ms|s)\s*$", text, re.M)
        value, unit = float(m.group(1)), m.group(2)
        return value * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", text).group(1))
    errors = sum(int(n) for n in re.findall(r"Non-2xx or 3xx responses: (\d+)", text))
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    requests = int(re.search(r"(\d+) requests in", text).group(1))
    return {"rps": rps, "p50": ms(50), "p99": ms(99), "errors": errors, "requests": requests}

seq, c16, c64 = wrk("sequential"), wrk("c16"), wrk("c64")
rss_mb = int(open(os.path.join(workdir, "rss.txt")).read()) / 1024 if os.path.exists(os.path.join(workdir, "rss.txt")) else float("nan")
start_ms = float(open(os.path.join(workdir, "start.txt")).read())
before, after, hz = (int(n) for n in open(os.path.join(workdir, "cpu.txt")).read().split())
cpu_us = (after - before) / hz * 1e6 / max(c16["requests"], 1)
rows = [
    ("throughput at c16", f"{c16['rps']:,.0f} req/s, {c16['errors']} errors", "≥ 10,000 req/s, 0 errors", c16["rps"] >= 10_000 and c16["errors"] == 0),
    ("latency at c16", f"p50 {c16['p50']:.2f} ms, p99 {c16['p99']:.2f} ms", "p99 ≤ 5 ms", c16["p99"] <= 5),
    ("throughput at c64", f"{c64['rps']:,.0f} req/s, p99 {c64['p99']:.1f} ms", "≥ 12,000 req/s, p99 ≤ 20 ms", c64["rps"] >= 12_000 and c64["p99"] <= 20),
    ("sequential (one connection)", f"p50 {seq['p50']:.2f} ms, p99 {seq['p99']:.2f} ms", "p50 ≤ 0.4 ms", seq["p50"] <= 0.4),
    ("process start → first 202", f"{start_ms:.0f} ms", "≤ 30 ms", start_ms <= 30),
    ("RSS under load (c16)", f"{rss_mb:.0f} MB", "≤ 40 MB", rss_mb <= 40),
    # Not in the issue's table: what its c16 goal needs, two cores shared with wrk.
    ("server CPU per webhook (c16)", f"{cpu_us:.0f} µs", "≤ ~100 µs", cpu_us <= 100),
]
width = [max(len(r[i]) for r in rows + [("measure", "now", "goal")]) for i in range(3)]
print(f"\n| {'measure':<{width[0]}} | {'now':<{width[1]}} | {'goal':<{width[2]}} | met |")
print(f"|{'-' * (width[0] + 2)}|{'-' * (width[1] + 2)}|{'-' * (width[2] + 2)}|-----|")
for measure, now, goal, met in rows:
    print(f"| {measure:<{width[0]}} | {now:<{width[1]}} | {goal:<{width[2]}} | {'yes' if met else 'no':<3} |")
PY
