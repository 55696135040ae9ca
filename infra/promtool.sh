#!/usr/bin/env bash
# Runs promtool (Prometheus' checker) with the given arguments, e.g.
#   infra/promtool.sh check metrics < exposition.txt
# Uses promtool from PATH, else Debian's `prometheus` package unpacked into the
# tool cache (infra/tools.sh; `apt-get download`, no root needed, nothing
# installed system-wide) on first use.
set -euo pipefail
# shellcheck source=infra/tools.sh
source "$(dirname "$0")/tools.sh"
PROMTOOL="$(osa_promtool)"
exec "$PROMTOOL" "$@"
