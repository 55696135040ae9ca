#!/usr/bin/env bash
# shellcheck shell=bash
# Starts a local AWS-compatible endpoint (moto server) for the AWS adapter tests.
#
#   source infra/moto.sh    # from the repository root, or from any script
#   cargo test
#
# Sourcing it: takes the pinned `moto[server]` from the tool cache (infra/tools.sh;
# installed from PyPI on first use), starts moto's server on a free loopback port,
# waits until it answers, and exports OSA_TEST_AWS_ENDPOINT, AWS_ENDPOINT_URL and
# dummy credentials and region. moto is stopped when the sourcing shell exits (an EXIT trap, chained to any EXIT
# trap already set; and moto stops by itself if that shell is killed outright).
# Call `osa_moto_stop` to stop it sooner.
#
# Run directly (`./infra/moto.sh`), it starts moto, prints the exports and waits
# until interrupted: handy for running single tests from another terminal.
#
# OSA_MOTO_PORT picks the port instead of a free one; OSA_MOTO_LOG the log file
# (default: a temporary file, removed when moto stops).

# shellcheck source=infra/tools.sh
source "$(dirname "${BASH_SOURCE[0]}")/tools.sh"

# `moto_server`, with one change: DynamoDB requests are served one at a time. moto's
# DynamoDB is not thread-safe under its threaded server: TransactWriteItems snapshots
# whole tables and restores the snapshot when a condition fails, wiping writes other
# threads made meanwhile, and a conditional write's check and write can interleave.
# Real DynamoDB is linearizable per item, so concurrency tests need this. Everything
# else (SQS long polls included) stays concurrent.
_OSA_MOTO_SERVER='
import os, sys, threading, time
from werkzeug.serving import run_simple
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication, MotoRequestHandler, create_backend_app)

app = DomainDispatcherApplication(create_backend_app)
dynamodb = threading.Lock()

def serve(environ, start_response):
    if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB_"):
        with dynamodb:
            return list(app(environ, start_response))
    return app(environ, start_response)

def orphaned(parent=os.getppid()):
    # The shell that started us is gone (even killed outright): stop too.
    while os.getppid() == parent:
        time.sleep(1)
    os._exit(0)

threading.Thread(target=orphaned, daemon=True).start()
run_simple("127.0.0.1", int(sys.argv[1]), serve, threaded=True,
           request_handler=MotoRequestHandler)
'

osa_moto_start() {
    local venv port log pid i
    venv="$(osa_moto_venv)" || return 1

    port="${OSA_MOTO_PORT:-}"
    if [ -z "$port" ]; then
        port="$("$venv/bin/python" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])')" || return 1
    fi
    if [ -n "${OSA_MOTO_LOG:-}" ]; then
        log="$OSA_MOTO_LOG"
    else
        log="$(mktemp "${TMPDIR:-/tmp}/osa-moto-$port.XXXXXX")" || return 1
        _OSA_MOTO_TEMP_LOG="$log"
    fi
    MOTO_PORT="$port" "$venv/bin/python" -c "$_OSA_MOTO_SERVER" "$port" >"$log" 2>&1 &
    pid=$!
    OSA_MOTO_PID=$pid

    # Up to 30 s for it to answer; give up early if it died (say, the port was taken).
    for i in $(seq 1 150); do
        if ! kill -0 "$pid" 2>/dev/null; then
            echo "moto.sh: moto_server exited; its log ($log):" >&2
            tail -n 20 "$log" >&2
            unset OSA_MOTO_PID _OSA_MOTO_TEMP_LOG
            return 1
        fi
        if "$venv/bin/python" -c "import urllib.request, sys
urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" >/dev/null 2>&1; then
            break
        fi
        if [ "$i" -eq 150 ]; then
            echo "moto.sh: moto_server did not answer on 127.0.0.1:$port within 30 s" >&2
            osa_moto_stop
            return 1
        fi
        sleep 0.2
    done

    export OSA_TEST_AWS_ENDPOINT="http://127.0.0.1:$port"
    export AWS_ENDPOINT_URL="$OSA_TEST_AWS_ENDPOINT"
    export AWS_ACCESS_KEY_ID=test
    export AWS_SECRET_ACCESS_KEY=test
    export AWS_REGION=us-east-1
    export AWS_DEFAULT_REGION=us-east-1
    # Never read the developer's own profile or IMDS while testing.
    export AWS_CONFIG_FILE=/dev/null
    export AWS_SHARED_CREDENTIALS_FILE=/dev/null
    export AWS_EC2_METADATA_DISABLED=true
    echo "moto.sh: moto $OSA_MOTO_VERSION (pid $pid) at $OSA_TEST_AWS_ENDPOINT" >&2
}

osa_moto_stop() {
    if [ -n "${OSA_MOTO_PID:-}" ]; then
        kill "$OSA_MOTO_PID" 2>/dev/null || true
        wait "$OSA_MOTO_PID" 2>/dev/null || true
        unset OSA_MOTO_PID
    fi
    if [ -n "${_OSA_MOTO_TEMP_LOG:-}" ]; then
        rm -f "$_OSA_MOTO_TEMP_LOG"
        unset _OSA_MOTO_TEMP_LOG
    fi
}

if [ "${BASH_SOURCE[0]}" != "$0" ]; then
    # Sourced: start, and stop on exit after whatever EXIT trap was already set.
    osa_moto_start || return 1
    # `trap -p EXIT` prints `trap -- '<command>' EXIT`, quoted for the shell: let the
    # shell unquote it and take the third word.
    _osa_moto_third() { printf '%s' "${3:-}"; }
    _osa_moto_prev_trap="$(eval "_osa_moto_third $(trap -p EXIT)")"
    # shellcheck disable=SC2064
    trap "osa_moto_stop; ${_osa_moto_prev_trap:-:}" EXIT
    # Interrupted: exit, so that the EXIT trap runs (unless the caller has its own).
    [ -n "$(trap -p INT)" ] || trap 'exit 130' INT
    [ -n "$(trap -p TERM)" ] || trap 'exit 143' TERM
else
    set -euo pipefail
    osa_moto_start
    trap osa_moto_stop EXIT
    trap 'exit 130' INT TERM
    cat <<EOF
export OSA_TEST_AWS_ENDPOINT=$OSA_TEST_AWS_ENDPOINT
export AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL
export AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_REGION=us-east-1
EOF
    echo "moto.sh: Ctrl-C to stop" >&2
    wait "$OSA_MOTO_PID"
fi
