#!/usr/bin/env bash
# Fleets over SSH, on servers made by scripts/test-hosts.sh (network namespaces on a bridge
# of their own, each with a real sshd): for 3 and for 10 servers,
#   1. deploy: from the deploy request until EVERY server serves the new release, against
#      the floor any tool has — starting the app on every server at once over SSH and
#      waiting for its health check on all of them (the slowest server's own start +
#      health). Goal: Slipway's time beyond that floor < 1 s.
#   2. the window in which servers serve different versions after a blue-green switch and
#      after a rollback (first server switched to last), median and max;
#   3. warm rollback: from the request until every server serves the old release. Goal < 200 ms;
#   4. the control plane's CPU time per server per rollout, and its ssh processes.
source "$(dirname "$0")/lib.sh"

REPS="${FLEET_REPS:-5}"
SIZES="${FLEET_SIZES:-3 10}"
CMD="Benchmarks/run.sh fleet"

need_pkg curl curl
build_release
make_tmp

export SLIPWAY_TEST_HOSTS=/tmp/slipway-bench-hosts
bench_exit() {
    local rc=$?
    set +e
    if [ -n "${SLIPWAY_SERVER:-}" ]; then timeout 60 "$SLIPWAY" down >/dev/null 2>&1; fi
    kill_mentioning "$BENCH_TMP"
    "$REPO_DIR/scripts/test-hosts.sh" stop >/dev/null 2>&1
    (exit "$rc")
    cleanup
}
trap bench_exit EXIT

ROWS="$BENCH_TMP/rows.jsonl"
: > "$ROWS"
for N in $SIZES; do
    log "=== $N servers ==="
    "$REPO_DIR/scripts/test-hosts.sh" stop >/dev/null 2>&1 || true
    hosts_env=$("$REPO_DIR/scripts/test-hosts.sh" start "$N") || die "scripts/test-hosts.sh start $N failed"
    eval "$hosts_env"
    read -r -a ADDRS <<< "$SLIPWAY_TEST_SSH_HOSTS"
    HOSTS_CSV=$(IFS=,; echo "${ADDRS[*]}")
    PORT="$(free_port)"
    STATE_DIR="$BENCH_TMP/state-$N"
    CONFIG="$BENCH_TMP/fleet-$N.yml"
    {
        echo "service: hello"
        echo "run: [\"$HELLO_APP\", \"--port\", \"{{port}}\", \"--version\", \"{{version}}\"]"
        echo "health: { path: /health, interval: 50ms, timeout: 50ms, healthy: 1, unhealthy: 3, grace: 10s }"
        echo "listen: 0.0.0.0:$PORT"
        echo "replicas_per_host: 1"
        echo "servers:"
        for i in "${!ADDRS[@]}"; do echo "  - { url: ssh://root@${ADDRS[$i]}, dir: $BENCH_TMP/srv-$N-$((i + 1)) }"; done
        echo "strategy:"
        echo "  blue-green: { keep_previous: 10m, deploy_timeout: 60s, drain_timeout: 5s }"
    } > "$CONFIG"

    api_port="$(free_port)"
    "$SLIPWAY" server --state-dir "$STATE_DIR" --api "127.0.0.1:$api_port" --ssh-config "$SLIPWAY_TEST_SSH_CONFIG" > "$BENCH_TMP/server-$N.out" 2>&1 &
    SERVER_PID=$!
    export SLIPWAY_SERVER="http://127.0.0.1:$api_port"
    for _ in $(seq 600); do grep -q "API:" "$BENCH_TMP/server-$N.out" 2>/dev/null && break; sleep 0.1; done
    grep -q "API:" "$BENCH_TMP/server-$N.out" || { cat "$BENCH_TMP/server-$N.out" >&2; die "slipway server did not start"; }
    export SLIPWAY_TOKEN="$(cat "$STATE_DIR/admin.token")"
    "$SLIPWAY" apply --yes -f "$CONFIG" >/dev/null
    t0=$(date +%s.%N)
    "$SLIPWAY" servers setup > "$BENCH_TMP/setup-$N.txt" || { cat "$BENCH_TMP/setup-$N.txt" >&2; die "servers setup failed"; }
    SETUP_S=$(python3 -c "print(round($(date +%s.%N)-$t0,1))")
    "$SLIPWAY" deploy hello --version v1 --wait >/dev/null || die "first deploy failed"

    fleet_counts() {
        curl -fsS -H "Authorization: Bearer $SLIPWAY_TOKEN" "$SLIPWAY_SERVER/metrics" | python3 -c '
import sys
ssh = calls = 0
for line in sys.stdin:
    if line.startswith("slipway_fleet_ssh_commands_total{"): ssh += int(line.split()[-1])
    if line.startswith("slipway_fleet_router_calls_total{"): calls += int(line.split()[-1])
print(ssh, calls)'
    }
    read -r ssh0 calls0 <<< "$(fleet_counts)"
    cpu0=$(awk '{print $14+$15}' "/proc/$SERVER_PID/stat")
    log "deploy + rollback, $REPS repetitions, $N servers"
    python3 "$BENCH_DIR/fleet_probe.py" --mode slipway --hosts "$HOSTS_CSV" --port "$PORT" --reps "$REPS" \
        --server "$SLIPWAY_SERVER" --token "$SLIPWAY_TOKEN" > "$BENCH_TMP/slipway-$N.json"
    cpu1=$(awk '{print $14+$15}' "/proc/$SERVER_PID/stat")
    read -r ssh1 calls1 <<< "$(fleet_counts)"
    TICKS=$(getconf CLK_TCK)
    SSH_PROCS=$(pgrep -f "ControlPath=$STATE_DIR" | wc -l)

    log "peer: hello-app started on all $N servers at once, until every /health answers"
    mkdir -p "$BENCH_TMP/cm-$N"
    python3 "$BENCH_DIR/fleet_probe.py" --mode peer --hosts "$HOSTS_CSV" --reps "$REPS" --ssh-config "$SLIPWAY_TEST_SSH_CONFIG" \
        --control-dir "$BENCH_TMP/cm-$N" --hello-app "$HELLO_APP" > "$BENCH_TMP/peer-$N.json"

    python3 - "$BENCH_TMP/slipway-$N.json" "$BENCH_TMP/peer-$N.json" "$cpu0" "$cpu1" "$TICKS" "$REPS" "$SETUP_S" "$SSH_PROCS" "$((ssh1 - ssh0))" "$((calls1 - calls0))" >> "$ROWS" <<'PY'
