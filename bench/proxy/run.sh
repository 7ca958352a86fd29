#!/usr/bin/env bash
# Proxy benchmark: builds Release, runs bench/Weft.Bench.Proxy against direct, HAProxy, nginx and weft proxy
# (one hop, two hops) on free loopback ports, prints a table, saves JSON under bench/proxy/results/.
# --quick: one short round of everything, a smoke run. --only http1|http2|fixed: one part, for development.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
extra=()
quick=""
while (($#)); do
  case "$1" in
    --quick) quick=1; extra+=(--quick) ;;
    --only) extra+=(--only "${2:?--only needs http1, http2 or fixed}"); shift ;;
    *) echo "usage: $0 [--quick] [--only http1|http2|fixed]" >&2; exit 2 ;;
  esac
  shift
done

# Debian packages: wrk (HTTP/1.1 load), nghttp2-client (h2load), haproxy and nginx (the references and the backend).
missing=()
for pair in wrk:wrk h2load:nghttp2-client haproxy:haproxy nginx:nginx; do
  command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
done
if ((${#missing[@]})); then
  echo "installing ${missing[*]} (Debian packages)" >&2
  apt-get install -y "${missing[@]}" >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-proxy.XXXXXX")
cleanup() {
  # The bench stops what it starts; this catches what a crash left behind: only PIDs it recorded, and only
  # if they still are a process of ours (weft, nginx, haproxy or a load tool), so a recycled PID is left alone.
  if [[ -f "$work/pids" ]]; then
    while read -r pid; do
      if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE 'weft\.dll|nginx|haproxy|wrk|h2load'; then
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
dotnet build bench/Weft.Bench.Proxy -c Release -o "$work/bench-bin" -v quiet -nologo >&2

results="bench/proxy/results/$(date -u +%Y%m%dT%H%M%SZ)${quick:+-quick}"
mkdir -p "$results"
dotnet "$work/bench-bin/weft-bench-proxy.dll" \
  --weft-dll "$work/weft-bin/weft.dll" --work-dir "$work" --results "$results/results.json" "${extra[@]}" \
  | tee "$results/table.txt"
