#!/usr/bin/env bash
# Where the sidecar's fast path spends its CPU: one backend nginx, one `weft server --dev-open`, one client sidecar
# (the bench's one-hop path: outbound listener, Host: backend, nginx registered without a sidecar), a bounded
# `wrk -t1 -c50` warm-up, then `perf record -F 999 -g` of the sidecar for 8 s under the same load, and
# bench/proxy/profile-classify.py's breakdown of the samples (kernel send/recv/epoll, thread pool, managed code by
# assembly, JIT). Also counts syscalls per request with perf's syscall tracepoints over a second load.
# --two-hops: the bench's "weft 2 hops" (--mtls) path instead: nginx behind a server sidecar (service backend-meshed,
# --app-addr nginx), a client sidecar whose outbound gets Host: backend-meshed, mTLS h2 between the two (the server's
# dev CA issues both certificates). Both sidecars are recorded by one perf during the same load, and everything is
# printed per sidecar: CPU per request, syscalls per request, the breakdown with the inclusive parts of the path, the
# top 40 symbols (self), samples by thread, GC and thread-pool work items per request (with dotnet-counters on the
# PATH or in ~/.dotnet/tools), and what shows that the hop is mTLS.
# --fixed: the two-hop path (as --two-hops) under the bench's fixed-rate load instead of wrk: 1,000 req/s open loop
# over 16 keep-alive connections (bench/Weft.Bench.Proxy --open-loop, the loader of the goal "added p99 < 1 ms"), with
# its latency percentiles, and each sidecar's context switches per request by thread (where the wake-ups go at low load).
# --h2: the one-hop path under the bench's HTTP/2 load instead (h2load -t1 -c10 -m10, h2c with prior knowledge from the
# client to the outbound listener; the sidecar speaks HTTP/1.1 to nginx).
# Usage: bench/proxy/profile.sh [--two-hops|--fixed|--h2] [BUILD_DIR] [VAR=VALUE ...]   (BUILD_DIR: a Release build of
# src/Weft.Cli; default: builds one into the temp dir). VAR=VALUE are set for the sidecar(s) only (e.g. WEFT_FAST_H2=0).
# Output: bench/proxy/results/profile-<UTC time>[-two-hops]/ (perf.data, the perf maps, breakdown.txt). Needs perf,
# wrk, nginx (and openssl for --two-hops).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
two_hops=""; h2=""; fixed=""
if [[ ${1:-} == --two-hops ]]; then two_hops=1; shift; elif [[ ${1:-} == --fixed ]]; then two_hops=1; fixed=1; shift; elif [[ ${1:-} == --h2 ]]; then h2=1; shift; fi
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
out="$repo/bench/proxy/results/profile-$(date -u +%Y%m%dT%H%M%SZ)${two_hops:+-two-hops}${fixed:+-fixed}${h2:+-h2}"
if [[ -n $fixed ]]; then
  echo "building the bench's loader (Release)..." >&2
  dotnet build "$repo/bench/Weft.Bench.Proxy" -c Release -o "$work/bench-bin" -v quiet -nologo >&2
