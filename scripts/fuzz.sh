#!/usr/bin/env bash
# Fuzzes Slipway's input readers with libFuzzer and the address sanitizer.
#
#   scripts/fuzz.sh TARGET [SECONDS]     one target (default 60 s)
#   scripts/fuzz.sh all [SECONDS]        every target in turn, SECONDS each
#   scripts/fuzz.sh list                 the targets
#   scripts/fuzz.sh build                only build the fuzzer
#
# Targets (Sources/SlipwayFuzz/FuzzTarget.swift): config, http1, route-table, cookie,
# headers, junit, cobertura, lcov, sarif, trivy, gitleaks.
#
# The build is instrumented (SLIPWAY_FUZZ=1 in Package.swift) in its own folder,
# FUZZ_SCRATCH (default .build-fuzz), as FUZZ_BUILD (release, default, or debug). Seeds come
# from Fuzz/corpus/TARGET and Fuzz/regressions/TARGET (never written to); what the fuzzer
# learns is kept in FUZZ_SCRATCH/fuzz-corpus/TARGET for the next run. An input that crashes,
# trips the sanitizer or breaks an invariant is saved in Fuzz/findings/ and the script exits
# 1: add it to Fuzz/regressions/TARGET once fixed, where SlipwayFuzzTests replays it.
# FUZZ_SEED fixes libFuzzer's random seed (the test suite's smoke uses 1, so a run is
# repeatable). FUZZ_RUNS=N stops a target after N executions (SECONDS then bounds the time;
# the long runs use it to reach 10 million). FUZZ_WORKERS=N fuzzes one target with N
# processes at once (at most one per core) on its shared corpus, each picking up what the
# others found, and reports their sum; FUZZ_RUNS is then split between them, and with
# FUZZ_SEED worker i uses the seed + i. FUZZ_SKIP_BUILD=1 uses the fuzzer built before (runs in parallel: one build
# first, `scripts/fuzz.sh build`). A summary line per target (executions, speed, findings) is printed and appended to
# FUZZ_SCRATCH/fuzz-report.txt.
set -euo pipefail
cd "$(dirname "$0")/.."

targets=(config http1 route-table cookie headers junit cobertura lcov sarif trivy gitleaks)
target=${1:-}
seconds=${2:-60}
build=${FUZZ_BUILD:-release}
scratch=${FUZZ_SCRATCH:-.build-fuzz}

usage() {
    echo "usage: scripts/fuzz.sh TARGET|all|list|build [SECONDS]" >&2
    echo "targets: ${targets[*]}" >&2
    exit 2
}
[ -n "$target" ] || usage
if [ "$target" = list ]; then
    printf '%s\n' "${targets[@]}"
    exit 0
fi
[[ "$seconds" =~ ^[0-9]+$ ]] && [ "$seconds" -gt 0 ] || { echo "fuzz.sh: SECONDS must be a whole number above 0 (got \"$seconds\")" >&2; exit 2; }
workers=${FUZZ_WORKERS:-1}
[[ "$workers" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: FUZZ_WORKERS must be a whole number above 0 (got \"$workers\")" >&2; exit 2; }
[ "$workers" -le "$(nproc)" ] || { echo "fuzz.sh: FUZZ_WORKERS=$workers is more than the $(nproc) cores" >&2; exit 2; }
[ -z "${FUZZ_RUNS:-}" ] || { [[ "$FUZZ_RUNS" =~ ^[1-9][0-9]*$ ]] || { echo "fuzz.sh: FUZZ_RUNS must be a whole number above 0 (got \"$FUZZ_RUNS\")" >&2; exit 2; }; }
case "$build" in release|debug) ;; *) echo "fuzz.sh: FUZZ_BUILD must be release or debug (got \"$build\")" >&2; exit 2 ;; esac
if [ "$target" = build ]; then
    echo "fuzz.sh: building slipway-fuzz ($build, $scratch)" >&2
    SLIPWAY_FUZZ=1 swift build -c "$build" --scratch-path "$scratch" --product slipway-fuzz >&2
    exit 0
