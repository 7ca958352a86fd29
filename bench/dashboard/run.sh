#!/usr/bin/env bash
# Dashboard first-render benchmark: builds Release, runs bench/Weft.Bench.Dashboard against a `weft server` with ACLs on
# (the page is given the server's management token): registers 50 x 5 and then 500 x 10 instances with mixed check
# states through the Consul API, feeds sidecar stats over the proxy stream, loads /ui in Debian's headless Chromium
# (fresh context each time) and reads the page's data-first-render-ms and data-complete-render-ms beside the same data
# fetched by HttpClient alone; prints a table, saves JSON under bench/dashboard/results/.
#   --quick          the small mesh only, 3 loads, a smoke run
#   --baseline REV   also build weft at git revision REV (git archive, nothing checked out) and measure it in the same
#                    run, load by load alternating with this tree's build: an A/B of a dashboard change
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
args=()
quick=""
baseline=""
while (($#)); do
  case "$1" in
    --quick) quick=1; args+=(--quick) ;;
    --baseline) baseline=${2:?--baseline needs a git revision}; shift ;;
    *) echo "usage: $0 [--quick] [--baseline REV]" >&2; exit 2 ;;
  esac
  shift
done

source "$repo/bench/lib.sh"
bench_need chromium:chromium
if [[ -n $baseline ]]; then
  rev=$(git -C "$repo" rev-parse --short "$baseline")
  base=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-baseline.XXXXXX")
  bench_extra_dir=$base
  trap 'rm -rf "$base"' EXIT # until bench_run's cleanup takes over
  echo "building the baseline $rev (Release)..." >&2
  git -C "$repo" archive "$rev" | tar -x -C "$base"
  dotnet build "$base/src/Weft.Cli" -c Release -o "$base/bin" -v quiet -nologo >&2
  args+=(--baseline-weft-dll "$base/bin/weft.dll" --baseline-label "$rev")
fi
bench_run dashboard 'weft\.dll' "$quick" "${args[@]}"
