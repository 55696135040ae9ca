#!/usr/bin/env bash
# Lints the SAM template offline: cfn-lint, then `sam validate --lint`.
# Installs pinned aws-sam-cli and cfn-lint from PyPI into .tools/sam (git-ignored)
# on first use. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPLATE="${1:-template.yaml}"

SAM_CLI_VERSION="1.170.0"
CFN_LINT_VERSION="1.58.0"
VENV=".tools/sam"
STAMP="$VENV/.installed-sam-${SAM_CLI_VERSION}-cfn-lint-${CFN_LINT_VERSION}"

if [[ ! -f "$STAMP" ]]; then
    echo "sam-lint: installing aws-sam-cli ${SAM_CLI_VERSION} and cfn-lint ${CFN_LINT_VERSION} into ${VENV}"
    rm -rf "$VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
        "aws-sam-cli==${SAM_CLI_VERSION}" "cfn-lint==${CFN_LINT_VERSION}"
    touch "$STAMP"
fi

# Offline: no real account, no telemetry, no update checks.
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_SESSION_TOKEN=testing
export AWS_DEFAULT_REGION=us-east-1 AWS_REGION=us-east-1
export SAM_CLI_TELEMETRY=0 SAM_CLI_DISABLE_UPDATE_CHECK=1 AWS_EC2_METADATA_DISABLED=true
unset AWS_PROFILE AWS_ENDPOINT_URL

echo "sam-lint: cfn-lint $TEMPLATE"
"$VENV/bin/cfn-lint" --non-zero-exit-code informational "$TEMPLATE"

echo "sam-lint: sam validate --lint"
out=$("$VENV/bin/sam" validate --lint --template-file "$TEMPLATE" 2>&1) || {
    printf '%s\n' "$out"
    exit 1
}
printf '%s\n' "$out"
grep -q 'is a valid SAM Template' <<<"$out" || exit 1

# Neither linter follows references inside an HTTP API's OpenAPI body, so a
# function that reads the API's URL while SAM wires the API to the function's ARN
# passes both and is then refused by CloudFormation. Check the transformed
# template's dependency graph for cycles here.
echo "sam-lint: dependency cycles in the transformed template"
"$VENV/bin/python" - "$TEMPLATE" <<'PY'
import json, re, sys
from cfnlint.decode import decode
from samtranslator.translator.transform import transform

template, matches = decode(sys.argv[1])
if matches:
    sys.exit("cannot parse the template")
template = json.loads(json.dumps(template))
for resource in template.get("Resources", {}).values():  # local code is uploaded by `sam deploy`
    if resource.get("Type") == "AWS::Serverless::Function":
        resource.setdefault("Properties", {})["CodeUri"] = "s3://bucket/key"
template.get("Globals", {}).get("Function", {}).pop("CodeUri", None)


class NoManagedPolicies:
    def load(self):
        return {}


resources = transform(template, {}, NoManagedPolicies())["Resources"]


def refs(node, out):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Ref" and isinstance(value, str):
                out.add(value)
            elif key == "Fn::GetAtt":
                out.add(value[0] if isinstance(value, list) else value.split(".")[0])
            elif key == "Fn::Sub":
                text = value if isinstance(value, str) else value[0]
                out.update(m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
                if isinstance(value, list):
                    refs(value[1], out)
            else:
                refs(value, out)
    elif isinstance(node, list):
        for item in node:
            refs(item, out)
    return out


graph = {}
for name, resource in resources.items():
    depends = resource.get("DependsOn", [])
    depends = [depends] if isinstance(depends, str) else depends
    graph[name] = {d for d in refs(resource, set()) | set(depends) if d in resources and d != name}

cycles, done = [], set()


def visit(node, path):
    if node in path:
        cycles.append(path[path.index(node):] + [node])
        return
    if node in done:
        return
    for dep in sorted(graph[node]):
        visit(dep, path + [node])
    done.add(node)


for node in sorted(graph):
    visit(node, [])
for cycle in cycles:
    print("circular dependency: " + " -> ".join(cycle))
sys.exit(1 if cycles else 0)
PY
echo "sam-lint: $TEMPLATE is clean"
