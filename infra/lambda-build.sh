#!/usr/bin/env bash
# One release build of every Lambda function: `cargo lambda build --release` of all
# the function crates at once, so the shared tree (osa-domain ... osa-aws, the AWS
# SDK, axum) compiles once, with one feature set, into one target directory. Run
# again with nothing changed it is a no-op of a second or two.
#
#   ./infra/lambda-build.sh                 # build every function
#   ./infra/lambda-build.sh BIN DEST_DIR    # ... then copy BIN's bootstrap into DEST_DIR
#
# `sam build` calls the second form once per function (infra/lambda/Makefile): the
# first call compiles, the others find it done. OSA_LAMBDA_ARCH picks the
# architecture, x86_64 (default) or arm64; an arm64 build needs the Rust standard
# library for aarch64-unknown-linux-gnu (`rustup target add`) and zig
# (CARGO_LAMBDA_COMPILER=zig, `pip install ziglang`), see docs/deploying.md.
set -euo pipefail
cd "$(dirname "$0")/.."

# shellcheck source=infra/tools.sh
source infra/tools.sh
osa_cargo_lambda_on_path
export CARGO_LAMBDA_COMPILER="${CARGO_LAMBDA_COMPILER:-cargo}"

case "${OSA_LAMBDA_ARCH:-x86_64}" in
    x86_64) arch=(--x86-64) ;;
    arm64) arch=(--arm64) ;;
    *)
        echo "lambda-build: OSA_LAMBDA_ARCH must be x86_64 or arm64, not ${OSA_LAMBDA_ARCH}" >&2
        exit 2
        ;;
esac

packages=()
for manifest in functions/*/Cargo.toml; do
    packages+=(-p "$(sed -n 's/^name = "\(.*\)"$/\1/p' "$manifest" | head -n 1)")
done

TARGET_DIR="$(cargo metadata --format-version 1 --no-deps --locked | python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')"
mkdir -p "$TARGET_DIR"
# One build at a time in this target directory (sam build runs the Makefile's
# targets one after another, but two scripts could meet here).
exec 9>"$TARGET_DIR/lambda-build.lock"
flock 9
cargo lambda build --profile lambda --locked "${arch[@]}" "${packages[@]}" >&2

if [[ $# -eq 2 ]]; then
    bin="$1" dest="$2"
    bootstrap="$TARGET_DIR/lambda/$bin/bootstrap"
    [[ -f "$bootstrap" ]] || { echo "lambda-build: no $bootstrap (is $bin a function crate's binary?)" >&2; exit 1; }
    mkdir -p "$dest"
    cp "$bootstrap" "$dest/bootstrap"
elif [[ $# -ne 0 ]]; then
    echo "usage: $0 [BIN DEST_DIR]" >&2
    exit 2
fi
