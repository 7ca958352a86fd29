#!/usr/bin/env bash
# Where the sidecar's fast path spends its CPU: one backend nginx, one `weft server --dev-open`, one client sidecar
# (the bench's one-hop path: outbound listener, Host: backend, nginx registered without a sidecar), a bounded
# `wrk -t1 -c50` warm-up, then `perf record -F 999 -g` of the sidecar for 8 s under the same load, and
# bench/proxy/profile-classify.py's breakdown of the samples (kernel send/recv/epoll, thread pool, managed code by
# assembly, JIT). Also counts syscalls per request with perf's syscall tracepoints over a second load.
# Usage: bench/proxy/profile.sh [BUILD_DIR] [VAR=VALUE ...]   (BUILD_DIR: a Release build of src/Weft.Cli; default:
# builds one into the temp dir). VAR=VALUE are set for the sidecar only (e.g. WEFT_FAST_PATH_INLINE=0).
# Output: bench/proxy/results/profile-<UTC time>/ (perf.data, the perf map, breakdown.txt). Needs perf, wrk, nginx.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/weft-profile.XXXXXX")
pids=()
cleanup() { for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done; wait "${pids[@]}" 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
bin=${1:-}
if [[ $# -gt 0 && $bin != *=* ]]; then shift; else bin=""; fi  # an empty first argument means "build one"
if [[ -z $bin ]]; then
  echo "building (Release)..." >&2
  dotnet build "$repo/src/Weft.Cli" -c Release -o "$work/weft-bin" -v quiet -nologo >&2
  bin=$work/weft-bin
fi
out="$repo/bench/proxy/results/profile-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
backend=$(port); http=$(port); grpc=$(port); outbound=$(port); admin=$(port); inbound=$(port)
mkdir -p "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<CONF
$([[ $(id -u) == 0 ]] && echo "user root;")
worker_processes 1; daemon off; pid $work/nginx/nginx.pid; error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http { access_log off; keepalive_requests 10000000; keepalive_timeout 300s;
  client_body_temp_path $work/nginx/tmp/b; proxy_temp_path $work/nginx/tmp/p; fastcgi_temp_path $work/nginx/tmp/f;
  uwsgi_temp_path $work/nginx/tmp/u; scgi_temp_path $work/nginx/tmp/s;
  server { listen 127.0.0.1:$backend; location / { default_type text/plain; return 200 "hello"; } } }
CONF
nginx -p "$work/nginx/" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log" & pids+=($!)
dotnet "$bin/weft.dll" server --dev-open --data-dir "$work/data" --http-addr "127.0.0.1:$http" --grpc-addr "127.0.0.1:$grpc" \
  --log-level warn --node-name profile --default-allow >"$work/server.log" 2>&1 & pids+=($!)
for _ in $(seq 1 120); do curl -sf "http://127.0.0.1:$http/v1/status/leader" >/dev/null && break; sleep 0.5; done
curl -sf -X PUT -d "{\"ID\":\"backend-1\",\"Name\":\"backend\",\"Address\":\"127.0.0.1\",\"Port\":$backend}" \
  "http://127.0.0.1:$http/v1/agent/service/register" >/dev/null
# W^X off: JIT'd code then lives in anonymous memory that the perf map names (with W^X it is a memfd perf cannot map).
env DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 "$@" dotnet "$bin/weft.dll" proxy --server "http://127.0.0.1:$http" \
  --service client --app-addr 127.0.0.1:1 --inbound-addr "127.0.0.1:$inbound" --outbound-addr "127.0.0.1:$outbound" \
  --admin-addr "127.0.0.1:$admin" --log-level warn --drain-time 1s >"$work/proxy.log" 2>&1 & sidecar=$!; pids+=($sidecar)
for _ in $(seq 1 120); do curl -s "http://127.0.0.1:$admin/clusters" 2>/dev/null | grep -q "127.0.0.1:$backend" && break; sleep 0.5; done
load() { wrk -t1 -c50 -d"$1"s -H 'Host: backend' "http://127.0.0.1:$outbound/"; }
load 15 >/dev/null # warm-up: connection pools, tier-1 JIT
ticks() { awk '{print $14+$15}' "/proc/$sidecar/stat"; }
{
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); sidecar: $bin $*"
  t0=$(ticks)
  load 10 >"$work/wrk.txt" &
  wrk_pid=$!
  sleep 1
  perf record -F 999 -g -p "$sidecar" -o "$out/perf.data" -- sleep 8 2>/dev/null >/dev/null
  wait "$wrk_pid"
  t1=$(ticks)
  requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  echo "profiled load: $requests requests in 10 s, sidecar CPU $(python3 -c "print(round(($t1-$t0)*10000/$requests,1))") µs per request (perf running)"
  perf stat -x, -e syscalls:sys_enter_recvfrom -e syscalls:sys_exit_recvfrom --filter 'ret == -11' -e syscalls:sys_enter_sendto \
    -e syscalls:sys_enter_epoll_wait -e syscalls:sys_enter_sched_yield -e syscalls:sys_enter_futex -e context-switches \
    -p "$sidecar" -o "$work/stat.txt" -- sleep 5 &
  stat_pid=$!
  load 5 >"$work/wrk2.txt"
  wait "$stat_pid"
  requests=$(awk '/requests in/ {print $1}' "$work/wrk2.txt")
  echo "per request (second load, $requests requests): $(grep -v '^#' "$work/stat.txt" | awk -F, -v n="$requests" 'NF>2 {sub("syscalls:","",$3); printf "%s %.2f, ", $3, $1/n}')"
  echo "(sys_exit_recvfrom counts only the receives that found nothing: EAGAIN)"
  perf script -i "$out/perf.data" 2>/dev/null | python3 "$repo/bench/proxy/profile-classify.py"
  echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/breakdown.txt"
cp "/tmp/perf-$sidecar.map" "$out/" 2>/dev/null || true
echo "perf report -i $out/perf.data --no-children --sort sym (perf map: $out/perf-$sidecar.map, copy it to /tmp to symbolize)"
