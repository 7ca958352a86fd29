#!/usr/bin/env bash
# Dashboard first-render benchmark: builds Release, runs bench/Weft.Bench.Dashboard against a `weft server` with ACLs on
# (the page is given the server's management token): registers 50 x 5 and then 500 x 10 instances with mixed check
# states through the Consul API, feeds sidecar stats over the proxy stream, loads /ui in Debian's headless Chromium
# (fresh context each time) and reads the page's data-first-render-ms beside the same data fetched by HttpClient alone;
# prints a table, saves JSON under bench/dashboard/results/.
# --quick: the small mesh only, 3 loads, a smoke run.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
quick=()
case "${1:-}" in
  --quick) quick=(--quick) ;;
  "") ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

source "$repo/bench/lib.sh"
bench_need chromium:chromium
bench_run dashboard 'weft\.dll' "${quick[*]}" "${quick[@]}"
