#!/usr/bin/env bash
# Registry benchmark: builds Release, runs bench/Weft.Bench.Registry against its own weft server(s) and nginx
# on free loopback ports, prints a table, saves JSON under bench/registry/results/. --quick: short smoke run.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
quick=()
case "${1:-}" in
  --quick) quick=(--quick) ;;
  "") ;;
  *) echo "usage: $0 [--quick]" >&2; exit 2 ;;
esac

source "$repo/bench/lib.sh"
bench_need wrk:wrk nginx:nginx
bench_run registry 'weft\.dll|nginx|wrk' "${quick[*]}" "${quick[@]}"
