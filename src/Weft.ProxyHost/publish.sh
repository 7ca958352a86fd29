#!/usr/bin/env bash
# Publishes the sidecar-only Native AOT `weft` (src/Weft.ProxyHost) to .weft/aot/weft, or to the directory given, and
# stamps it (DIR/.built) so that `./weft proxy` runs it only while it matches the sources it was built from.
# Needs clang and lld (Debian: apt-get install clang lld); takes 1-3 minutes once restored, up to 15 on busy cores.
#
#   publish.sh [DIR]             publish (always)
#   publish.sh --if-stale [DIR]  publish only when DIR/weft is missing or older than the sources
#   publish.sh --status [DIR]    print "current", "missing" or "stale" and publish nothing
#
# "Older than the sources": a file the native build compiles (src/Weft.Core, src/Weft.Proxy, src/Weft.ProxyHost, the
# src/Weft.Cli files the csproj links, Directory.*.props) changed after the publish began. Run it as:
# .weft/aot/weft proxy --server ... (the same flags as ./weft proxy).
set -euo pipefail
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
mode=always
case "${1:-}" in
  --if-stale) mode=if-stale; shift ;;
  --status) mode=status; shift ;;
  -*) echo "usage: $0 [--if-stale|--status] [DIR]" >&2; exit 2 ;;
esac
out=${1:-$repo/.weft/aot}
stamp="$out/.built"

# The inputs of the native build: the projects it compiles and the files its csproj links from src/Weft.Cli.
inputs() {
  echo "$repo/src/Weft.Core" "$repo/src/Weft.Proxy" "$repo/src/Weft.ProxyHost" \
    "$repo/Directory.Build.props" "$repo/Directory.Packages.props"
  sed -n 's|.*<Compile Include="\.\./\([^"]*\)".*|\1|p' "$repo/src/Weft.ProxyHost/Weft.ProxyHost.csproj" |
    sed "s|^|$repo/src/|"
}

status() {
  if [ ! -x "$out/weft" ] || [ ! -f "$stamp" ]; then echo missing; return; fi
  # shellcheck disable=SC2046 # the inputs are paths without spaces under the repository
  if [ -n "$(find $(inputs) -newer "$stamp" \
      \( -name '*.cs' -o -name '*.csproj' -o -name '*.props' -o -name '*.targets' -o -name '*.json' -o -name '*.proto' \) \
      -not -path '*/obj/*' -not -path '*/bin/*' -print -quit)" ]; then
    echo stale
  else
    echo current
  fi
}

case $mode in
  status) status; exit 0 ;;
  if-stale) if [ "$(status)" = current ]; then echo "$out/weft is current (built from these sources); not publishing"; exit 0; fi ;;
esac

for tool in clang ld.lld; do
  command -v "$tool" >/dev/null || { echo "publish.sh: $tool is missing (Debian: apt-get install clang lld)" >&2; exit 1; }
done
case "$(uname -m)" in
  x86_64) rid=linux-x64 ;;
  aarch64 | arm64) rid=linux-arm64 ;;
  *) echo "publish.sh: no Native AOT runtime identifier for $(uname -m)" >&2; exit 1 ;;
esac

# Publish into a staging directory and rename into place: a sidecar running the old executable keeps its inode (no
# "text file busy"), and nothing ever sees a half-written weft. The stamp is taken before the publish starts, so a
# source saved during the publish makes the result stale rather than current.
mkdir -p "$out"
rm -f "$stamp"
staging="$out/.publishing"
rm -rf "$staging"
touch "$staging.t0"
start=$(date +%s)
if ! dotnet publish "$repo/src/Weft.ProxyHost" -c Release -r "$rid" -p:PublishAot=true -o "$staging" -v quiet -nologo; then
  rm -rf "$staging" "$staging.t0"
  echo "publish.sh: the Native AOT publish of src/Weft.ProxyHost failed (output above)" >&2
  exit 1
fi
for file in "$staging"/*; do mv -f "$file" "$out/"; done
rmdir "$staging"
described=$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)
echo "$described" >"$stamp.new"
touch -r "$staging.t0" "$stamp.new" # the time the publish began, not now
mv -f "$stamp.new" "$stamp"
rm -f "$staging.t0"
echo "published $out/weft ($(du -h "$out/weft" | cut -f1), $rid, from $described, in $(($(date +%s) - start)) s); run: $out/weft proxy --help"
