#!/usr/bin/env bash
# Builds the Lambda functions for `sam deploy`: `sam build` end to end, offline,
# from a checkout in any state. Extra arguments go to `sam build`.
#
#   ./infra/sam-build.sh
#   OSA_LAMBDA_ARCH=arm64 ./infra/sam-build.sh   # Graviton (needs the aarch64 std: docs/deploying.md)
#   sam deploy --guided     # any aws-sam-cli; this script's is in the tool cache
#
# aws-sam-cli comes from the tool cache (infra/tools.sh), cargo-lambda from PATH
# or the tool cache; both install from PyPI on first use. Every function builds
# with SAM's makefile method (infra/lambda/Makefile): one `cargo lambda build
# --release` of all the function crates (infra/lambda-build.sh) compiles the
# shared tree once into the workspace's target directory ($CARGO_TARGET_DIR if
# set), reusing what it built before, and each function's target copies its
# stripped `bootstrap` into .aws-sam/build/.
#
# CARGO_LAMBDA_COMPILER defaults to `cargo` (no zig needed): the binaries then
# link against this machine's glibc, so the script checks that none needs a newer
# glibc than the Lambda runtime's (provided.al2023: 2.34) and that every function
# got its own binary; it reports each deployment package over 4 MB zipped.
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
export OSA_LAMBDA_ARCH="${OSA_LAMBDA_ARCH:-x86_64}"
overrides=()
[[ "$OSA_LAMBDA_ARCH" == x86_64 ]] || overrides=(--parameter-overrides "Architecture=$OSA_LAMBDA_ARCH")
started=$SECONDS
"$SAM" build --template-file template.yaml "${overrides[@]}" "$@"
echo "sam-build: built in $((SECONDS - started)) s"

GLIBC_MAX="2.34"
ZIPPED_MAX=$((4 * 1024 * 1024))
status=0
for bootstrap in .aws-sam/build/*/bootstrap; do
    needs=$(grep -ao 'GLIBC_2\.[0-9]*' "$bootstrap" | sed 's/GLIBC_//' | sort -uV | tail -n 1)
    # What `sam deploy` uploads: the bootstrap, deflated in a zip.
    zipped=$(python3 -c 'import io, sys, zipfile
b = io.BytesIO()
with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
    z.write(sys.argv[1], "bootstrap")
print(b.tell())' "$bootstrap")
    printf 'sam-build: %-40s %6s KiB, %6s KiB zipped, needs glibc %s\n' "$bootstrap" \
        "$(($(stat -c %s "$bootstrap") / 1024))" "$((zipped / 1024))" "${needs:-?}"
    # The goal (issue 26), not yet met (4.7 MB zipped and up, measured 2026-12-07):
    # reported, not failed, unless OSA_ENFORCE_BUNDLE_LIMIT=1.
    if ((zipped > ZIPPED_MAX)); then
        echo "sam-build: $bootstrap is $((zipped / 1024)) KiB zipped, over the 4 MB goal" >&2
        [[ "${OSA_ENFORCE_BUNDLE_LIMIT:-0}" == 1 ]] && status=1
    fi
    if [[ -n "$needs" && "$(printf '%s\n%s\n' "$needs" "$GLIBC_MAX" | sort -V | tail -n 1)" != "$GLIBC_MAX" ]]; then
        echo "sam-build: $bootstrap needs glibc $needs, newer than provided.al2023's $GLIBC_MAX (build with zig: CARGO_LAMBDA_COMPILER=zig)" >&2
        status=1
    fi
done
# SAM merges functions whose build definitions are equal; each must have its own binary.
copies=$(sha256sum .aws-sam/build/*/bootstrap | awk '{print $1}' | sort | uniq -d)
if [[ -n "$copies" ]]; then
    echo "sam-build: two functions got the same bootstrap (a Makefile target or BuildProperties.Binary is off)" >&2
    status=1
fi
exit "$status"
