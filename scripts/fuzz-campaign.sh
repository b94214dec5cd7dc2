#!/usr/bin/env bash
# Runs every libFuzzer target of the fuzz preset for a fixed time each, one at a time (-j1:
# the fuzzers compete with everything else for the cores), and prints a Markdown table of
# run time, executions, coverage and crashes per target (docs/hardening.md keeps the last
# one).
#
#   scripts/fuzz-campaign.sh [-t SECONDS] [-b BUILD_DIR] [-o OUT_DIR] [--merge] [TARGET...]
#
#   -t SECONDS   time per target (default 60, or $ITX_FUZZ_SECONDS)
#   -b DIR       the fuzz build (default build/fuzz; configured and built when missing)
#   -o DIR       where the work corpora, logs and crash artifacts go (default
#                build/fuzz-campaign); the checked-in corpora are only read
#   --merge      afterwards, merge what each target found into fuzz/corpus/TARGET
#                (libFuzzer -merge=1 keeps only inputs that add coverage)
#   TARGET       names like server-request (default: every fuzz-* binary of the build)
#
# Exit status: 0 when no target crashed, 1 otherwise. A crash leaves its input in
# OUT_DIR/artifacts/ (crash-*, leak-*, timeout-*, oom-*); fix the bug, add the input to
# fuzz/corpus/TARGET so the ctest replay keeps it fixed.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD

secs=${ITX_FUZZ_SECONDS:-60}
build=build/fuzz
out=build/fuzz-campaign
merge=0
targets=()
while [ $# -gt 0 ]; do
  case "$1" in
    -t) secs=$2; shift 2 ;;
    -b) build=$2; shift 2 ;;
    -o) out=$2; shift 2 ;;
    --merge) merge=1; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    -*) echo "fuzz-campaign: unknown option '$1'" >&2; exit 2 ;;
    *) targets+=("$1"); shift ;;
  esac
done
case "$secs" in ''|*[!0-9]*) echo "fuzz-campaign: -t '$secs' is not a number of seconds" >&2; exit 2 ;; esac

if [ ! -f "$build/build.ninja" ]; then
  cmake --preset fuzz -B "$build" >/dev/null
fi
if [ ${#targets[@]} -eq 0 ]; then
  # Every libFuzzer binary the build defines (not the corpus replays, not the tests).
  while read -r n; do targets+=("${n#fuzz-}"); done < <(
    ninja -C "$build" -t targets all | sed -n 's/^\(fuzz-[a-z0-9-]*\): .*/\1/p' |
      grep -v -- '-replay$' | sort -u)
fi
[ ${#targets[@]} -gt 0 ] || { echo "fuzz-campaign: no fuzz targets in $build" >&2; exit 2; }
cmake --build "$build" -j "${ITX_JOBS:-2}" --target "${targets[@]/#/fuzz-}" >/dev/null

export ITX_MODELS_DIR=${ITX_MODELS_DIR:-$REPO/models}
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
mkdir -p "$out/artifacts" "$out/logs" "$out/corpus"
table="$out/table.md"
{
  echo "| target | seconds | executions | exec/s | cov (edges) | features | corpus in -> out | crashes |"
  echo "|---|---:|---:|---:|---:|---:|---:|---:|"
} >"$table"

failed=0
for t in "${targets[@]}"; do
  bin="$build/fuzz/fuzz-$t"
  seed="$REPO/fuzz/corpus/$t"
  work="$out/corpus/$t"
  log="$out/logs/$t.log"
  [ -x "$bin" ] || { echo "fuzz-campaign: no binary $bin" >&2; failed=1; continue; }
  mkdir -p "$work" "$seed"
  n_in=$(find "$seed" -type f | wc -l)
  start=$(date +%s)
  rc=0
  # New inputs go to the work corpus (the first directory); the checked-in one is read only.
  "$bin" -max_total_time="$secs" -print_final_stats=1 -timeout=20 -rss_limit_mb=4096 \
    -artifact_prefix="$out/artifacts/$t-" "$work" "$seed" >"$log" 2>&1 || rc=$?
  took=$(( $(date +%s) - start ))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  # The last status line ("#N DONE cov: X ft: Y corp: ...", or the last pulse before a crash).
  last=$(grep -E '^#[0-9]+' "$log" | tail -n 1 || true)
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
  n_out=$(( n_in + $(find "$work" -type f | wc -l) ))
  crashes=$(find "$out/artifacts" -maxdepth 1 -name "$t-*" -type f | wc -l)
  rate=0
  [ "$took" -gt 0 ] && [ -n "$execs" ] && rate=$(( execs / took ))
  if [ "$rc" -ne 0 ] || [ "$crashes" -gt 0 ]; then
    failed=1
    echo "fuzz-campaign: $t stopped with status $rc; see $log and $out/artifacts/$t-*" >&2
    grep -m 3 -E 'ERROR: |SUMMARY: |runtime error' "$log" >&2 || true
  fi
  printf '| %s | %s | %s | %s | %s | %s | %s -> %s | %s |\n' "$t" "$took" "${execs:-?}" \
    "$rate" "${cov:-?}" "${ft:-?}" "$n_in" "$n_out" "$crashes" >>"$table"
  echo "fuzz-campaign: $t: ${took}s, ${execs:-?} executions, cov ${cov:-?}, $crashes crashes" >&2
  if [ "$merge" = 1 ] && [ "$rc" -eq 0 ]; then
    "$bin" -merge=1 "$seed" "$work" >>"$log" 2>&1 || echo "fuzz-campaign: merge of $t failed" >&2
  fi
done
cat "$table"
exit "$failed"
