#!/usr/bin/env bash
# State backup and restore: a store with 100,000 events and 10,000 audit entries (made
# through the real API, so the audit chain is real). In ONE run, alternating, median of
# STATE_RUNS: `slipway backup` through the API and from the database, vs sqlite3's own
# `.backup` of the same file; with the server stopped, `slipway restore` (integrity check,
# schema, master key, audit chain verification, atomic swap) vs sqlite3 `.restore`.
# Goal: under 5 s each.
source "$(dirname "$0")/lib.sh"

RUNS="${STATE_RUNS:-5}"
AUDIT="${STATE_AUDIT:-10000}"
EVENTS="${STATE_EVENTS:-100000}"
CMD="Benchmarks/run.sh state-backup"

need_pkg sqlite3 sqlite3; need_pkg /usr/bin/time time; need_pkg curl curl
build_release
make_tmp

LISTEN="$(free_port)"
write_config "$BENCH_TMP/hello.yml" "$LISTEN" 2 500ms 1
start_server "$BENCH_TMP/hello.yml"
wait_version "$LISTEN" v1 60
log "filling the store: $AUDIT audit entries through the API, $EVENTS events"
COUNTS="$(python3 "$BENCH_DIR/state_fill.py" "$SLIPWAY_SERVER" "$SLIPWAY_TOKEN" "$STATE_DIR/slipway.sqlite" "$AUDIT" "$EVENTS")" || die "state_fill.py failed"
log "store: $COUNTS, $(du -h "$STATE_DIR/slipway.sqlite" | cut -f1) (+ WAL)"
cp "$STATE_DIR/master.key" "$BENCH_TMP/master.key"; chmod 600 "$BENCH_TMP/master.key"

for i in $(seq 1 "$RUNS"); do
    timed api "$SLIPWAY" backup --to "$BENCH_TMP/api-$i.sqlite"
    timed direct "$SLIPWAY" backup --to "$BENCH_TMP/direct-$i.sqlite" --state-dir "$STATE_DIR"
    timed sqlite3_backup sqlite3 "$STATE_DIR/slipway.sqlite" ".backup '$BENCH_TMP/peer-$i.sqlite'"
done
grep -q "events, " "$BENCH_TMP/api.out" || die "unexpected backup output: $(cat "$BENCH_TMP/api.out")"
BACKUP_SIZE="$(du -h "$BENCH_TMP/api-1.sqlite" | cut -f1)"
stop_slipway

for i in $(seq 1 "$RUNS"); do
    timed restore "$SLIPWAY" restore "$BENCH_TMP/api-1.sqlite" --state-dir "$BENCH_TMP/restored-$i" --master-key-file "$BENCH_TMP/master.key"
    timed sqlite3_restore sqlite3 "$BENCH_TMP/peer-restored-$i.sqlite" ".restore '$BENCH_TMP/api-1.sqlite'"
done
# The restored state is whole: every event and audit entry, chain verified.
grep -q "audit log intact" "$BENCH_TMP/restore.out" || die "restore did not verify the audit log: $(cat "$BENCH_TMP/restore.out")"
GOT="$(sqlite3 "$BENCH_TMP/restored-1/slipway.sqlite" "SELECT (SELECT COUNT(*) FROM event) || ' events, ' || (SELECT COUNT(*) FROM audit) || ' audit entries'")"
log "restored: $GOT"
"$SLIPWAY" audit verify --state-dir "$BENCH_TMP/restored-1" > /dev/null || die "audit verify failed on the restored state"

ratio() { python3 -c "print(f'{float(\"$1\") / float(\"$2\"):.2f}')"; }
B_API="$(median api)"; B_DIRECT="$(median direct)"; B_PEER="$(median sqlite3_backup)"
R_OURS="$(median restore)"; R_PEER="$(median sqlite3_restore)"
section="$BENCH_TMP/section.md"
{
    bench_header "State backup and restore" "$CMD"
    echo "Store: $GOT ($BACKUP_SIZE backup file), audit entries made through the API (real chain and signature). Median of $RUNS runs, alternating, wall time of the whole command."
    echo
    echo "| operation | Slipway | sqlite3 peer | ratio | goal |"
    echo "| --- | --- | --- | --- | --- |"
    echo "| backup through the API (server running; snapshot, HTTP, integrity check, SHA-256) | ${B_API} s | \`.backup\` ${B_PEER} s | $(ratio "$B_API" "$B_PEER") | < 5 s |"
    echo "| backup from the database (\`--state-dir\`) | ${B_DIRECT} s | \`.backup\` ${B_PEER} s | $(ratio "$B_DIRECT" "$B_PEER") | < 5 s |"
    echo "| restore (checks, copy, schema, key, audit chain of $(sqlite3 "$BENCH_TMP/restored-1/slipway.sqlite" 'SELECT COUNT(*) FROM audit') entries, swap) | ${R_OURS} s | \`.restore\` ${R_PEER} s | $(ratio "$R_OURS" "$R_PEER") | < 5 s |"
} > "$section"
write_section "State backup and restore" "$section"
cat "$section"
