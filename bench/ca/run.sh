#!/usr/bin/env bash
# CA benchmark: builds Release, runs bench/Weft.Bench.Ca against a `weft server --dev-open` on free loopback ports:
# PUT /v1/connect/ca/sign latency (sequential, 16 concurrent) beside the HTTP floor and the crypto floor, and config
# push latency with and without 1,000 renewals; prints a table, saves JSON under bench/ca/results/.
# --quick: one short round of everything, a smoke run.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
quick=()
case "${1:-}" in
  --quick) quick=(--quick) ;;
  "") ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

source "$repo/bench/lib.sh"
bench_run ca 'weft\.dll' "${quick[*]}" "${quick[@]}"
