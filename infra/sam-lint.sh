#!/usr/bin/env bash
# Lints the SAM template offline: cfn-lint, then `sam validate --lint`, then the
# checks neither does (dependency cycles, the SAM-local env-vars file).
# Uses pinned aws-sam-cli and cfn-lint from the tool cache (infra/tools.sh),
# installing them from PyPI on first use. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
TEMPLATE="${1:-template.yaml}"

# shellcheck source=infra/tools.sh
source infra/tools.sh
VENV="$(osa_sam_venv)"

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
import re, sys
sys.path.insert(0, "infra")
from sam_transform import load_transformed

_, resources = load_transformed(sys.argv[1])


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
# `sam local invoke --env-vars` sets only variables the template declares for a
# function and silently drops the rest; a declared one it is not given keeps its
# template value, unresolved locally (a resource's logical id). So the env-vars
# file must give every function exactly its declared variables. Checked through
# SAM's own resolution, as `sam local invoke` would run each function.
ENV_VARS="${OSA_SAM_ENV_VARS:-events/env.local.json}"
echo "sam-lint: $ENV_VARS against the functions' environment"
"$VENV/bin/python" - "$TEMPLATE" "$ENV_VARS" <<'PY'
import json, os, sys
from samcli.commands.local.lib.local_lambda import LocalLambdaRunner
from samcli.lib.providers.sam_function_provider import SamFunctionProvider
from samcli.lib.providers.sam_stack_provider import SamLocalStackProvider

template, env_file = sys.argv[1], sys.argv[2]
with open(env_file) as f:
    env_vars = json.load(f)
stacks, _ = SamLocalStackProvider.get_stacks(template, parameter_overrides={})
functions = {f.name: f for f in SamFunctionProvider(stacks).get_all()}
runner = LocalLambdaRunner(None, None, os.getcwd(), os.getcwd(), env_vars_values=env_vars)

problems = []
shared = env_vars.get("Parameters", {})
for name in sorted(set(env_vars) - set(functions) - {"Parameters"}):
    problems.append(f"{name}: not a function of the template")
for name, function in sorted(functions.items()):
    declared = set((function.environment or {}).get("Variables", {}))
    if name not in env_vars:
        problems.append(f"{name}: missing (its variables: {', '.join(sorted(declared))})")
        continue
    own = env_vars[name]
    for var in sorted(declared - set(shared) - set(own)):
        problems.append(f"{name}: {var} is not set (the function would see its template value)")
    for var in sorted((set(shared) | set(own)) - declared):
        where = "Parameters" if var in shared and var not in own else name
        problems.append(f"{where}: {var} is not declared for {name} in the template (SAM drops it)")
    resolved = runner._make_env_vars(function).resolve()
    for var, value in {**shared, **own}.items():
        if var in declared and resolved.get(var) != str(value):
            problems.append(f"{name}: SAM resolves {var} to {resolved.get(var)!r}, not {value!r}")
for problem in problems:
    print(problem)
sys.exit(1 if problems else 0)
PY
echo "sam-lint: $TEMPLATE is clean"
