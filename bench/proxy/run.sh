#!/usr/bin/env bash
# Proxy benchmark: builds Release, runs bench/Weft.Bench.Proxy against direct, HAProxy, nginx and weft proxy
# (one hop, two hops) on free loopback ports, prints a table, saves JSON under bench/proxy/results/.
# --quick: one short round of everything, a smoke run. --only http1|http2|fixed: one part, for development.
# --mtls: issue 4's comparison instead: two hops with mTLS vs plaintext, and two HAProxies over TLS 1.3.
#   With --knob 'NAME|SETTING;...' (repeatable), one more sidecar pair per knob, both ends started with it, as the
#   target "weft 2 hops: NAME" (A/B row against "weft 2 hops" in the goals table), e.g.
#   --mtls --only http1 --rounds 3 --targets 'haproxy 2 hops TLS;weft 2 hops;weft 2 hops: batch off' --knob 'batch off|WEFT_FAST_H2_BATCH=0'
# --knobs: runtime knobs instead: one-hop sidecars each started with one change (env var, runtimeconfig property or
#   a native build), alternating; --knob 'NAME|SETTING;...' (repeatable) replaces the default list; --rounds N.
#   With --only http2, the knobs run under h2c load (h2load) instead, e.g. --knob 'raw off|WEFT_DIRECT_RAW=0'.
#   'NAME|dll:DIR/weft.dll' runs another build (e.g. the commit before a change, built with
#   dotnet build src/Weft.Cli -c Release -o DIR) beside this one's, to compare two builds in one run.
# --targets 'direct;weft 2 hops': only the targets named (exact names as the tables print them), for a shorter run.
#   With --mtls, --only fixed runs the fixed-rate load over the mTLS comparison's targets.
# --aot: also publishes the Native AOT sidecar (src/Weft.ProxyHost) and adds the target "weft 1 hop (AOT)".
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
extra=()
quick=""
while (($#)); do
  case "$1" in
    --quick) quick=1; extra+=(--quick) ;;
    --mtls) extra+=(--mtls) ;;
    --knobs) extra+=(--knobs) ;;
    --aot) export BENCH_AOT=1 ;;
    --knob) extra+=(--knob "${2:?--knob needs NAME|VAR=VALUE;...}"); shift ;;
    --rounds) extra+=(--rounds "${2:?--rounds needs a number}"); shift ;;
    --only) extra+=(--only "${2:?--only needs http1, http2 or fixed}"); shift ;;
    --targets) extra+=(--targets "${2:?--targets needs NAME;NAME...}"); shift ;;
    *) echo "usage: $0 [--quick] [--mtls [--knob 'NAME|VAR=VALUE;...']...] [--knobs [--knob 'NAME|VAR=VALUE;...']... [--rounds N]] [--aot] [--only http1|http2|fixed] [--targets 'NAME;NAME...']" >&2; exit 2 ;;
  esac
  shift
done

source "$repo/bench/lib.sh"
# wrk (HTTP/1.1 load), h2load (nghttp2-client), haproxy and nginx (the references and the backend).
bench_need wrk:wrk h2load:nghttp2-client haproxy:haproxy nginx:nginx openssl:openssl
# Native AOT links with clang (and lld).
if [[ -n "${BENCH_AOT:-}" ]]; then bench_need clang:clang ld.lld:lld; fi
# A native (AOT) sidecar runs as ".../weft proxy ...", not under dotnet.
bench_run proxy 'weft\.dll|/weft proxy|nginx|haproxy|wrk|h2load' "$quick" "${extra[@]}"
