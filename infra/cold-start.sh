#!/usr/bin/env bash
# Measures each Lambda function's cold start and size: the release `bootstrap`
# (what `sam build` deploys), started as Lambda starts it, against a stand-in
# Runtime API on loopback. Init time is from spawning the process to its first
# `GET /runtime/invocation/next` (ready for its first event), over RUNS starts
# (default 7) per function. Prints a Markdown table for docs/performance.md.
#
#   ./infra/cold-start.sh [RUNS]
#   OSA_COLD_START_FUNCTIONS="worker intake" ./infra/cold-start.sh   # some of them
#
# The functions run as deployed: the template's variables with the values of
# events/env.local.json, on the AWS backend against moto (infra/moto.sh), with
# their secrets in moto's Secrets Manager and a JWKS served on loopback.
# Builds with infra/lambda-build.sh first, the one release build `sam build` runs
# (a no-op after infra/sam-build.sh with the same CARGO_TARGET_DIR).
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS="${1:-7}"

# shellcheck source=infra/tools.sh
source infra/tools.sh
read -r -a FUNCTIONS <<<"${OSA_COLD_START_FUNCTIONS:-intake opal-webhook status-api stream worker health-check alert-evaluator outbox-relay}"
# The very binaries SAM deploys: one build of every function crate (features
# resolved for them together, as `sam build` builds them).
./infra/lambda-build.sh >&2
TARGET_DIR="$(cargo metadata --format-version 1 --no-deps | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"

# shellcheck source=infra/moto.sh
source infra/moto.sh
"$(osa_moto_venv)/bin/python" - "$TARGET_DIR/lambda" "$RUNS" "${FUNCTIONS[@]}" <<'PY'
import base64, io, json, os, statistics, subprocess, sys, threading, time, zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
from cryptography.hazmat.primitives.asymmetric import rsa

binaries, runs, functions = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
LOGICAL_IDS = {
    "intake": "IntakeFunction",
    "opal-webhook": "OpalWebhookFunction",
    "status-api": "StatusApiFunction",
    "stream": "StreamFunction",
    "worker": "WorkerFunction",
    "health-check": "HealthCheckFunction",
    "alert-evaluator": "AlertEvaluatorFunction",
    "outbox-relay": "OutboxRelayFunction",
}
endpoint = os.environ["AWS_ENDPOINT_URL"]

# The identity provider's keys (a fresh RSA key; no token is verified here).
numbers = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key().public_numbers()
b64 = lambda n: base64.urlsafe_b64encode(n.to_bytes((n.bit_length() + 7) // 8, "big")).rstrip(b"=").decode()
JWKS = json.dumps({"keys": [{"kty": "RSA", "alg": "RS256", "use": "sig", "kid": "cold-start",
                             "n": b64(numbers.n), "e": b64(numbers.e)}]}).encode()

# One function runs at a time: "now" is when it first asked for an event,
# "error" what it reported instead.
ready = {}


class RuntimeApi(BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.endswith("/runtime/invocation/next"):
            ready.setdefault("now", time.monotonic())
            # Hold the long poll: the function stays ready until it is killed.
            time.sleep(5)
            self.send_response(204)
            self.end_headers()
        elif self.path == "/jwks.json":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(JWKS)))
            self.end_headers()
            self.wfile.write(JWKS)
        else:
            self.send_response(404)
            self.end_headers()

    def do_POST(self):
        # /runtime/init/error: the function could not start.
        length = int(self.headers.get("Content-Length", 0))
        ready.setdefault("error", self.rfile.read(length).decode(errors="replace"))
        self.send_response(202)
        self.end_headers()

    def log_message(self, *args):
        pass


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass  # a killed function's long poll breaks: expected


server = Server(("127.0.0.1", 0), RuntimeApi)
threading.Thread(target=server.serve_forever, daemon=True).start()
api = f"127.0.0.1:{server.server_address[1]}"

# The functions' environment: what the template declares, valued for local runs.
with open("events/env.local.json") as f:
    env_vars = json.load(f)
overrides = {
    "AWS_ENDPOINT_URL": endpoint,
    "OSA_JWKS_URL": f"http://{api}/jwks.json",
    "RUST_LOG": "warn",
}
secrets = boto3.client("secretsmanager", endpoint_url=endpoint)
sqs = boto3.client("sqs", endpoint_url=endpoint)
queue_url = sqs.create_queue(QueueName="osa-cold-start")["QueueUrl"]
for name in ("osa-local/webhook-secrets", "osa-local/opal-api-key"):
    try:
        secrets.create_secret(Name=name, SecretString="cold-start-secret")
    except secrets.exceptions.ResourceExistsException:
        pass


def start_once(function):
    env = {k: v for k, v in os.environ.items() if not k.startswith("OSA_")}
    env.update(env_vars.get("Parameters", {}))
    env.update(env_vars[LOGICAL_IDS[function]])
    env.update(overrides)
    env["OSA_QUEUE_URL"] = queue_url
    env.update({
        "AWS_LAMBDA_RUNTIME_API": api,
        "AWS_LAMBDA_FUNCTION_NAME": f"osa-{function}",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/osa-{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "cold-start",
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
    })
    ready.clear()
    started = time.monotonic()
    process = subprocess.Popen([os.path.join(binaries, function, "bootstrap")], env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        while "now" not in ready and "error" not in ready and process.poll() is None:
            if time.monotonic() - started > 30:
                raise SystemExit(f"{function}: not ready within 30 s")
            time.sleep(0.0005)
    finally:
        process.kill()
        _, stderr = process.communicate()
    if "now" not in ready:
        raise SystemExit(f"{function}: init failed: {ready.get('error', '')}\n{stderr.decode(errors='replace')[-2000:]}")
    return (ready["now"] - started) * 1000


def zipped_size(path):
    # What Lambda downloads at a cold start: the deployment package, zipped.
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as package:
        package.write(path, "bootstrap")
    return buffer.tell()


print("| function | `bootstrap` | zipped | init, median (min-max) of %d starts |" % runs)
print("|---|---:|---:|---:|")
for function in functions:
    # An unmeasured first start reads the binary into the page cache: the
    # figures compare the functions' init work, not disk reads.
    start_once(function)
    times = [start_once(function) for _ in range(runs)]
    bootstrap = os.path.join(binaries, function, "bootstrap")
    print(f"| {function} | {os.path.getsize(bootstrap) / 1e6:.1f} MB | {zipped_size(bootstrap) / 1e6:.1f} MB "
          f"| {statistics.median(times):.1f} ms "
          f"({min(times):.1f}-{max(times):.1f}) |", flush=True)
PY