import json, sys
s = json.load(open(sys.argv[1])); p = json.load(open(sys.argv[2]))
cpu = (float(sys.argv[4]) - float(sys.argv[3])) / float(sys.argv[5])
reps = int(sys.argv[6])
rollouts = 2 * reps
s.update({"peer_ms": p["start_health_ms"], "cpu_s": cpu, "cpu_per_server_per_rollout_ms": cpu / rollouts / s["hosts"] * 1000,
          "setup_s": float(sys.argv[7]), "ssh_processes": int(sys.argv[8]),
          "ssh_per_server_per_rollout": int(sys.argv[9]) / rollouts / s["hosts"], "calls_per_server_per_rollout": int(sys.argv[10]) / rollouts / s["hosts"]})
print(json.dumps(s))
PY
    timeout 60 "$SLIPWAY" down >/dev/null 2>&1 || true
    kill "$SERVER_PID" 2>/dev/null || true
    kill_mentioning "$BENCH_TMP/srv-$N-"
    SLIPWAY_SERVER=""; SERVER_PID=""
    "$REPO_DIR/scripts/test-hosts.sh" stop >/dev/null 2>&1 || true
done

python3 - "$ROWS" > "$BENCH_TMP/table.md" <<'PY'
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
f = lambda x: f"{x:.0f}"
print("| servers | deploy until every server serves it (median / max ms) | peer: start + health on every server at once (median ms) | Slipway beyond the peer (median ms) | servers disagree after the switch (median / max ms) | warm rollback until every server serves the old release (median / max ms) | disagree after the rollback (median / max ms) | failed polls | control-plane CPU per server per rollout | ssh processes / router calls per server per rollout | `servers setup` (cold) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
ok_deploy = ok_rollback = True
for r in rows:
    beyond = r["deploy_ms"]["median"] - r["peer_ms"]["median"]
    ok_deploy &= beyond < 1000
    ok_rollback &= r["rollback_ms"]["max"] < 200
    print(f"| {r['hosts']} | {f(r['deploy_ms']['median'])} / {f(r['deploy_ms']['max'])} | {f(r['peer_ms']['median'])} | **{f(beyond)}** | "
          f"{f(r['deploy_window_ms']['median'])} / {f(r['deploy_window_ms']['max'])} | **{f(r['rollback_ms']['median'])} / {f(r['rollback_ms']['max'])}** | "
          f"{f(r['rollback_window_ms']['median'])} / {f(r['rollback_window_ms']['max'])} | {r['poller_errors']} of {r['requests']} | {r['cpu_per_server_per_rollout_ms']:.1f} ms | {r['ssh_per_server_per_rollout']:.1f} / {r['calls_per_server_per_rollout']:.0f} | {r['setup_s']} s |")
print()
print(f"Goals: deploy beyond the peer < 1 s: **{'met' if ok_deploy else 'NOT met'}**; warm rollback to every server < 200 ms (max): **{'met' if ok_rollback else 'NOT met'}**.")
print()
print("Each repetition is a deploy (vN) and a rollback to v1 through the API (no CLI start-up); one keep-alive poller per server records which version answered. "
      "The peer starts hello-app on every server at once with one ssh command each (over a multiplexed master) and polls /health on all of them: "
      "the floor of any deploy that waits for health on every server. "
      "Control-plane cost: CPU time of the `slipway server` process and the ssh processes it started and calls it made to the servers' routers "
      "(`slipway_fleet_ssh_commands_total`, `slipway_fleet_router_calls_total`) over the deploys and rollbacks (health and numbers are read "
      "every tick while a rollout runs), divided by rollouts and servers: 100 servers cost about 100x the per-server figure.")
PY
{ bench_header "fleet" "$CMD"; echo; cat "$BENCH_TMP/table.md"; } > "$BENCH_TMP/section.md"
cat "$BENCH_TMP/table.md"
write_section fleet "$BENCH_TMP/section.md"
log "wrote the fleet section of $RESULTS_MD"
