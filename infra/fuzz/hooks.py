"""Schemathesis hooks for OSA (loaded by infra/fuzz.sh through SCHEMATHESIS_HOOKS).

The webhook route only reads a body whose X-OSA-Signature is valid, so every
generated webhook request is signed here, over the exact bytes sent, with the
server's secret (OSA_FUZZ_WEBHOOK_SECRET_FILE). Half of the generated events are
pointed at workflows that exist (taken from the intake answers seen so far), so
the generator reaches the validator, the de-duplication and the store, not only
the "unknown workflow" answer.
"""

import hashlib
import hmac
import json
import os
import random
import time

import schemathesis

WEBHOOK_PATH = "/api/webhooks/opal-workflow"
INTAKE_PATH = "/api/strategy/intake"

with open(os.environ["OSA_FUZZ_WEBHOOK_SECRET_FILE"], "rb") as f:
    SECRET = f.read().strip()

known_workflows = []


def _sign(body: bytes) -> str:
    t = str(int(time.time() * 1000))
    mac = hmac.new(SECRET, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


@schemathesis.hook
def before_call(ctx, case, kwargs):
    if case.operation.path != WEBHOOK_PATH:
        return
    headers = case.headers or {}
    signed = [name for name in headers if name.lower() == "x-osa-signature"]
    if not signed:
        # A case that leaves the signature out tests that it is required.
        return
    document = case.body
    if type(document).__name__ == "NotSet":
        body = b""
    elif isinstance(document, (bytes, str)):
        body = document if isinstance(document, bytes) else document.encode()
    else:
        if isinstance(document, dict) and known_workflows and random.random() < 0.5:
            document["workflow_id"] = random.choice(known_workflows)
        # Serialised here, so the signature covers the exact bytes sent.
        body = json.dumps(document).encode()
    kwargs["data"] = body
    for name in signed:
        headers[name] = _sign(body)


@schemathesis.hook
def after_call(ctx, case, response):
    if case.operation.path == INTAKE_PATH and response.status_code in (200, 202):
        try:
            workflow = response.json().get("workflow_id")
        except ValueError:
            return
        if workflow and workflow not in known_workflows:
            known_workflows.append(workflow)
