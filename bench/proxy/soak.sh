#!/usr/bin/env bash
# Soak: the default sidecar pair (Weft's own HTTP/2 client and server over mTLS) under bounded constant load through
# certificate renewals and a root rotation. A control plane with short-lived leaves (--leaf-ttl, default 2m), a server
# sidecar in front of nginx, a client sidecar; wrk -c20 through the client sidecar for --minutes N (default 20), one
# minute at a time; `weft ca rotate` at one third of the run. Every minute: req/s, non-2xx, socket errors, both
# sidecars' RSS, the server sidecar's certificate expiry (it jumps at a renewal) and which server took the hop's
# connections. At the end one summary line. Not a pass/fail test: read the numbers (bench/proxy/README.md).
# Usage: bench/proxy/soak.sh [--minutes N] [--leaf-ttl DURATION] [--connections C]
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
minutes=20
leaf_ttl=2m
connections=20
while (($#)); do
  case "$1" in
    --minutes) minutes=${2:?--minutes needs a number}; shift ;;
    --leaf-ttl) leaf_ttl=${2:?--leaf-ttl needs a Go duration}; shift ;;
    --connections) connections=${2:?--connections needs a number}; shift ;;
    *) echo "usage: $0 [--minutes N] [--leaf-ttl DURATION] [--connections C]" >&2; exit 2 ;;
  esac
  shift
done
[[ $minutes =~ ^[1-9][0-9]*$ ]] || { echo "--minutes: a whole number of minutes, at least 1" >&2; exit 2; }

source "$repo/bench/lib.sh"
bench_need wrk:wrk nginx:nginx curl:curl
bench_workdir soak 'weft\.dll|nginx|wrk'
bench_build_weft
weft=(dotnet "$work/weft-bin/weft.dll")

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'; }

# wait_until WHAT SECONDS COMMAND...: polls COMMAND every 0.2 s until it succeeds, or fails the script.
wait_until() {
  local what=$1 seconds=$2
  shift 2
  local deadline=$((SECONDS + seconds))
  until "$@" >/dev/null 2>&1; do
    if ((SECONDS >= deadline)); then echo "soak: timed out after ${seconds}s waiting for $what (logs in $work)" >&2; exit 1; fi
    sleep 0.2
  done
}

# start NAME COMMAND...: runs COMMAND in the background, logs to $work/NAME.log, records its PID for the cleanup.
start() {
  local name=$1
  shift
  "$@" >"$work/$name.log" 2>&1 &
  echo $! >>"$work/pids"
  eval "${name//-/_}_pid=$!"
}

rss_mib() { awk '/^VmRSS:/ { printf "%.0f", $2 / 1024 }' "/proc/$1/status" 2>/dev/null || echo "?"; }

# metric ADMIN-PORT NAME-AND-LABELS: one sample's value from a sidecar's /metrics (0 when absent).
metric() {
  curl -fsS "http://127.0.0.1:$1/metrics" | awk -v want="$2" '!found && index($0, want) == 1 { print $NF; found = 1 } END { if (!found) print 0 }'
}

# The backend: nginx with one worker answering 200 "hello", as the proxy benchmark's (Backend.cs).
backend_port=$(free_port)
mkdir -p "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<EOF
$([[ $(id -u) == 0 ]] && echo "user root;")
worker_processes 1;
daemon off;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_temp_path $work/nginx/tmp/body;
    proxy_temp_path $work/nginx/tmp/proxy;
    fastcgi_temp_path $work/nginx/tmp/fastcgi;
    uwsgi_temp_path $work/nginx/tmp/uwsgi;
    scgi_temp_path $work/nginx/tmp/scgi;
    server {
        listen 127.0.0.1:$backend_port;
        location / { default_type text/plain; return 200 "hello"; }
    }
}
EOF
start nginx nginx -p "$work/nginx/" -c "$work/nginx/nginx.conf" -e "$work/nginx/error.log"
wait_until "nginx on $backend_port" 15 curl -fsS "http://127.0.0.1:$backend_port/"

http_port=$(free_port)
api="127.0.0.1:$http_port"
start server "${weft[@]}" server --dev-open --default-allow --data-dir "$work/weft-data" --http-addr "$api" \
  --grpc-addr "127.0.0.1:$(free_port)" --node-name soak --leaf-ttl "$leaf_ttl" --log-level warn