fi
if [ "$target" = all ]; then
    selected=("${targets[@]}")
else
    known=0
    for t in "${targets[@]}"; do [ "$t" = "$target" ] && known=1; done
    [ "$known" = 1 ] || { echo "fuzz.sh: unknown target \"$target\"" >&2; usage; }
    selected=("$target")
fi

if [ "${FUZZ_SKIP_BUILD:-0}" != 1 ]; then
    echo "fuzz.sh: building slipway-fuzz ($build, $scratch)" >&2
    SLIPWAY_FUZZ=1 swift build -c "$build" --scratch-path "$scratch" --product slipway-fuzz >&2
fi
binary="$scratch/$build/slipway-fuzz"
[ -x "$binary" ] || { echo "fuzz.sh: $binary was not built" >&2; exit 1; }

mkdir -p Fuzz/findings
report="$scratch/fuzz-report.txt"
failed=0
for t in "${selected[@]}"; do
    work="$scratch/fuzz-corpus/$t"
    mkdir -p "$work"
    seeds=("Fuzz/corpus/$t")
    [ -d "Fuzz/regressions/$t" ] && seeds+=("Fuzz/regressions/$t")
    log="$scratch/fuzz-$t.log"
    rm -f "$scratch/fuzz-$t".w*.log
    # -timeout: an input taking 10 s is a finding (a hang); -rss_limit_mb bounds memory.
    # malloc_context_size=0: the sanitizer records no stack per allocation while fuzzing
    # (collecting them took about a third of the config target's time); it still catches
    # every bad access, and a finding is replayed below with full stacks for its report.
    # SWIFT_BACKTRACE=enable=no: a trap is reported by libFuzzer and the sanitizer; Swift's
    # own backtracer, run under the sanitizer, faulted reading the crashed process and its
    # helper process kept the replay's output open, so the report never ended.
    # Worker 1 logs to fuzz-TARGET.log, worker i > 1 to fuzz-TARGET.wI.log; every worker
    # uses the same corpus folder and reads what the others added (libFuzzer's -reload).
    logs=()
    pids=()
    started=$(date +%s)
    for i in $(seq 1 "$workers"); do
        if [ "$i" = 1 ]; then wlog="$log"; else wlog="$scratch/fuzz-$t.w$i.log"; fi
        logs+=("$wlog")
        runs_each=""
        [ -z "${FUZZ_RUNS:-}" ] || runs_each=$(( (FUZZ_RUNS + workers - 1) / workers ))
        SWIFT_BACKTRACE=enable=no SLIPWAY_FUZZ_TARGET="$t" ASAN_OPTIONS="detect_leaks=0:malloc_context_size=0:${ASAN_OPTIONS:-}" "$binary" \
            -max_total_time="$seconds" ${runs_each:+-runs="$runs_each"} -timeout=10 -rss_limit_mb=4096 -print_final_stats=1 \
            ${FUZZ_SEED:+-seed="$((FUZZ_SEED + i - 1))"} -reload=1 \
            -artifact_prefix="Fuzz/findings/$t-" "$work" "${seeds[@]}" >"$wlog" 2>&1 &
        pids+=($!)
    done
    # The first worker to stop on a finding stops the others.
    status=0
    for _ in "${pids[@]}"; do
        rc=0
        wait -n "${pids[@]}" 2>/dev/null || rc=$?
        [ "$rc" = 127 ] && break
        if [ "$rc" -ne 0 ] && [ "$status" = 0 ]; then
            status=$rc
            kill "${pids[@]}" 2>/dev/null || true
        fi
    done
    # libFuzzer prints how long it took only when it ends normally; after a finding or an
    # interrupt the wall-clock time is the figure (it was the time bound before).
    elapsed=$(( $(date +%s) - started ))
    runs=0; speed=0; took=0; findings=0; artifact=""; interrupted=0
    for wlog in "${logs[@]}"; do
        n=$(sed -n 's/^stat::number_of_executed_units: *//p' "$wlog" | tail -1)
        r=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$wlog" | tail -1)
        # With FUZZ_RUNS a run may end before SECONDS: libFuzzer says how long it took.
        d=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$wlog" | tail -1)
        # A "slow unit" (an input over 10 s, reported with the same line) is not a finding.
        f=$(grep "Test unit written to" "$wlog" | grep -vc "slow-unit-" || true)
        runs=$((runs + ${n:-0})); speed=$((speed + ${r:-0})); findings=$((findings + ${f:-0}))
        [ "${d:-$elapsed}" -gt "$took" ] && took=${d:-$elapsed}
        ! grep -q "libFuzzer: run interrupted" "$wlog" || interrupted=1
        [ -n "$artifact" ] || artifact=$(sed -n 's/.*Test unit written to \(Fuzz\/findings\/[^ ]*\).*/\1/p' "$wlog" | grep -v "slow-unit-" | tail -1 || true)
    done
    cov=$(cat "${logs[@]}" | grep -o 'cov: [0-9]*' | cut -d' ' -f2 | sort -n | tail -1 || true)
    stalled=""
    if [ -n "$artifact" ] && [ -f "$artifact" ]; then
        # The finding again, alone, with the sanitizer's allocation and free stacks.
        { echo; echo "== replay of $artifact with full allocation stacks"; } >>"$log"
        # -timeout as while fuzzing: an input that hangs for real ends the replay too.
        replay=$(SWIFT_BACKTRACE=enable=no SLIPWAY_FUZZ_TARGET="$t" ASAN_OPTIONS="detect_leaks=0:${ASAN_OPTIONS:-}" "$binary" \
            -timeout=10 -artifact_prefix="$scratch/replay-" "$artifact" 2>&1) && replayed=0 || replayed=$?
        echo "$replay" >>"$log"
        # A timeout (an input over the 10 s limit) that runs in a fraction of it alone was
        # the process stalled (no CPU for seconds on a loaded machine, a slow syscall), not
        # the input: not a finding, though it ended the run.
        ms=$(sed -n 's/^Executed .* in \([0-9]*\) ms$/\1/p' <<<"$replay" | tail -1)
        if [[ "$artifact" == *-timeout-* ]] && [ "$replayed" = 0 ] && [ -n "$ms" ] && [ "$ms" -lt 1000 ]; then
            stalled=$ms
            findings=$((findings - 1))
        fi
    fi
    # The totals of every worker, for Benchmarks/fuzz.sh.
    echo "fuzz.sh totals: executions=$runs per_second=$speed seconds=$took coverage=${cov:-0} workers=$workers findings=$findings stalls=$([ -n "$stalled" ] && echo 1 || echo 0)" >>"$log"
    if [ -n "$stalled" ] && [ "$findings" = 0 ]; then
        failed=1
        line="$t: stopped after $runs executions in $took s by a timeout that does not reproduce ($artifact runs in $stalled ms alone: the process stalled, not the input), 0 findings"
    elif [ "$findings" = 0 ] && [ "$interrupted" = 1 ]; then
        # Stopped by a signal (SIGINT/SIGTERM), not by anything it found.
        failed=1
        line="$t: interrupted after $runs executions in $took s, 0 findings"
    elif [ "$status" -ne 0 ] || [ "$findings" -gt 0 ]; then
        failed=1
        line="$t: FINDING after $runs executions (exit $status); see ${logs[*]} and Fuzz/findings/"
        cat "${logs[@]}" | grep -E "invariant broken|ERROR: AddressSanitizer|Fatal error|SUMMARY|Test unit written" | head -5 >&2 || true
    else
        line="$t: $runs executions in $took s ($speed/s$([ "$workers" = 1 ] || echo ", $workers workers")), 0 findings"
    fi
    echo "$line"
    echo "$(date -u +%FT%TZ) $build $line" >>"$report"
done
exit "$failed"
