"""Standard Webhooks, both ways, against `osa serve`, with the official library.

Inbound: OPAL events signed by the library are accepted, de-duplicated by
message id, and a forgery refused. Outbound: a result-ready notification and
an alert to the generic alert webhook verify with the library.

Started by infra/standard-webhooks.sh. Exits non-zero, saying why, on the first
check that fails; stops the server it started in any case.
"""

import argparse
import base64
import datetime
import http.server
import json
import os
import queue
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

AGENTS = [
    "integration_health", "content_review", "geo_audit", "audience_suggester",
    "experiment_blueprinter", "personalization_idea_generator", "customer_journey",
    "roadmap_generator", "cmp_organizer",
]
DEADLINE_S = 90


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def whsec():
    return "whsec_" + base64.b64encode(secrets.token_bytes(24)).decode()


class Listener(http.server.BaseHTTPRequestHandler):
    """OPAL's trigger (answered 202), the notification target and the alert
    webhook (both kept)."""

    received = queue.Queue()
    alerts = queue.Queue()

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0)))
        if self.path == "/notify":
            Listener.received.put((dict(self.headers.items()), body))
            self.send_response(200)
        elif self.path == "/alerts":
            Listener.alerts.put((dict(self.headers.items()), body))
            self.send_response(200)
        else:
            self.send_response(202)
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def request(method, url, body=None, headers=None):
    req = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def check(condition, message):
    if not condition:
        sys.exit(f"standard-webhooks: FAILED: {message}")


