#!/usr/bin/env bash
# The long fuzz run: fuzz targets (scripts/fuzz.sh) under libFuzzer + the address
# sanitizer, release build, FUZZ_SECONDS each (default 600). Reports executions, speed,
# coverage reached and findings per target; the goal is 0 findings over >= 10 million
# executions per target. Peer: none (no other tool fuzzes Slipway's readers); the figure
# that matters is executions without a finding.
#
#   FUZZ_TARGETS="headers cookie"   only these targets (default: every one); the table
#                                   then goes into the section "fuzz-long" of RESULTS.md,
#                                   a ledger of each target's latest long run: a run of
#                                   some targets replaces their rows and keeps the others
#   FUZZ_JOBS=2                     fuzz this many targets at once, one process each
#                                   (default 1; at most the number of cores)
#   FUZZ_RUNS=10000000              stop each target after this many executions
#                                   (FUZZ_SECONDS then bounds how long it may take)
#   FUZZ_WORKERS=2                  fuzz each target with this many processes on its
#                                   shared corpus (with FUZZ_JOBS=1: one slow target on
#                                   every core); executions are their sum
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib.sh"
cd "$HERE/.."

seconds=${FUZZ_SECONDS:-600}
jobs=${FUZZ_JOBS:-1}
[[ "$jobs" =~ ^[1-9][0-9]*$ ]] || die "FUZZ_JOBS must be a whole number above 0 (got \"$jobs\")"
[ "$((jobs * ${FUZZ_WORKERS:-1}))" -le "$(nproc)" ] || die "FUZZ_JOBS × FUZZ_WORKERS ($jobs × ${FUZZ_WORKERS:-1}) is more than the $(nproc) cores: the processes would share them and the speeds would mean nothing"
[ "$jobs" -le "$(nproc)" ] || die "FUZZ_JOBS=$jobs is more than the $(nproc) cores: the targets would share them and the speeds would mean nothing"
known=$(scripts/fuzz.sh list)
section=fuzz
if [ -n "${FUZZ_TARGETS:-}" ]; then
    for t in $FUZZ_TARGETS; do
        grep -qx "$t" <<<"$known" || die "FUZZ_TARGETS: unknown target \"$t\" (targets: $(echo $known))"
    done
    targets=$FUZZ_TARGETS
    section=fuzz-long
else
    targets=$known
fi
make_tmp
out="$BENCH_TMP/fuzz.md"
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
# The tree the fuzzer is built from, taken now: a commit made while the targets run must not
# be credited with their executions.
tree=$(git rev-parse --short HEAD)$([ -z "$(git status --porcelain -- Sources Fuzz 2>/dev/null)" ] || echo " + uncommitted changes")
# Build once; the runs below then skip it (parallel builds in one scratch folder would wait
# on each other's lock).
FUZZ_BUILD=release FUZZ_SCRATCH=.build-fuzz scripts/fuzz.sh build >&2

run_one() {
    local t="$1" line
    log "fuzzing $t for $seconds s"
    line=$(FUZZ_SKIP_BUILD=1 FUZZ_BUILD=release FUZZ_SCRATCH=.build-fuzz scripts/fuzz.sh "$t" "$seconds" 2>/dev/null) || true
    log "$line"
}
# At most $jobs targets at once: the next one starts as soon as any running one ends.
running=0
for t in $targets; do
    if [ "$running" -ge "$jobs" ]; then
        wait -n || true
        running=$((running - 1))
    fi
    run_one "$t" &
    running=$((running + 1))
done
wait

status=0
rows="$BENCH_TMP/fuzz-rows.md"
: >"$rows"
for t in $targets; do
    flog=".build-fuzz/fuzz-$t.log"
    # scripts/fuzz.sh's totals over the target's workers.
    totals=$(grep '^fuzz.sh totals: ' "$flog" | tail -1)
    total() { sed -n "s/.* $1=\([0-9]*\).*/\1/p" <<<"$totals"; }
    runs=$(total executions); speed=$(total per_second); cov=$(total coverage); took=$(total seconds); nworkers=$(total workers)
    line=$(grep " release $t: " .build-fuzz/fuzz-report.txt | tail -1)
    case "$line" in
        *FINDING*) found="**1** (Fuzz/findings/)"; status=1 ;;
        *"does not reproduce"*) found="0 (stopped by a timeout that does not reproduce: a stall, see .build-fuzz/fuzz-$t.log)"; status=1 ;;
        *) found=0 ;;
    esac
    if [ "$section" = fuzz ]; then
        echo "| $t | ${runs:-?} | ${speed:-?} | ${cov:-?} | $found |" >>"$rows"
    else
        echo "| $t | ${runs:-?} | ${speed:-?} | ${cov:-?} | $found | $(date -u +%F), ${took:-$seconds} s, $jobs at a time$([ "${nworkers:-1}" = 1 ] || echo ", $nworkers workers"), tree $tree |" >>"$rows"
    fi
done
{
    if [ "$section" = fuzz ]; then
        echo "## fuzz"
        echo
        echo "\`FUZZ_JOBS=$jobs FUZZ_SECONDS=$seconds Benchmarks/run.sh fuzz\`, $(date -u +%F), release build with"
        echo "\`-sanitize=fuzzer,address\` on Slipway's modules, $(nproc) cores, $jobs target(s) at a time, load average before: $load_before."
        echo "Each target keeps what it learned in \`.build-fuzz/fuzz-corpus/TARGET\` between runs; the executions are this run's."
        echo
        echo "| target | executions | per second | coverage (edges) | findings |"
        echo "| --- | --- | --- | --- | --- |"
        cat "$rows"
    else
        # A ledger: each target's latest long run, so a run of some targets keeps the
        # rows of the others.
        echo "## fuzz, long runs"
        echo
        echo "\`FUZZ_TARGETS=\"...\" FUZZ_JOBS=N FUZZ_SECONDS=S [FUZZ_RUNS=R] Benchmarks/run.sh fuzz\`: each row is that target's latest long run"
        echo "(release build with \`-sanitize=fuzzer,address\` on Slipway's modules, $(nproc) cores; the last column says when, how"
        echo "long, how many targets shared the cores and which tree). The latest run: \`FUZZ_TARGETS=\"$FUZZ_TARGETS\" FUZZ_JOBS=$jobs FUZZ_SECONDS=$seconds${FUZZ_RUNS:+ FUZZ_RUNS=$FUZZ_RUNS}\`,"
        echo "load average before: $load_before. Executions are the run's; a target keeps what it learned in \`.build-fuzz/fuzz-corpus/TARGET\`."
        echo "A finding's executions count up to the finding."
        echo
        echo "| target | executions | per second | coverage (edges) | findings | run |"
        echo "| --- | --- | --- | --- | --- | --- |"
        merged="$BENCH_TMP/fuzz-merged.md"
        FUZZ_KNOWN="$known" python3 "$HERE/fuzz_ledger.py" "$RESULTS_MD" "$rows" "$merged"
        cat "$merged"
    fi
} >"$out"
cat "$out"
write_section "$section" "$out"
exit "$status"
