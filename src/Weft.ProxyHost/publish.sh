#!/usr/bin/env bash
# Publishes the sidecar-only Native AOT `weft` (src/Weft.ProxyHost) to .weft/aot/weft, or to the directory given.
# Needs clang and lld (Debian: apt-get install clang lld); takes 5-15 minutes on 2 shared cores.
# Run it as: .weft/aot/weft proxy --server ... (the same flags as ./weft proxy).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$repo/.weft/aot}
for tool in clang ld.lld; do
  command -v "$tool" >/dev/null || { echo "publish.sh: $tool is missing (Debian: apt-get install clang lld)" >&2; exit 1; }
done
dotnet publish "$repo/src/Weft.ProxyHost" -c Release -r linux-x64 -p:PublishAot=true -o "$out" -v quiet -nologo
echo "published $out/weft ($(du -h "$out/weft" | cut -f1)); run: $out/weft proxy --help"
