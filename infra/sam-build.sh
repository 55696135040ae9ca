#!/usr/bin/env bash
# Builds the six Lambda functions for `sam deploy`: `sam build` end to end, offline,
# from a checkout in any state. Extra arguments go to `sam build`.
#
#   ./infra/sam-build.sh
#   sam deploy --guided     # any aws-sam-cli; this script's is in the tool cache
#
# aws-sam-cli comes from the tool cache (infra/tools.sh), cargo-lambda from PATH
# or the tool cache; both install from PyPI on first use. Each function's CodeUri
# is its crate, so SAM reads nothing but that folder; cargo builds into the
# workspace's target directory ($CARGO_TARGET_DIR if set) and reuses what it
# built before. The stripped `bootstrap` binaries land in .aws-sam/build/.
#
# CARGO_LAMBDA_COMPILER defaults to `cargo` (no zig needed): the binaries then
# link against this machine's glibc, so the script checks that none needs a newer
# glibc than the Lambda runtime's (provided.al2023: 2.34).
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=infra/tools.sh
source infra/tools.sh
SAM="$(osa_sam_venv)/bin/sam"
osa_cargo_lambda_on_path
export CARGO_LAMBDA_COMPILER="${CARGO_LAMBDA_COMPILER:-cargo}"

# Building needs no account: dummy credentials unless there are real ones.
if [[ -z "${AWS_ACCESS_KEY_ID:-}" && -z "${AWS_PROFILE:-}" ]]; then
    export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
fi
export AWS_DEFAULT_REGION="${AWS_DEFAULT_REGION:-${AWS_REGION:-us-east-1}}"
export SAM_CLI_TELEMETRY=0 SAM_CLI_DISABLE_UPDATE_CHECK=1 AWS_EC2_METADATA_DISABLED=true

echo "sam-build: $("$SAM" --version), $(cargo-lambda lambda --version), compiler $CARGO_LAMBDA_COMPILER"
started=$SECONDS
"$SAM" build --template-file template.yaml "$@"
echo "sam-build: built in $((SECONDS - started)) s"

GLIBC_MAX="2.34"
status=0
for bootstrap in .aws-sam/build/*/bootstrap; do
    needs=$(grep -ao 'GLIBC_2\.[0-9]*' "$bootstrap" | sed 's/GLIBC_//' | sort -uV | tail -n 1)
    printf 'sam-build: %-40s %6s KiB, needs glibc %s\n' "$bootstrap" \
        "$(($(stat -c %s "$bootstrap") / 1024))" "${needs:-?}"
    if [[ -n "$needs" && "$(printf '%s\n%s\n' "$needs" "$GLIBC_MAX" | sort -V | tail -n 1)" != "$GLIBC_MAX" ]]; then
        echo "sam-build: $bootstrap needs glibc $needs, newer than provided.al2023's $GLIBC_MAX (build with zig: CARGO_LAMBDA_COMPILER=zig)" >&2
        status=1
    fi
done
exit "$status"
