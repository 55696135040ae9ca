#!/usr/bin/env bash
# Lints the SAM template offline: cfn-lint, then `sam validate --lint`.
# Installs pinned aws-sam-cli and cfn-lint from PyPI into .tools/sam (git-ignored)
# on first use. Exits non-zero on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."

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

echo "sam-lint: cfn-lint template.yaml"
"$VENV/bin/cfn-lint" --non-zero-exit-code informational template.yaml

echo "sam-lint: sam validate --lint"
out=$("$VENV/bin/sam" validate --lint --template-file template.yaml 2>&1) || {
    printf '%s\n' "$out"
    exit 1
}
printf '%s\n' "$out"
# sam prints findings and may still exit 0 on warnings; treat any finding as failure.
if grep -qiE '^\[?(E|W|I)[0-9]{4}|error|warning' <<<"$out" && ! grep -q 'is a valid SAM Template' <<<"$out"; then
    exit 1
fi
echo "sam-lint: template.yaml is clean"
