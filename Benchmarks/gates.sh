#!/usr/bin/env bash
# Gates: what `release create --evidence` costs on large reports. `slipway evidence show`
# (the same EvidenceItem.read code path) on a 100,000-case JUnit file and a ≥ 50 MB SARIF
# log made by make_reports.py, under /usr/bin/time: wall time and peak RSS, median of
# GATES_RUNS runs, its counts checked against the generator's; python3 (iterparse for
# JUnit, json.load for SARIF, gates_peer.py) on the same files in the same run.
source "$(dirname "$0")/lib.sh"

RUNS="${GATES_RUNS:-5}"
CMD="Benchmarks/run.sh gates"

need_pkg python3 python3
need_pkg /usr/bin/time time
build_release
make_tmp

log "generating the reports (seeded; ~1 min)"
python3 "$BENCH_DIR/make_reports.py" "$BENCH_TMP/reports" > /dev/null || die "make_reports.py failed"
# The floor: the same command on tiny reports of the same shapes (process start, runtime).
python3 "$BENCH_DIR/make_reports.py" "$BENCH_TMP/tiny" --junit-cases 20 --sarif-results 20 --min-sarif-bytes 0 > /dev/null \
    || die "make_reports.py (tiny) failed"

declare -A FILE=([junit]="$BENCH_TMP/reports/junit.xml" [sarif]="$BENCH_TMP/reports/codeql.sarif")
declare -A TINY=([junit]="$BENCH_TMP/tiny/junit.xml" [sarif]="$BENCH_TMP/tiny/codeql.sarif")

# measure NAME COMMAND...: one run under /usr/bin/time; stdout to NAME.out, "%e %M" to NAME.time.
measure() {
    local name="$1"; shift
    /usr/bin/time -f '%e %M' -o "$BENCH_TMP/$name.time" "$@" > "$BENCH_TMP/$name.out" 2> "$BENCH_TMP/$name.err" \
        || { cat "$BENCH_TMP/$name.err" >&2; die "$name failed: $*"; }
}

for kind in junit sarif; do
    cat "${FILE[$kind]}" "${TINY[$kind]}" > /dev/null # both sides read from the page cache
    measure "slipway-$kind-tiny" "$SLIPWAY" evidence show -o json "$kind=${TINY[$kind]}"
    measure "peer-$kind-tiny" python3 "$BENCH_DIR/gates_peer.py" "$kind" "${TINY[$kind]}"
    for i in $(seq 1 "$RUNS"); do
        log "$kind round $i/$RUNS"
        measure "slipway-$kind-$i" "$SLIPWAY" evidence show -o json "$kind=${FILE[$kind]}"
        measure "peer-$kind-$i" python3 "$BENCH_DIR/gates_peer.py" "$kind" "${FILE[$kind]}"
    done
done
# The text output once (for the record, and to show it works on the big files).
"$SLIPWAY" evidence show "junit=${FILE[junit]}" "sarif=${FILE[sarif]}" > "$BENCH_TMP/text.out" || die "evidence show (text) failed"

python3 "$BENCH_DIR/report_gates.py" "$BENCH_TMP" "$RUNS" > "$BENCH_TMP/table.md" || {
    cat "$BENCH_TMP/table.md" >&2
    die "the counts are wrong: not recording times of a parse that is wrong"
}
{
    bench_header "gates" "$CMD"
    echo "\`slipway evidence show -o json FORMAT=FILE\` (EvidenceItem.read: SHA-256 of the file, then the streaming parse — the code path of \`release create --evidence\`) and the python3 peer (\`gates_peer.py\`: SHA-256 with hashlib, then \`xml.etree.ElementTree.iterparse\` + \`elem.clear()\` for JUnit, \`json.load\` for SARIF) alternate, $RUNS runs each, under \`/usr/bin/time -f '%e %M'\`; medians reported. Files from \`make_reports.py\` (seeded), read from the page cache. Every run's counts and digest are checked against the generator's expected counts and hashlib's SHA-256 (a wrong parse fails the benchmark). \"floor\" = the same command on a 20-case / 20-result file of the same shape."
    echo
    cat "$BENCH_TMP/table.md"
    echo
    echo "Text output on the two files:"
    echo
    echo '```'
    sed "s#$BENCH_TMP/##" "$BENCH_TMP/text.out"
    echo '```'
} > "$BENCH_TMP/section.md"
cat "$BENCH_TMP/table.md"
write_section gates "$BENCH_TMP/section.md"
log "wrote the gates section of $RESULTS_MD"
