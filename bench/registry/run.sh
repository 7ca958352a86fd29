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

for tool in wrk nginx; do
  if ! command -v "$tool" >/dev/null; then
    echo "installing $tool (Debian package)" >&2
    apt-get install -y "$tool" >/dev/null
  fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-registry.XXXXXX")
cleanup() {
  # The bench stops what it starts; this catches what a crash left behind: only PIDs it recorded, and only
  # if they still are a process of ours (weft, nginx or wrk), so a recycled PID is left alone.
  if [[ -f "$work/pids" ]]; then
    while read -r pid; do
      if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE 'weft\.dll|nginx|wrk'; then
        kill -TERM "$pid" 2>/dev/null || true
      fi
    done <"$work/pids"
  fi
  rm -rf "$work"
}
trap cleanup EXIT

cd "$repo"
echo "building (Release)..." >&2
dotnet build src/Weft.Cli -c Release -o "$work/weft-bin" -v quiet -nologo >&2
dotnet build bench/Weft.Bench.Registry -c Release -o "$work/bench-bin" -v quiet -nologo >&2

results="bench/registry/results/$(date -u +%Y%m%dT%H%M%SZ)${quick:+-quick}"
mkdir -p "$results"
dotnet "$work/bench-bin/weft-bench-registry.dll" \
  --weft-dll "$work/weft-bin/weft.dll" --work-dir "$work" --results "$results/results.json" "${quick[@]}" \
  | tee "$results/table.txt"
