#!/usr/bin/env bash
# Zero-downtime: 20 deploys + 20 rollbacks under `wrk -t2 -c64` keep-alive load through
# the Slipway router, then the peer: nginx with one upstream rewritten and
# `nginx -s reload`ed 40 times over a comparable duration under the same load.
# Counts wrk's socket errors and non-2xx responses (count-non2xx.lua) for each.
source "$(dirname "$0")/lib.sh"

SWITCH_PAIRS="${SWITCH_PAIRS:-20}"      # deploy+rollback pairs (40 switches)
WRK_MAX_S=1200                            # upper bound of each load; stopped by SIGINT earlier
CMD="Benchmarks/run.sh zero-downtime"

need_pkg wrk wrk; need_pkg nginx nginx-light; need_pkg haproxy haproxy; need_pkg curl curl
build_release
make_tmp

# ---------------------------------------------------------------- Slipway
LISTEN="$(free_port)"
write_config "$BENCH_TMP/hello.yml" "$LISTEN"
start_server "$BENCH_TMP/hello.yml"
wait_version "$LISTEN" v1 60
log "slipway serving v1 on 127.0.0.1:$LISTEN; starting wrk and $SWITCH_PAIRS deploy/rollback pairs"

OPS="$BENCH_TMP/slipway-ops.txt"; : > "$OPS"
FAILED_OPS=0
wrk_start "$BENCH_TMP/wrk-slipway.txt" -t2 -c64 -d${WRK_MAX_S}s --timeout 5s --latency -s "$LUA_COUNTER" "http://127.0.0.1:$LISTEN/"
sleep 2
T0=$(date +%s.%N)
for i in $(seq 1 "$SWITCH_PAIRS"); do
    v="v$((i + 1))"
    s=$(date +%s.%N)
    if out="$("$SLIPWAY" deploy hello --version "$v" --wait 2>&1)"; then rc=0; else rc=$?; FAILED_OPS=$((FAILED_OPS + 1)); fi
    e=$(date +%s.%N)
    srv="$(grep -o 'succeeded in [0-9.]*m\?s' <<<"$out" | awk '{print $3}' | tail -1)"
    echo "deploy $v rc=$rc cli_s=$(python3 -c "print(round($e-$s,3))") server=${srv:-?}" >> "$OPS"
    [ "$rc" = 0 ] || { log "deploy $v failed: $out"; }
    s=$(date +%s.%N)
    if out="$("$SLIPWAY" rollback hello 2>&1)"; then rc=0; else rc=$?; FAILED_OPS=$((FAILED_OPS + 1)); fi
    e=$(date +%s.%N)
    srv="$(grep -o 'succeeded in [0-9.]*m\?s' <<<"$out" | awk '{print $3}' | tail -1)"
    echo "rollback rc=$rc cli_s=$(python3 -c "print(round($e-$s,3))") server=${srv:-?}" >> "$OPS"
    [ "$rc" = 0 ] || { log "rollback failed: $out"; }
    log "pair $i/$SWITCH_PAIRS done"
done
T1=$(date +%s.%N)
sleep 2
wrk_stop
SW_SWITCH_S=$(python3 -c "print(round($T1-$T0,1))")
log "slipway: $((SWITCH_PAIRS * 2)) switches in ${SW_SWITCH_S}s"
# Stop Slipway before the peer so the two do not share the CPU.
stop_slipway

# ---------------------------------------------------------------- nginx reload peer
start_nginx_peer
SWITCHES=$((SWITCH_PAIRS * 2))
GAP=$(python3 -c "print(max(0.05, $SW_SWITCH_S / $SWITCHES))")
log "nginx on 127.0.0.1:$NP: $SWITCHES reloads, one every ${GAP}s"
wrk_start "$BENCH_TMP/wrk-nginx.txt" -t2 -c64 -d${WRK_MAX_S}s --timeout 5s --latency -s "$LUA_COUNTER" "http://127.0.0.1:$NP/"
sleep 2
RELOAD_FAIL=0
T0=$(date +%s.%N)
for i in $(seq 1 "$SWITCHES"); do
    if [ $((i % 2)) = 1 ]; then echo "server 127.0.0.1:$PB;" > "$UP"; else echo "server 127.0.0.1:$PA;" > "$UP"; fi
    reload_nginx 2>>"$BENCH_TMP/nginx-reload.err" || RELOAD_FAIL=$((RELOAD_FAIL + 1))
    sleep "$GAP"
done
T1=$(date +%s.%N)
sleep 2
wrk_stop
NG_SWITCH_S=$(python3 -c "print(round($T1-$T0,1))")
stop_nginx

# ---------------------------------------------------------------- report
python3 "$BENCH_DIR/report_zero_downtime.py" "$BENCH_TMP" "$SWITCH_PAIRS" "$SW_SWITCH_S" "$NG_SWITCH_S" "$FAILED_OPS" "$RELOAD_FAIL" > "$BENCH_TMP/table.md"
{ bench_header "zero-downtime" "$CMD"; cat "$BENCH_TMP/table.md"; } > "$BENCH_TMP/section.md"
cat "$BENCH_TMP/table.md"
write_section zero-downtime "$BENCH_TMP/section.md"
log "wrote the zero-downtime section of $RESULTS_MD"
