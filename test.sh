#!/usr/bin/env bash
# Runs Weft's test suite: every project in Weft.slnx, with real sockets, processes and SQLite files.
# Installs what the tests need from Debian when it is missing (as root; otherwise says what to install).
# Usage: ./test.sh [extra dotnet test arguments, e.g. --filter FullyQualifiedName~Blocking]
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
set -e

# One closing line for the whole suite, summed over the test assemblies.
passed=$(grep -oE 'Passed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
failed=$(grep -oE 'Failed: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
skipped=$(grep -oE 'Skipped: +[0-9]+' "$log" | awk '{s+=$2} END {print s+0}')
if [ "$status" -ne 0 ] && [ "$failed" -eq 0 ]; then failed=1; fi
echo
echo "$passed passed, $failed failed, $skipped skipped"
exit "$status"