wait_until "the control plane on $api" 60 curl -fsS "http://$api/v1/status/leader"

server_inbound=$(free_port) server_admin=$(free_port) client_outbound=$(free_port) client_admin=$(free_port)
start server-sidecar "${weft[@]}" proxy --server "http://$api" --service soak-backend --app-addr "127.0.0.1:$backend_port" \
  --inbound-addr "127.0.0.1:$server_inbound" --outbound-addr "127.0.0.1:$(free_port)" --admin-addr "127.0.0.1:$server_admin" \
  --log-level warn --drain-time 1s
wait_until "the server sidecar's /ready" 60 curl -fsS "http://127.0.0.1:$server_admin/ready"
start client-sidecar "${weft[@]}" proxy --server "http://$api" --service soak-client --app-addr "127.0.0.1:$(free_port)" \
  --inbound-addr "127.0.0.1:$(free_port)" --outbound-addr "127.0.0.1:$client_outbound" --admin-addr "127.0.0.1:$client_admin" \
  --log-level warn --drain-time 1s
wait_until "the client sidecar's /ready" 60 curl -fsS "http://127.0.0.1:$client_admin/ready"
target="http://127.0.0.1:$client_outbound/"
wait_until "a 200 through both sidecars" 60 curl -fsS -H "Host: soak-backend" "$target"
grep -h "sidecar hop" "$work/server-sidecar.log" "$work/client-sidecar.log" | sed 's/^ */soak: /' || true

rotate_at=$((minutes * 60 / 3))
total=0 failures=0 rss_first="" rss_last=""
echo "soak: ${minutes} min of wrk -c$connections through the pair, leaves of $leaf_ttl, ca rotate at ${rotate_at}s"
printf '%-4s %10s %8s %8s %22s %11s %11s %10s %14s\n' min req/s non-2xx sock-err "socket errors c/r/w/t" "client RSS" "server RSS" "cert left" "h2 weft/kest"
for ((m = 0; m < minutes; m++)); do
  wrk -t2 -c"$connections" -d60s -H "Host: soak-backend" "$target" >"$work/wrk-$m.txt" 2>&1 &
  wrk_pid=$!
  echo $wrk_pid >>"$work/pids"
  if ((rotate_at >= m * 60 && rotate_at < (m + 1) * 60)); then
    sleep $((rotate_at - m * 60))
    echo "soak: $(date -u +%T) ca rotate: $("${weft[@]}" ca rotate --http-addr "$api" 2>&1 | head -1)"
  fi
  wait "$wrk_pid"
  out=$(cat "$work/wrk-$m.txt")
  requests=$(awk '/requests in/ { print $1 }' <<<"$out")
  rps=$(awk '/^Requests\/sec:/ { printf "%.0f", $2 }' <<<"$out")
  non2xx=$(awk '/Non-2xx or 3xx responses:/ { print $NF }' <<<"$out")
  sockets=$(awk -F'[ ,]+' '/Socket errors:/ { printf "%d/%d/%d/%d", $5, $7, $9, $11 }' <<<"$out")
  socket_total=$(awk -F/ '{ print $1 + $2 + $3 + $4 }' <<<"${sockets:-0/0/0/0}")
  rss="$(rss_mib "$client_sidecar_pid")/$(rss_mib "$server_sidecar_pid")"
  [[ -n $rss_first ]] || rss_first=$rss
  rss_last=$rss
  total=$((total + ${requests:-0}))
  failures=$((failures + ${non2xx:-0} + socket_total))
  expiry=$(metric "$server_admin" 'weft_proxy_certificate_expiry_seconds')
  own=$(metric "$server_admin" 'weft_proxy_inbound_h2_connections_total{service="soak-backend",server="weft"}')
  kestrel=$(metric "$server_admin" 'weft_proxy_inbound_h2_connections_total{service="soak-backend",server="kestrel"}')
  printf '%-4s %10s %8s %8s %22s %7s MiB %7s MiB %9.0fs %14s\n' $((m + 1)) "${rps:-?}" "${non2xx:-0}" "$socket_total" "${sockets:-0/0/0/0}" \
    "${rss%%/*}" "${rss##*/}" "$expiry" "$own/$kestrel"
done
echo "soak: summary: $minutes min, $total requests, $failures failures (non-2xx + socket errors), RSS client/server MiB first minute $rss_first, last minute $rss_last"
