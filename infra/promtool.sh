#!/usr/bin/env bash
# Runs promtool (Prometheus' checker) with the given arguments, e.g.
#   infra/promtool.sh check metrics < exposition.txt
# Installs it once into .tools/prometheus (git-ignored) from Debian's `prometheus`
# package (`apt-get download`, no root needed, nothing installed system-wide) if
# promtool is not on PATH.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v promtool >/dev/null 2>&1; then
    exec promtool "$@"
fi
DIR=".tools/prometheus"
BIN="$DIR/usr/bin/promtool"
if [[ ! -x "$BIN" ]]; then
    echo "promtool: installing Debian's prometheus package into $DIR" >&2
    rm -rf "$DIR" && mkdir -p "$DIR/deb"
    # A machine whose package lists were never fetched needs them first.
    (cd "$DIR/deb" && { apt-get download prometheus >/dev/null 2>&1 ||
        { apt-get update -qq >/dev/null && apt-get download prometheus >/dev/null; }; })
    dpkg-deb -x "$DIR"/deb/prometheus_*.deb "$DIR"
    rm -rf "$DIR/deb"
fi
exec "$BIN" "$@"
