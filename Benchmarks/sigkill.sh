#!/usr/bin/env bash
# SIGKILL of the control plane mid-rollout, under `wrk -t2 -c64` load through the router:
# a deploy whose health check needs a few seconds to pass (healthy: 30, interval: 100ms)
# is started, `slipway server` is SIGKILLed while the rollout waits for health, a new
# server is started on the same state dir, and the rollout must end (succeeded) with no
# failed request. Repeated with different kill delays.
source "$(dirname "$0")/lib.sh"

DELAYS="${SIGKILL_DELAYS:-0.5 1.5 2.5}"   # seconds between `deploy` and SIGKILL, one rep each
CMD="Benchmarks/run.sh sigkill"

need_pkg wrk wrk; need_pkg curl curl
build_release
make_tmp

LISTEN="$(free_port)"
CONFIG="$BENCH_TMP/hello.yml"
write_config "$CONFIG" "$LISTEN" 30 100ms 2
start_server "$CONFIG"
wait_version "$LISTEN" v1 90
log "slipway serving v1 on 127.0.0.1:$LISTEN (healthy: 30 × 100ms)"

REPORT="$BENCH_TMP/reps.txt"; : > "$REPORT"
wrk_start "$BENCH_TMP/wrk.txt" -t2 -c64 -d900s --timeout 5s --latency -s "$LUA_COUNTER" "http://127.0.0.1:$LISTEN/"
sleep 2
T0=$(date +%s.%N)
n=1
for delay in $DELAYS; do
    n=$((n + 1)); v="v$n"
    out="$("$SLIPWAY" deploy hello --version "$v" 2>&1)" || { log "deploy $v refused: $out"; echo "rep $v: deploy refused" >> "$REPORT"; continue; }
    rid="$(grep -o '^rollout [0-9]*' <<<"$out" | head -1 | awk '{print $2}')"
    sleep "$delay"
    phase="$("$SLIPWAY" status hello -o json | python3 -c 'import json,sys; r=json.load(sys.stdin).get("activeRollout"); print(r["phase"] if r else "none")')"
    log "rollout $rid to $v: phase $phase; SIGKILL server pid $SERVER_PID"
    kill -9 "$SERVER_PID"
    wait "$SERVER_PID" 2>/dev/null || true
    k=$(date +%s.%N)
    start_server "$CONFIG"
    up=$(date +%s.%N)
    result=""
    for _ in $(seq 1 900); do
        result="$("$SLIPWAY" history hello --limit 1 -o json | python3 -c '
import json, sys
r = json.load(sys.stdin)[0]
if r["phase"] in ("succeeded", "failed"):
    took = (r["endedAt"] - r["startedAt"]) if r.get("endedAt") else 0
    reason = (r.get("reason") or "-").replace(" ", "_")
    print("id=%s to=%s phase=%s took_s=%.2f reason=%s" % (r["id"], r["toVersion"], r["phase"], took, reason))
' 2>/dev/null || true)"
        [ -n "$result" ] && break
        sleep 0.1
    done
    served="$(curl -fsS -D - -o /dev/null --max-time 2 "http://127.0.0.1:$LISTEN/" 2>/dev/null | tr -d '\r' | awk -F': ' 'tolower($1)=="x-version"{print $2}' || true)"
    echo "rep $v delay=${delay}s rollout=$rid phase_at_kill=$phase restart_s=$(python3 -c "print(round($up-$k,2))") ${result:-result=TIMEOUT(90s)} router_serves=${served:-?}" >> "$REPORT"
    log "$(tail -1 "$REPORT")"
    # The rollout's event log (kept in RESULTS.md: shows what the restarted server did).
    curl -fsS --max-time 5 -H "Authorization: Bearer $SLIPWAY_TOKEN" "$SLIPWAY_SERVER/v1/rollouts/$rid" 2>/dev/null | python3 -c '
import json, sys
r = json.load(sys.stdin)
print("rollout %s (%s → %s, kill after %s s):" % (r["id"], r.get("fromVersion"), r["toVersion"], sys.argv[1]))
for e in r.get("events") or []:
    print("  +%6.2fs  %-18s %s" % (e["time"] - r["startedAt"], e["kind"], e["message"]))
' "$delay" >> "$BENCH_TMP/events.txt" 2>/dev/null || echo "rollout $rid: events unavailable" >> "$BENCH_TMP/events.txt"
    sleep 2
done
T1=$(date +%s.%N)
sleep 1
wrk_stop

BENCH_DIR="$BENCH_DIR" python3 - "$BENCH_TMP" "$(python3 -c "print(round($T1-$T0,1))")" > "$BENCH_TMP/table.md" <<'EOF'
import os, re, sys
sys.path.insert(0, os.environ["BENCH_DIR"])
from wrkparse import parse
tmp, window = sys.argv[1], sys.argv[2]
w = parse(os.path.join(tmp, "wrk.txt"))
reps = open(os.path.join(tmp, "reps.txt")).read().splitlines()
print("| kill delay after `deploy` | phase at kill | control plane back (s) | rollout outcome | rollout took (s) | router serves |")
print("| --- | --- | --- | --- | --- | --- |")
ok = 0
for line in reps:
    kv = dict(re.findall(r"(\w+)=(\S+)", line))
    if kv.get("phase") == "succeeded" and kv.get("router_serves") == kv.get("to"):
        ok += 1
    print(f"| {kv.get('delay', '?')} | {kv.get('phase_at_kill', '?')} | {kv.get('restart_s', '?')} | "
          f"{kv.get('phase', kv.get('result', 'TIMEOUT'))} {'' if kv.get('reason', '-') == '-' else '(' + kv['reason'].replace('_', ' ') + ')'} | "
          f"{kv.get('took_s', '-')} | {kv.get('router_serves', '?')} |")
print()
print(f"Load: wrk -t2 -c64 for {w['duration_s']:.1f} s ({window} s of kills and restarts): {w['requests']} requests, {w['rps']:.0f} req/s, "
      f"p99 {w['p99_ms']:.2f} ms; socket errors connect/read/write/timeout = {w['connect']}/{w['read']}/{w['write']}/{w['timeout']}; "
      f"non-2xx = {w['non2xx']} ({w['statuses']}); versions that answered: {w['versions']}.")
print()
goal = w["socket_errors"] == 0 and w["non2xx"] == 0 and ok == len(reps)
print(f"Goal (0 socket errors, 0 non-2xx, every rollout succeeded after the restart): **{'met' if goal else 'NOT met'}** "
      f"({ok}/{len(reps)} rollouts succeeded and serve the new version).")
print()
print("No peer: nginx/HAProxy have no control plane whose death could interrupt a rollout; the reference is the goal of 0.")
EOF
{ bench_header "sigkill" "$CMD"; cat "$BENCH_TMP/table.md"; echo; echo "Rollout events (from the API, times relative to the rollout start):"; echo; echo '```'; cat "$BENCH_TMP/events.txt"; echo '```'; } > "$BENCH_TMP/section.md"
cat "$BENCH_TMP/table.md"
write_section sigkill "$BENCH_TMP/section.md"
log "wrote the sigkill section of $RESULTS_MD"
