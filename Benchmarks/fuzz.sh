#!/usr/bin/env bash
# The long fuzz run: every fuzz target (scripts/fuzz.sh) under libFuzzer + the address
# sanitizer, release build, FUZZ_SECONDS each (default 600). Reports executions, speed,
# coverage reached and findings per target; the goal is 0 findings over >= 10 million
# executions per target. Peer: none (no other tool fuzzes Slipway's readers); the figure
# that matters is executions without a finding.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib.sh"
cd "$HERE/.."

seconds=${FUZZ_SECONDS:-600}
targets=$(scripts/fuzz.sh list)
make_tmp
out="$BENCH_TMP/fuzz.md"
status=0
{
    echo "## fuzz"
    echo
    echo "\`Benchmarks/run.sh fuzz\` (FUZZ_SECONDS=$seconds per target), $(date -u +%F), release build with"
    echo "\`-sanitize=fuzzer,address\` on Slipway's modules, $(nproc) cores, load average before: $(cut -d' ' -f1-3 /proc/loadavg)."
    echo "Each target keeps what it learned in \`.build-fuzz/fuzz-corpus/TARGET\` between runs."
    echo
    echo "| target | executions | per second | coverage (edges) | findings |"
    echo "| --- | --- | --- | --- | --- |"
} >"$out"
for t in $targets; do
    log "fuzzing $t for $seconds s"
    line=$(FUZZ_BUILD=release FUZZ_SCRATCH=.build-fuzz scripts/fuzz.sh "$t" "$seconds" 2>/dev/null) || status=1
    log "$line"
    flog=".build-fuzz/fuzz-$t.log"
    runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$flog" | tail -1)
    speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$flog" | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$flog" | tail -1 | cut -d' ' -f2)
    case "$line" in *FINDING*) found="**1** (Fuzz/findings/)" ;; *) found=0 ;; esac
    echo "| $t | ${runs:-?} | ${speed:-?} | ${cov:-?} | $found |" >>"$out"
done
cat "$out"
write_section fuzz "$out"
exit "$status"