fi
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
# sidecar NAME SERVICE APP INBOUND OUTBOUND ADMIN [VAR=VALUE...]: starts `weft proxy` as the bench does, its pid in $sidecar.
# W^X off: JIT'd code then lives in anonymous memory that the perf map names (with W^X it is a memfd perf cannot map).
sidecar() {
  local name=$1 service=$2 app=$3 in=$4 outb=$5 adm=$6
  shift 6
  env DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute=0 "$@" dotnet "$bin/weft.dll" proxy --server "http://127.0.0.1:$http" \
    --service "$service" --app-addr "$app" --inbound-addr "127.0.0.1:$in" --outbound-addr "127.0.0.1:$outb" \
    --admin-addr "127.0.0.1:$adm" --log-level warn --drain-time 1s >"$work/$name.log" 2>&1 & sidecar=$!; pids+=($sidecar)
}
# wait_for SECONDS COMMAND...: polls every 0.5 s until COMMAND succeeds; false at the deadline.
wait_for() { local deadline=$((SECONDS + $1)); shift; until "$@" >/dev/null 2>&1; do ((SECONDS < deadline)) || return 1; sleep 0.5; done; }
clusters_list() { curl -s "http://127.0.0.1:$1/clusters" | grep -q "127.0.0.1:$2"; }
if [[ -z $two_hops ]]; then
  host=backend
  curl -sf -X PUT -d "{\"ID\":\"backend-1\",\"Name\":\"backend\",\"Address\":\"127.0.0.1\",\"Port\":$backend}" \
    "http://127.0.0.1:$http/v1/agent/service/register" >/dev/null
  sidecar client client 127.0.0.1:1 "$inbound" "$outbound" "$admin" "$@"
  names=(sidecar); spids=($sidecar)
  wait_for 60 clusters_list "$admin" "$backend" || true
else
  # The bench's --mtls "weft 2 hops" (WeftMesh.cs): default flags on both sidecars, so the hop is Weft's own h2 client
  # and server over mTLS; the client's app address is a port nothing listens on.
  host=backend-meshed
  server_admin=$(port)
  sidecar server-sidecar "$host" "127.0.0.1:$backend" "$inbound" "$(port)" "$server_admin" "$@"
  server_pid=$sidecar
  wait_for 60 curl -sf "http://127.0.0.1:$server_admin/ready" || { echo "the server sidecar never got ready" >&2; cat "$work/server-sidecar.log" >&2; exit 1; }
  sidecar client-sidecar client "127.0.0.1:$(port)" "$(port)" "$outbound" "$admin" "$@"
  names=(client server); spids=($sidecar "$server_pid")
  wait_for 60 clusters_list "$admin" "$inbound" || { echo "the client sidecar never listed $host" >&2; cat "$work/client-sidecar.log" >&2; exit 1; }
fi
wait_for 30 curl -sf -H "Host: $host" "http://127.0.0.1:$outbound/" || { echo "no 200 through the sidecar(s)" >&2; exit 1; }
# load SECONDS: the closed-loop load; prints "N requests in" (wrk's wording, which the lines below read) for h2load too.
if [[ -n $fixed ]]; then
  load() { dotnet "$work/bench-bin/weft-bench-proxy.dll" --open-loop "http://127.0.0.1:$outbound/" "$host" 1000 "$1" 16; }
elif [[ -z $h2 ]]; then
  load() { wrk -t1 -c50 -d"$1"s -H "Host: $host" "http://127.0.0.1:$outbound/"; }
else
  load() {
    h2load -t1 -c10 -m10 -D"$1" -H ":authority: $host" "http://127.0.0.1:$outbound/" \
      | awk '/^requests:/ {print $8 " requests in (succeeded)"} /^finished in/ {print "Requests/sec: " $4} /^status codes:/ {print "Non-2xx: " $5+$7+$9}'
  }
