#!/usr/bin/env bash
# IAM parity: the AWS calls each function made (recorded by the adapters into
# OSA_AWS_CALL_LOG while the Lambda runtime loop ran every function against the
# local endpoint) against the actions its role grants in the SAM-transformed
# template. Fails when a function made a call its policy does not allow; lists
# the grants no recorded call used (paths the loop's events do not reach may
# still need them, so those are reported, not failed).
#
#   ./infra/iam-parity.sh CALL_LOG [TEMPLATE]
set -euo pipefail
cd "$(dirname "$0")/.."
CALL_LOG="$1"
TEMPLATE="${2:-template.yaml}"

# shellcheck source=infra/tools.sh
source infra/tools.sh
VENV="$(osa_sam_venv)"
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1

"$VENV/bin/python" - "$TEMPLATE" "$CALL_LOG" <<'PY'
import fnmatch, json, sys
from collections import defaultdict
sys.path.insert(0, "infra")
from sam_transform import load_transformed

template_path, log_path = sys.argv[1], sys.argv[2]
template, resources = load_transformed(template_path)
binaries = {
    name: resource["Metadata"]["BuildProperties"]["Binary"]
    for name, resource in template.get("Resources", {}).items()
    if resource.get("Type") == "AWS::Serverless::Function"
}

# The AWS managed policies SAM attaches, by what they allow (their logs actions
# aside: the functions do not call CloudWatch Logs themselves).
MANAGED = {
    "AWSLambdaBasicExecutionRole": [],
    "AWSLambdaSQSQueueExecutionRole": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
    "AWSLambdaDynamoDBExecutionRole": ["dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator", "dynamodb:ListStreams"],
    # Tracing: Active. Lambda sends the segments; the functions call no X-Ray API.
    "AWSXrayWriteOnlyAccess": ["xray:PutTraceSegments", "xray:PutTelemetryRecords"],
}


def actions_of(statement):
    if statement.get("Effect") != "Allow":
        return []
    action = statement.get("Action", [])
    return [action] if isinstance(action, str) else action


granted = {}
for name, binary in binaries.items():
    role_ref = resources[name]["Properties"]["Role"]["Fn::GetAtt"][0]
    role = resources[role_ref]["Properties"]
    actions = set()
    for policy in role.get("Policies", []):
        # A conditional policy (Fn::If): its granting branch, as with the
        # condition true (the loop's environment sets what it depends on).
        if "Fn::If" in policy:
            branches = [b for b in policy["Fn::If"][1:] if isinstance(b, dict) and "PolicyDocument" in b]
            if not branches:
                continue
            policy = branches[0]
        statements = policy["PolicyDocument"]["Statement"]
        for statement in statements if isinstance(statements, list) else [statements]:
            actions.update(actions_of(statement))
    for arn in role.get("ManagedPolicyArns", []):
        text = json.dumps(arn)
        known = [n for n in MANAGED if n in text]
        if not known:
            sys.exit(f"iam-parity: {name} has a managed policy this check does not know: {text}")
        for n in known:
            actions.update(MANAGED[n])
    granted[binary] = actions

used = defaultdict(set)
with open(log_path) as log:
    for line in log:
        function, _, action = line.rstrip("\n").partition("\t")
        if function in granted:
            used[function].add(action)


def allowed(action, grants):
    return any(fnmatch.fnmatchcase(action.lower(), g.lower()) for g in grants)


failures = 0
for binary in sorted(granted):
    grants, calls = granted[binary], used.get(binary, set())
    missing = sorted(a for a in calls if not allowed(a, grants))
    unused = sorted(g for g in grants if not any(fnmatch.fnmatchcase(a.lower(), g.lower()) for a in calls))
    status = "MISSING " + ", ".join(missing) if missing else "ok"
    print(f"iam-parity: {binary}: {len(calls)} actions called, {status}")
    if calls:
        print(f"iam-parity:   called: {', '.join(sorted(calls))}")
    if unused:
        print(f"iam-parity:   granted, not called in the loop: {', '.join(unused)}")
    failures += len(missing)

# Secrets by resource: every secret a function is given by reference (a
# variable ending in SECRET_ARN or SECRETS_ARN) must be one its role may read
# (secretsmanager:GetSecretValue on that very parameter's ARN). The one
# exception: the alert evaluator is given the alert channels' references only
# to know which channels are configured; the worker reads them when it sends
# (osa_app::alerts::notification never reads a secret).
NAMED_NOT_READ = {"alert-evaluator": "OSA_ALERT_"}
def refs(value):
    text = json.dumps(value)
    return {part.split('"')[0] for part in text.split('{"Ref": "')[1:]} - {"AWS::NoValue"}


for name, binary in sorted(binaries.items()):
    variables = resources[name]["Properties"].get("Environment", {}).get("Variables", {})
    role_ref = resources[name]["Properties"]["Role"]["Fn::GetAtt"][0]
    readable = set()
    for policy in resources[role_ref]["Properties"].get("Policies", []):
        if "secretsmanager:GetSecretValue" in json.dumps(policy):
            readable |= refs(policy)
    for variable, value in sorted(variables.items()):
        if not (variable.endswith("SECRET_ARN") or variable.endswith("SECRETS_ARN")):
            continue
        if variable.startswith(NAMED_NOT_READ.get(binary, "\0")):
            continue
        for parameter in sorted(refs(value)):
            if parameter in readable:
                print(f"iam-parity: {binary}: may read {variable} ({parameter})")
            else:
                print(f"iam-parity: {binary}: MISSING secretsmanager:GetSecretValue on {parameter} ({variable})")
                failures += 1

if not used:
    sys.exit("iam-parity: the call log names no function; was OSA_AWS_CALL_LOG set for the loop?")
sys.exit(1 if failures else 0)
PY
