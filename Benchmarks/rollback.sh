#!/usr/bin/env bash
# Rollback latency: from just before `slipway rollback` starts to when every new request
# on one keep-alive connection is answered by the previous (warm) release; ~10 repetitions
# (deploy, then rollback). Peer: the same measurement for nginx switching its upstream
# back with `nginx -s reload`.
source "$(dirname "$0")/lib.sh"

REPS="${ROLLBACK_REPS:-10}"
CMD="Benchmarks/run.sh rollback"

need_pkg nginx nginx-light; need_pkg curl curl
build_release
make_tmp

# ---------------------------------------------------------------- Slipway
LISTEN="$(free_port)"
write_config "$BENCH_TMP/hello.yml" "$LISTEN"
start_server "$BENCH_TMP/hello.yml"
wait_version "$LISTEN" v1 60
log "slipway serving v1 on 127.0.0.1:$LISTEN; $REPS deploy+rollback repetitions"
python3 "$BENCH_DIR/rollback_probe.py" --mode slipway --port "$LISTEN" --reps "$REPS" --slipway "$SLIPWAY" --old v1 \
    > "$BENCH_TMP/slipway.json" 2> "$BENCH_TMP/slipway.err" || { cat "$BENCH_TMP/slipway.err" >&2; die "slipway probe failed"; }
stop_slipway

# ---------------------------------------------------------------- nginx peer
start_nginx_peer
log "nginx on 127.0.0.1:$NP; $REPS switch/switch-back repetitions"
python3 "$BENCH_DIR/rollback_probe.py" --mode nginx --port "$NP" --reps "$REPS" --old a --new b \
    --upstream-file "$UP" --port-a "$PA" --port-b "$PB" \
    --reload "nginx -p '$NGINX_DIR' -c '$NGINX_CONF' -e '$NGINX_DIR/error.log' -s reload" \
    > "$BENCH_TMP/nginx.json" 2> "$BENCH_TMP/nginx.err" || { cat "$BENCH_TMP/nginx.err" >&2; die "nginx probe failed"; }
stop_nginx

# ---------------------------------------------------------------- report
python3 - "$BENCH_TMP/slipway.json" "$BENCH_TMP/nginx.json" > "$BENCH_TMP/table.md" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1])); n = json.load(open(sys.argv[2]))
def f(x): return "-" if x is None else f"{x:.1f}"
def r(a, b): return "-" if a is None or not b else f"{a / b:.2f}"
print("| | Slipway `rollback` | peer: nginx upstream rewrite + `-s reload` | Slipway / nginx |")
print("| --- | --- | --- | --- |")
print(f"| repetitions measured | {s['measured']}/{s['reps']} | {n['measured']}/{n['reps']} | |")
print(f"| switch-back latency, median (ms) | {f(s['switch_ms_median'])} | {f(n['switch_ms_median'])} | {r(s['switch_ms_median'], n['switch_ms_median'])} |")
print(f"| switch-back latency, max (ms) | {f(s['switch_ms_max'])} | {f(n['switch_ms_max'])} | {r(s['switch_ms_max'], n['switch_ms_max'])} |")
print(f"| switch-back latency, min (ms) | {f(s['switch_ms_min'])} | {f(n['switch_ms_min'])} | |")
print(f"| command wall time, median (ms) | {f(s['cli_ms_median'])} | {f(n['cli_ms_median'])} | {r(s['cli_ms_median'], n['cli_ms_median'])} |")
print(f"| server-side rollout duration, median / max (ms) | {f(s['server_ms_median'])} / {f(s['server_ms_max'])} | n/a | |")
print(f"| poller requests / errors (whole run) | {s['poller_requests']} / {s['poller_errors']} | {n['poller_requests']} / {n['poller_errors']} | |")
print()
print("Per repetition (switch-back ms): Slipway " + ", ".join(f"{x['switch_ms']:.0f}" for x in s['reps_detail'] if 'switch_ms' in x)
      + "; nginx " + ", ".join(f"{x['switch_ms']:.0f}" for x in n['reps_detail'] if 'switch_ms' in x) + ".")
if s["rollout_failures"]:
    print(f"\nSlipway repetitions that failed: {json.dumps(s['rollout_failures'])[:1500]}")
goal = s["switch_ms_max"] is not None and s["switch_ms_max"] < 100 and s["measured"] == s["reps"]
med = s["switch_ms_median"]
print(f"\nGoal (< 100 ms): **{'met' if goal else 'NOT met'}** (median {f(med)} ms, max {f(s['switch_ms_max'])} ms; "
      "the latency includes starting the `slipway` CLI process).")
EOF
{ bench_header "rollback" "$CMD"; cat "$BENCH_TMP/table.md"; } > "$BENCH_TMP/section.md"
cat "$BENCH_TMP/table.md"
write_section rollback "$BENCH_TMP/section.md"
log "wrote the rollback section of $RESULTS_MD"