fi
load 15 >/dev/null # warm-up: connection pools, tier-1 JIT
# switches PID: "tid|name|voluntary+involuntary context switches" per thread of PID.
switches() {
  local t
  for t in /proc/"$1"/task/*; do
    echo "${t##*/}|$(tr ' ' _ <"$t/comm")|$(awk '/ctxt_switches/ {n += $2} END {print n}' "$t/status")"
  done 2>/dev/null
}
ticks() { awk '{print $14+$15}' "/proc/$1/stat"; }
per_request() { python3 -c "print(round(($2-$1)*10000/$3,1))"; }  # clock ticks (1/100 s) -> µs per request
# mtls_proof: what shows that the hop between the sidecars is mTLS, printed with the breakdown.
mtls_proof() {
  local hello metrics='^weft_proxy_(inbound_h2_connections_total|tls_handshake_failures_total|certificate_expiry_seconds)'
  echo "mTLS between the sidecars:"
  echo "  the server sidecar's /metrics: $(server_metrics "$metrics")"
  hello=$(openssl s_client -connect "127.0.0.1:$inbound" -alpn h2 -servername "$host" </dev/null 2>&1 || true)
  echo "  client sidecar's banner: $(grep -h 'sidecar hop' "$work/client-sidecar.log" | sed 's/^ *//')"
  echo "  --insecure-plaintext-mesh warning in either log: $(cat "$work"/*-sidecar.log | grep -c 'insecure-plaintext-mesh' || true) (0: none)"
  echo "  the server sidecar's inbound $inbound to openssl s_client: $(grep -m1 -oE '(New|Reused), TLSv[0-9.]+, Cipher is [A-Z0-9_-]+' <<<"$hello"), ALPN $(grep -m1 -oE 'ALPN protocol: [^ ]+' <<<"$hello" | cut -d' ' -f3 || echo none)," \
    "asks for a client certificate: $(grep -qE 'Acceptable client certificate CA names|Requested Signature Algorithms|certificate required' <<<"$hello" && echo yes || echo no)"
  echo "  after that probe (it sent no certificate): $(server_metrics '^weft_proxy_tls_handshake_failures_total')"
}
# server_metrics PATTERN: the server sidecar's /metrics samples matching PATTERN, on one line, labels but "server" dropped.
server_metrics() {
  curl -s "http://127.0.0.1:$server_admin/metrics" | grep -E "$1" | sed -E 's/\{[^}]*server="([a-z]+)"[^}]*\}/[\1]/; s/\{[^}]*\}//' \
    | paste -sd';' | sed 's/;/, /g'
}
{
  echo "load average at start: $(cut -d' ' -f1-3 /proc/loadavg); sidecar${two_hops:+s}: $bin $*"
  for i in "${!spids[@]}"; do t0[i]=$(ticks "${spids[i]}"); done
  load 10 >"$work/wrk.txt" &
  wrk_pid=$!
  sleep 1
  perf record -F 999 -g -p "$(IFS=,; echo "${spids[*]}")" -o "$out/perf.data" -- sleep 8 2>/dev/null >/dev/null
  wait "$wrk_pid"
  for i in "${!spids[@]}"; do t1[i]=$(ticks "${spids[i]}"); done
  requests=$(awk '/requests in/ {print $1}' "$work/wrk.txt")
  [[ -z $fixed ]] || echo "open loop (perf running): $(grep 'requests in' "$work/wrk.txt")"
  if [[ -z $two_hops ]]; then
    echo "profiled load: $requests requests in 10 s, sidecar CPU $(per_request "${t0[0]}" "${t1[0]}" "$requests") µs per request (perf running)"
  else
    echo "profiled load: $requests requests in 10 s ($(awk '/Requests\/sec/ {print $2}' "$work/wrk.txt") req/s, non-2xx: $(awk '/Non-2xx/ {n = $NF} END {print n + 0}' "$work/wrk.txt")), CPU µs per request (perf running):" \
      "client sidecar $(per_request "${t0[0]}" "${t1[0]}" "$requests"), server sidecar $(per_request "${t0[1]}" "${t1[1]}" "$requests")," \
      "both $(per_request "$((t0[0] + t0[1]))" "$((t1[0] + t1[1]))" "$requests")"
  fi
  events=(-e syscalls:sys_enter_recvfrom -e syscalls:sys_exit_recvfrom --filter 'ret == -11' -e syscalls:sys_enter_sendto
    -e syscalls:sys_enter_epoll_wait -e syscalls:sys_enter_sched_yield -e syscalls:sys_enter_futex -e context-switches)
  [[ -z $two_hops ]] || events+=(-e syscalls:sys_enter_sendmsg -e syscalls:sys_enter_recvmsg -e syscalls:sys_enter_write -e syscalls:sys_enter_read)
  stat_pids=()
  for i in "${!spids[@]}"; do
    perf stat -x, "${events[@]}" -p "${spids[i]}" -o "$work/stat-$i.txt" -- sleep 5 & stat_pids+=($!)
  done
  [[ -z $fixed ]] || for i in "${!spids[@]}"; do switches "${spids[i]}" >"$work/switches-$i-before.txt"; done
  load 5 >"$work/wrk2.txt"
  [[ -z $fixed ]] || for i in "${!spids[@]}"; do switches "${spids[i]}" >"$work/switches-$i-after.txt"; done
  wait "${stat_pids[@]}"
  requests=$(awk '/requests in/ {print $1}' "$work/wrk2.txt")
  if [[ -n $fixed ]]; then
    echo "open loop (no perf): $(grep 'requests in' "$work/wrk2.txt")"
    for i in "${!spids[@]}"; do
      echo "context switches per request by thread, ${names[i]} sidecar (voluntary+involuntary, threads with any): $(join -t'|' \
        <(sort "$work/switches-$i-before.txt") <(sort "$work/switches-$i-after.txt") \
        | awk -F'|' -v n="$requests" '{d = $5 - $3; if (d > 0) { by[$2] += d } } END { for (t in by) printf "%s %.3f, ", t, by[t] / n }')"
    done
  fi
  for i in "${!spids[@]}"; do
    echo "per request${two_hops:+, ${names[i]} sidecar} (second load, $requests requests): $(grep -v '^#' "$work/stat-$i.txt" | awk -F, -v n="$requests" 'NF>2 {sub("syscalls:","",$3); printf "%s %.2f, ", $3, $1/n}')"
  done
  echo "(sys_exit_recvfrom counts only the receives that found nothing: EAGAIN)"
  if [[ -z $two_hops ]]; then
    perf script -i "$out/perf.data" 2>/dev/null | python3 "$repo/bench/proxy/profile-classify.py"
  else
    # GC and thread-pool counters per request over a third load, apart from the perf runs (dotnet-counters' event pipe makes syscalls of its own).
    counters=$(command -v dotnet-counters || ls "$HOME/.dotnet/tools/dotnet-counters" 2>/dev/null || true)
    if [[ -n $counters ]]; then
      for i in "${!spids[@]}"; do
        "$counters" collect -p "${spids[i]}" --counters System.Runtime --format csv --refresh-interval 1 --duration 00:00:06 \
          -o "$work/counters-$i.csv" >/dev/null 2>&1 & stat_pids[i]=$!
      done
      sleep 1; load 5 >"$work/wrk3.txt"; wait "${stat_pids[@]}" || true
      requests=$(awk '/requests in/ {print $1}' "$work/wrk3.txt")
      for i in "${!spids[@]}"; do
        echo "runtime counters per request, ${names[i]} sidecar (third load, $requests requests, dotnet-counters): $(python3 "$repo/bench/proxy/profile-counters.py" "$work/counters-$i.csv" "$requests")"
      done
    else
      echo "runtime counters (GC, thread pool) per request: not measured (no dotnet-counters; dotnet tool install -g dotnet-counters)"
    fi
    mtls_proof
    for i in "${!spids[@]}"; do
      echo "== ${names[i]} sidecar (pid ${spids[i]}):"
      # (perf report --pid drops samples here: the breakdown's own --top counts every sample of the pid.)
      perf script -i "$out/perf.data" --pid "${spids[i]}" 2>/dev/null | python3 "$repo/bench/proxy/profile-classify.py" --inclusive --top 40 \
        | cut -c1-220
    done
  fi
  echo "load average at end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$out/breakdown.txt"
for p in "${spids[@]}"; do cp "/tmp/perf-$p.map" "$out/" 2>/dev/null || true; done
echo "perf report -i $out/perf.data --no-children --sort sym (perf map${two_hops:+s}: $out/perf-PID.map, copy to /tmp to symbolize${two_hops:+; per sidecar: perf script -i ... --pid PID})"
