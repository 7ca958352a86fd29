#!/usr/bin/env bash
# Short alternating A/B of the server sidecar's CPU per request, two hops over mTLS: the inbound app client ("new")
# against the same build with WEFT_INBOUND_FAST=0 ("yarp", YARP's leg to the app). One control plane (--dev-open),
# one nginx backend, one client sidecar calling both server sidecars; ROUNDS (10) rounds of wrk -t1 -c50 -dSECS (4)
# per side, order alternating; prints req/s and ns of server-sidecar CPU per request for each, and the load average.
# Uses the Release build (dotnet build src/Weft.Cli -c Release first), or DLL=path/to/weft.dll.
set -u
repo=$(cd "$(dirname "$0")/../.." && pwd)
W=$(mktemp -d /tmp/weft-inbound-ab.XXXXXX); mkdir -p $W/ng/logs $W/data
trap 'rm -rf "$W"' EXIT
DLL=${DLL:-$repo/src/Weft.Cli/bin/Release/net10.0/weft.dll}
port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
ROUNDS=${ROUNDS:-8}; SECS=${SECS:-4}
NG=$(port); API=$(port); GRPC=$(port); NI=$(port); NO=$(port); NA=$(port); YI=$(port); YO=$(port); YA=$(port); CI=$(port); CO=$(port); CA=$(port)
cat > $W/ng/nginx.conf <<NG
worker_processes 1; daemon off; error_log $W/ng/error.log; pid $W/ng/nginx.pid;
events { worker_connections 1024; }
http { access_log off; keepalive_requests 10000000; keepalive_timeout 300s;
  server { listen 127.0.0.1:$NG; location / { return 200 "hello"; } } }
NG
pids=()
nginx -p $W/ng -c $W/ng/nginx.conf & pids+=($!)
dotnet $DLL server --dev-open --data-dir $W/data --http-addr 127.0.0.1:$API --grpc-addr 127.0.0.1:$GRPC --default-allow --log-level warn > $W/server.log 2>&1 & pids+=($!)
for i in $(seq 1 100); do curl -sf http://127.0.0.1:$API/v1/status/leader >/dev/null && break; sleep 0.3; done
side() { # name inbound outbound admin [env]
  env $5 dotnet $DLL proxy --server http://127.0.0.1:$API --service $1 --app-addr ${6:-127.0.0.1:$NG} --inbound-addr 127.0.0.1:$2 \
    --outbound-addr 127.0.0.1:$3 --admin-addr 127.0.0.1:$4 --log-level warn --drain-time 1s > $W/$1.log 2>&1 &
}
side be-new $NI $NO $NA "X=1"; NEW=$!; pids+=($NEW)
side be-yarp $YI $YO $YA "WEFT_INBOUND_FAST=0"; YARP=$!; pids+=($YARP)
side client $CI $CO $CA "X=1" 127.0.0.1:9; pids+=($!)
for p in $NA $YA $CA; do for i in $(seq 1 200); do curl -sf http://127.0.0.1:$p/ready >/dev/null && break; sleep 0.3; done; done
for i in $(seq 1 100); do curl -sf -H 'Host: be-new' http://127.0.0.1:$CO/ >/dev/null && curl -sf -H 'Host: be-yarp' http://127.0.0.1:$CO/ >/dev/null && break; sleep 0.3; done
for p in $NEW $YARP; do kill -0 $p 2>/dev/null || { echo "a server sidecar did not start (a port taken?); run again" >&2; for q in "${pids[@]}"; do kill $q 2>/dev/null; done; exit 1; }; done
ticks() { awk '{print $14+$15}' /proc/$1/stat; }
run() { # target pid secs -> "rps us/req"
  local b=$(ticks $2); local out=$(wrk -t1 -c50 -d${3}s -H "Host: be-$1" http://127.0.0.1:$CO/ 2>&1); local a=$(ticks $2)
  local n=$(echo "$out" | awk '/requests in/ {print $1}'); local rps=$(echo "$out" | awk '/Requests\/sec/ {print $2}')
  echo "$rps $(( (a-b) * 10000 * 1000 / n ))"  # ticks are 10 ms -> us/req *1000
}
run new $NEW 3 >/dev/null; run yarp $YARP 3 >/dev/null
echo "load $(cat /proc/loadavg)"
for r in $(seq 1 $ROUNDS); do
  if (( r % 2 )); then n=$(run new $NEW $SECS); y=$(run yarp $YARP $SECS); else y=$(run yarp $YARP $SECS); n=$(run new $NEW $SECS); fi
  echo "round $r new(rps ns/req) $n  yarp $y"
done
echo "load $(cat /proc/loadavg)"
for p in "${pids[@]}"; do kill $p 2>/dev/null; done; wait 2>/dev/null
