# Shared by bench/*/run.sh (sourced): Debian tools installed when missing, a work dir removed on exit (with only the
# processes the bench recorded in it stopped), a Release build of weft and of the bench, and its results folder.

# bench_need COMMAND:PACKAGE ...
bench_need() {
  local missing=() pair
  for pair in "$@"; do
    command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
  done
  if ((${#missing[@]})); then
    echo "installing ${missing[*]} (Debian packages)" >&2
    apt-get install -y "${missing[@]}" >/dev/null
  fi
}

# bench_workdir NAME PROCESS-PATTERN: a fresh work dir in $work, removed on exit with the processes recorded in
# $work/pids (one PID a line) stopped, if they still match PROCESS-PATTERN.
bench_workdir() {
  work=$(mktemp -d "${TMPDIR:-/tmp}/weft-bench-$1.XXXXXX")
  bench_pattern=$2
  trap bench_cleanup EXIT
}

# bench_build_weft: a Release build of the weft CLI in $work/weft-bin (run it as dotnet "$work/weft-bin/weft.dll").
bench_build_weft() {
  echo "building weft (Release)..." >&2
  (cd "$repo" && dotnet build src/Weft.Cli -c Release -o "$work/weft-bin" -v quiet -nologo >&2)
}

# bench_run NAME PROCESS-PATTERN QUICK [bench args...]: builds, runs bench/Weft.Bench.<Name> with the weft build,
# tees its table into bench/<name>/results/<UTC time>/ next to its JSON.
bench_run() {
  local name=$1 pattern=$2 quick=$3
  shift 3
  bench_workdir "$name" "$pattern"

  cd "$repo"
  local project="Weft.Bench.${name^}"
  bench_build_weft
  dotnet build "bench/$project" -c Release -o "$work/bench-bin" -v quiet -nologo >&2
  # The Native AOT sidecar, as ./weft proxy runs it (.weft/aot/weft), measured beside the JIT one: with run.sh --aot,
  # or whenever it was built; published again first when it is older than the sources, so its row is never stale.
  local aot_state=missing
  if [[ $name == proxy ]]; then aot_state=$("$repo/src/Weft.ProxyHost/publish.sh" --status); fi
  if [[ $aot_state != current && ( -n "${BENCH_AOT:-}" || $aot_state == stale ) ]]; then
    echo "the Native AOT sidecar is $aot_state: publishing it (src/Weft.ProxyHost/publish.sh, minutes)..." >&2
    "$repo/src/Weft.ProxyHost/publish.sh" >&2
    aot_state=current
  fi
  if [[ $aot_state == current ]]; then
    echo "measuring the Native AOT sidecar .weft/aot/weft (built from $(cat "$repo/.weft/aot/.built"))" >&2
    set -- "$@" --weft-aot "$repo/.weft/aot/weft"
  fi

  local results
  results="bench/$name/results/$(date -u +%Y%m%dT%H%M%SZ)${quick:+-quick}"
  mkdir -p "$results"
  dotnet "$work/bench-bin/weft-bench-$name.dll" \
    --weft-dll "$work/weft-bin/weft.dll" --work-dir "$work" --results "$results/results.json" "$@" \
    | tee "$results/table.txt"
}

bench_cleanup() {
  # The bench stops what it starts; this catches what a crash left behind: only PIDs it recorded, and only if they
  # still are a process of ours (matching the bench's pattern), so a recycled PID is left alone.
  if [[ -f "$work/pids" ]]; then
    while read -r pid; do
      if [[ -r /proc/$pid/cmdline ]] && tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qE "$bench_pattern"; then
        kill -TERM "$pid" 2>/dev/null || true
      fi
    done <"$work/pids"
  fi
  rm -rf "$work"
  # A run.sh may leave more to remove (e.g. a baseline build) in bench_extra_dir.
  if [[ -n ${bench_extra_dir:-} ]]; then rm -rf "$bench_extra_dir"; fi
}