def main():
    args = argparse.ArgumentParser()
    args.add_argument("--osa", required=True)
    osa = args.parse_args().osa

    listener = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Listener)
    threading.Thread(target=listener.serve_forever, daemon=True).start()
    hooks = f"http://127.0.0.1:{listener.server_address[1]}"

    data = tempfile.mkdtemp(prefix="osa-standard-webhooks.")
    webhook_secret, notify_secret = whsec(), whsec()
    for name, value in [("webhook-secret", webhook_secret), ("notify-secret", notify_secret)]:
        with open(os.path.join(data, name), "w") as f:
            f.write(value)
        os.chmod(os.path.join(data, name), 0o600)

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dict(os.environ, OSA_WEBHOOK_SIGNATURE_SCHEMES="osa,standard",
               OSA_RATE_LIMIT_PER_MINUTE="0")
    log = open(os.path.join(data, "server.log"), "w")
    server = subprocess.Popen(
        [osa, "serve", "--port", str(port), "--data-dir", data, "--no-simulator",
         "--opal-url", f"{hooks}/opal"],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        run(osa, base, data, hooks, webhook_secret, notify_secret, server)
    finally:
        server.kill()
        server.wait()
    try:
        alert_webhook(osa, hooks)
    finally:
        listener.shutdown()
    shutil.rmtree(data, ignore_errors=True)  # kept, with the server's log, on a failure
    print("standard-webhooks: passed")


def serve(osa, data, env, *flags):
    """`osa serve` on a free port over `data`; its base URL once it answers."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = open(os.path.join(data, "server.log"), "w")
    server = subprocess.Popen(
        [osa, "serve", "--port", str(port), "--data-dir", data, "--no-simulator", *flags],
        env=env, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(300):
        if server.poll() is not None:
            break
        try:
            if request("GET", f"{base}/api/openapi.json")[0] == 200:
                return server, base
        except OSError:
            pass
        time.sleep(0.1)
    server.kill()
    sys.exit(f"standard-webhooks: FAILED: osa serve did not start; see {data}/server.log")


def alert_webhook(osa, hooks):
    """An alert reaches the generic alert webhook, verified by the library: a
    second server whose agents' allowances are cut to 1 %, so one times out
    within seconds and `agent_timeout` fires."""
    data = tempfile.mkdtemp(prefix="osa-standard-webhooks-alerts.")
    alert_secret = whsec()
    env = dict(os.environ, OSA_RATE_LIMIT_PER_MINUTE="0", OSA_SCHEDULE_SECS="1",
               OSA_ALERT_WEBHOOK_URL=f"{hooks}/alerts",
               OSA_ALERT_WEBHOOK_SECRET=alert_secret)
    server, base = serve(osa, data, env, "--opal-url", f"{hooks}/opal",
                         "--deadline-scale", "0.01")
    try:
        token = subprocess.run(
            [osa, "token", "--data-dir", data, "--scope", "osa:intake"],
            check=True, capture_output=True, text=True).stdout.strip()
        with open("events/samples/intake.json") as f:
            intake = f.read().encode()
        status, body = request("POST", f"{base}/api/strategy/intake", intake,
                               {"content-type": "application/json",
                                "authorization": f"Bearer {token}"})
        check(status == 202, f"intake answered {status}: {body[:300]!r}")
        try:
            headers, body = Listener.alerts.get(timeout=DEADLINE_S)
        except queue.Empty:
            sys.exit(f"standard-webhooks: FAILED: no alert within {DEADLINE_S} s;"
                     f" see {data}/server.log")
    finally:
        server.kill()
        server.wait()
    headers = {k.lower(): v for k, v in headers.items()}
    event = Webhook(alert_secret).verify(body, headers)
    check(event["type"] == "alert.fired", f"alerted {event}")
    check(event["data"]["rule_id"] == "agent_timeout", f"alerted {event}")
    try:
        Webhook(whsec()).verify(body, headers)
        check(False, "another key verified the alert")
    except WebhookVerificationError:
        pass
    shutil.rmtree(data, ignore_errors=True)
    print(f"standard-webhooks: alert {event['data']['alert_id']} ({event['type']},"
          f" {event['data']['rule_id']}) delivered as {headers['webhook-id']},"
          f" verified by the library")


def run(osa, base, data, hooks, webhook_secret, notify_secret, server):
    for _ in range(300):
        check(server.poll() is None, f"osa serve exited; see {data}/server.log")
        try:
            if request("GET", f"{base}/api/openapi.json")[0] == 200:
                break
        except OSError:
            pass
        time.sleep(0.1)
    token = subprocess.run(
        [osa, "token", "--data-dir", data, "--scope", "osa:intake,osa:read"],
        check=True, capture_output=True, text=True).stdout.strip()

    with open("events/samples/intake.json") as f:
        intake = json.load(f)
    intake["notify_url"] = f"{hooks}/notify"
    status, body = request("POST", f"{base}/api/strategy/intake", json.dumps(intake).encode(),
                           {"content-type": "application/json",
                            "authorization": f"Bearer {token}"})
    check(status == 202, f"intake answered {status}: {body[:300]!r}")
    workflow_id = json.loads(body)["workflow_id"]

    with open("events/samples/agent-output.json") as f:
        agent_data = json.load(f)
    signer = Webhook(webhook_secret)

    def send(agent, msg_id, forged=False, execution=None):
        payload = json.dumps({
            "workflow_id": workflow_id, "agent_id": agent, "execution_status": "completed",
            "execution_id": execution or f"exec-{agent}", "agent_data": agent_data,
        })
        now = datetime.datetime.now(tz=datetime.timezone.utc)
        signature = signer.sign(msg_id, now, payload)
        if forged:
            signature = Webhook(whsec()).sign(msg_id, now, payload)
        return request("POST", f"{base}/api/webhooks/opal-workflow", payload.encode(), {
            "content-type": "application/json",
            "webhook-id": msg_id,
            "webhook-timestamp": str(int(now.timestamp())),
            "webhook-signature": signature,
        })

    status, body = send(AGENTS[0], "msg_forged", forged=True)
    check(status == 401, f"a forged Standard Webhooks signature answered {status}")
    for agent in AGENTS:
        status, body = send(agent, f"msg_{agent}")
        check(status == 202, f"{agent}: answered {status}: {body[:300]!r}")
    # The message id is the de-duplication key: the same id is a duplicate even
    # with another execution id in the body.
    status, body = send(AGENTS[0], f"msg_{AGENTS[0]}", execution="exec-again")
    check(status == 200 and b"duplicate" in body,
          f"the same message id again answered {status}: {body[:300]!r}")

    try:
        headers, body = Listener.received.get(timeout=DEADLINE_S)
    except queue.Empty:
        sys.exit(f"standard-webhooks: FAILED: no notification within {DEADLINE_S} s")
    headers = {k.lower(): v for k, v in headers.items()}
    verified = Webhook(notify_secret).verify(body, headers)
    check(verified["workflow_id"] == workflow_id, f"notified {verified}")
    check("x-osa-signature" in headers, "X-OSA-Signature kept for one release")
    try:
        Webhook(notify_secret).verify(body + b" ", headers)
        check(False, "a changed body still verified")
    except WebhookVerificationError:
        pass
    print(f"standard-webhooks: nine agents signed by the library accepted, a repeat"
          f" de-duplicated, a forgery refused; notification {headers['webhook-id']}"
          f" verified by the library")


if __name__ == "__main__":
    main()
