#!/usr/bin/env bash
# Runs Weft's test suite: every project in Weft.slnx, with real sockets, processes and SQLite files.
# Installs what the tests need from Debian when it is missing (as root; otherwise says what to install).
# Usage: ./test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Blocking]
# Without arguments it then publishes the Native AOT sidecar (src/Weft.ProxyHost/publish.sh, skipped when .weft/aot/weft
# is current) and runs the sidecar-process end-to-end tests once more against it (WEFT_PROXY_EXE), so a regression that
# only the native build has (trimming, reflection) fails the suite. WEFT_TEST_NATIVE=0 skips that pass, =1 forces it.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
cd "$root"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

# Debian packages the tests drive for real: python3-consul, an existing Consul client library that
# must work against weft server unchanged.
missing=()
/usr/bin/python3 -c 'import consul' >/dev/null 2>&1 || missing+=(python3-consul)
# The dashboard tests drive Debian's headless Chromium through Playwright (no browser download).
[ -x /usr/bin/chromium ] || missing+=(chromium)
# The metrics tests lint with promtool and scrape with a real Prometheus.
[ -x /usr/bin/prometheus ] && command -v promtool >/dev/null || missing+=(prometheus)
# The own HTTP/2 server's interop tests run nghttp and curl against it.
command -v nghttp >/dev/null || missing+=(nghttp2-client)
command -v curl >/dev/null || missing+=(curl)
# The native sidecar pass: Native AOT links with clang and lld.
native=1
[ $# -eq 0 ] || native=0
case ${WEFT_TEST_NATIVE:-} in 0) native=0 ;; 1) native=1 ;; esac
if [ "$native" = 1 ]; then
  command -v clang >/dev/null || missing+=(clang)
  command -v ld.lld >/dev/null || missing+=(lld)
fi
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "test.sh: installing ${missing[*]} from Debian..." >&2
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  else
    echo "test.sh: the tests need: ${missing[*]} (sudo apt-get install ${missing[*]})" >&2
    exit 2
  fi
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
set +e
dotnet test Weft.slnx -c Release "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}

# The end-to-end tests that start `weft proxy` processes, against the native sidecar this time.
native_tests="Category=SidecarProcess|FullyQualifiedName~ProxyProcessTests|FullyQualifiedName~ServiceTokenProxyTests"
native_summary=""
publish_failed=0
if [ "$native" = 1 ]; then
  echo
  echo "== the Native AOT sidecar: publish (src/Weft.ProxyHost/publish.sh --if-stale), then its end-to-end tests"
  started=$(date +%s)
  if ! src/Weft.ProxyHost/publish.sh --if-stale; then
    echo "test.sh: FAILED: the Native AOT publish of the sidecar failed (output above); WEFT_TEST_NATIVE=0 ./test.sh skips it" >&2
    native_summary="native sidecar: publish FAILED"
    publish_failed=1
    status=1
  else
    published=$(date +%s)
    WEFT_PROXY_EXE="$root/.weft/aot/weft" dotnet test tests/Weft.EndToEnd/Weft.EndToEnd.csproj -c Release --no-build \
      --filter "$native_tests" 2>&1 | tee -a "$log"
    native_status=${PIPESTATUS[0]}
    [ "$native_status" -eq 0 ] || status=$native_status
    native_summary="native sidecar (WEFT_PROXY_EXE=.weft/aot/weft): publish $((published - started)) s, its tests $(($(date +%s) - published)) s"
  fi
fi
set -e

# One closing line for the whole suite, summed over the test assemblies.
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$((failed + publish_failed)) # the publish counts as one failed test
skipped=$(grep -oE 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo
[ -z "$native_summary" ] || echo "$native_summary"
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
