#!/usr/bin/env bash
# shellcheck shell=bash
# The tool cache the infra scripts share (sourced, not run): pinned tools live in
# versioned directories outside the work tree, installed once and reused by every
# checkout and every run, so nothing but git-ignored build output lands in the
# repository (and `sam build` never sees a tool).
#
#   OSA_TOOLS_DIR   the cache (default ${XDG_CACHE_HOME:-$HOME/.cache}/osa-tools)
#
# Each tool goes to $OSA_TOOLS_DIR/<tool>-<version>, complete once its `.installed`
# stamp exists: a version bump names a new directory, so it installs afresh. Installs
# hold a lock on the tool's directory, so concurrent runs do not install twice.

OSA_TOOLS_DIR="${OSA_TOOLS_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/osa-tools}"
export OSA_TOOLS_DIR

# The official Standard Webhooks library, which signs and verifies in the
# Standard Webhooks test (infra/standard-webhooks.sh).
osa_standardwebhooks_venv() {
    osa_pip_tool "standardwebhooks-$OSA_STANDARDWEBHOOKS_VERSION" \
        "standardwebhooks==$OSA_STANDARDWEBHOOKS_VERSION"
}

# osa_pip_tool NAME-VERSION PACKAGE==VERSION...: a Python venv holding the pinned
# packages; prints its directory.
osa_pip_tool() {
    local dir="$OSA_TOOLS_DIR/$1"
    shift
    if [[ ! -f "$dir/.installed" ]]; then
        mkdir -p "$OSA_TOOLS_DIR" || return 1
        (
            flock 9 || exit 1
            [[ -f "$dir/.installed" ]] && exit 0
            echo "tools: installing $* into $dir" >&2
            rm -rf "$dir"
            python3 -m venv "$dir" >&2 || exit 1
            "$dir/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2 &&
                "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@" >&2 &&
                touch "$dir/.installed"
        ) 9>"$dir.lock" || {
            echo "tools: installing $* failed" >&2
            return 1
        }
    fi
    printf '%s\n' "$dir"
}

# osa_deb_tool NAME PACKAGE: a Debian package unpacked (no root, nothing installed
# system-wide) into NAME-<the package's version>; prints its directory.
osa_deb_tool() {
    local name="$1" package="$2" found dir scratch deb version
    found=$(compgen -G "$OSA_TOOLS_DIR/$name-*/.installed" | sort -V | tail -n 1 || true)
    if [[ -n "$found" ]]; then
        dirname "$found"
        return 0
    fi
    mkdir -p "$OSA_TOOLS_DIR" || return 1
    (
        flock 9 || exit 1
        compgen -G "$OSA_TOOLS_DIR/$name-*/.installed" >/dev/null && exit 0
        echo "tools: installing Debian's $package package into $OSA_TOOLS_DIR" >&2
        scratch=$(mktemp -d) || exit 1
        trap 'rm -rf "$scratch"' EXIT
        # A machine whose package lists were never fetched needs them first.
        (cd "$scratch" && { apt-get download "$package" >/dev/null 2>&1 ||
            { apt-get update -qq >/dev/null && apt-get download "$package" >/dev/null; }; }) || exit 1
        deb=$(compgen -G "$scratch/${package}_*.deb" | head -n 1)
        [[ -n "$deb" ]] || exit 1
        version=$(dpkg-deb -f "$deb" Version) || exit 1
        dir="$OSA_TOOLS_DIR/$name-${version//[:~]/_}"
        rm -rf "$dir"
        dpkg-deb -x "$deb" "$dir" && touch "$dir/.installed"
    ) 9>"$OSA_TOOLS_DIR/$name.lock" || {
        echo "tools: installing $package failed" >&2
        return 1
    }
    dirname "$(compgen -G "$OSA_TOOLS_DIR/$name-*/.installed" | sort -V | tail -n 1)"
}

# The pinned tools. Bump a version here to reinstall it everywhere.
OSA_MOTO_VERSION="5.2.5"
OSA_SAM_CLI_VERSION="1.170.0"
OSA_CFN_LINT_VERSION="1.58.0"
OSA_CARGO_LAMBDA_VERSION="1.9.2"
OSA_PLAYWRIGHT_VERSION="1.65.2"
OSA_SCHEMATHESIS_VERSION="4.32.5"
OSA_OPENAPI_VALIDATOR_VERSION="0.9.0"
OSA_STANDARDWEBHOOKS_VERSION="1.1.0"

osa_moto_venv() {
    osa_pip_tool "moto-$OSA_MOTO_VERSION" "moto[server]==$OSA_MOTO_VERSION"
}

# aws-sam-cli pins an older boto3 than moto wants: its own venv.
osa_sam_venv() {
    osa_pip_tool "sam-$OSA_SAM_CLI_VERSION-cfn-lint-$OSA_CFN_LINT_VERSION" \
        "aws-sam-cli==$OSA_SAM_CLI_VERSION" "cfn-lint==$OSA_CFN_LINT_VERSION"
}

# Puts cargo-lambda on PATH: the one already there, else the pinned one.
osa_cargo_lambda_on_path() {
    local venv
    command -v cargo-lambda >/dev/null 2>&1 && return 0
    venv=$(osa_pip_tool "cargo-lambda-$OSA_CARGO_LAMBDA_VERSION" \
        "cargo-lambda==$OSA_CARGO_LAMBDA_VERSION") || return 1
    export PATH="$venv/bin:$PATH"
}

# Prints the path of a promtool: the one on PATH, else Debian's, unpacked.
osa_promtool() {
    local dir
    if command -v promtool >/dev/null 2>&1; then
        command -v promtool
        return 0
    fi
    dir=$(osa_deb_tool prometheus prometheus) || return 1
    printf '%s\n' "$dir/usr/bin/promtool"
}

# Python Playwright, pinned; it drives Debian's Chromium (never its own download).
osa_playwright_venv() {
    osa_pip_tool "playwright-$OSA_PLAYWRIGHT_VERSION" "playwright==$OSA_PLAYWRIGHT_VERSION"
}

# Schemathesis, the API fuzzer, and a validator of OpenAPI documents, pinned, in
# their own venv.
osa_schemathesis_venv() {
    osa_pip_tool "schemathesis-$OSA_SCHEMATHESIS_VERSION-validator-$OSA_OPENAPI_VALIDATOR_VERSION" \
        "schemathesis==$OSA_SCHEMATHESIS_VERSION" \
        "openapi-spec-validator==$OSA_OPENAPI_VALIDATOR_VERSION"
}
