#!/usr/bin/env bash
# Canary figures (issue 3), each on a fresh Slipway with the hello service, under load from
# Benchmarks/canary_probe.py (keep-alive clients on 127.0.0.1, bounded by time and count):
#  1. bad canary (FAULT_ERROR_RATE=0.2, weight 10, built-in default analysis: 5 s interval):
#     time from the canary's first request to its last (after it, 100 % on stable), and
#     failed requests beyond the canary's share;
#  2. healthy canary promoted through every step: failed requests;
#  3. latency-only regression (FAULT_LATENCY_MS=300 on 25 % of requests): verdicts of a
#     fixed 500 ms p95 threshold and of the baseline comparison in the same run;
#  4. low traffic (about 1 request/s) with the default policy: never promoted;
#  5. split accuracy over 10,000 requests at weight 10, and stickiness of 100 clients.
# No peer runs here: Flagger and Argo Rollouts need Kubernetes and a mesh or ingress. Their
# documented defaults are quoted for scale in the table, not measured.
source "$(dirname "$0")/lib.sh"

CMD="Benchmarks/run.sh canary"
need_pkg curl curl
build_release
make_tmp

# canary_config FILE PORT STEPS [EXTRA]: the hello service with a canary strategy.
canary_config() {
    cat > "$1" <<YAML
service: hello
run: ["$HELLO_APP", "--port", "{{port}}", "--version", "{{version}}"]
health: { path: /health, interval: 200ms, timeout: 200ms, healthy: 2, unhealthy: 3, grace: 10s }
listen: 127.0.0.1:$2
replicas: 1
strategy:
  canary: { steps: $3, keep_previous: 10m, deploy_timeout: 60s, drain_timeout: 10s }
${4:-}
YAML
}

# scenario NAME STEPS EXTRA_YAML PROBE_ARGS DEPLOY_ARGS WATCH_SECONDS
# Starts a server, starts the probe, deploys v2, waits for the rollout to end (or
# WATCH_SECONDS), stops the probe, and saves probe.json, why.json and rollout.json.
scenario() {
    local name="$1" steps="$2" extra="$3" probe_args="$4" deploy_args="$5" watch="$6"
    local dir="$BENCH_TMP/$name" port
    mkdir -p "$dir"
    STATE_DIR="$dir/state"
    port="$(free_port)"
    canary_config "$dir/hello.yml" "$port" "$steps" "$extra"
    start_server "$dir/hello.yml"
    wait_version "$port" v1 60
    log "$name: probe ($probe_args), deploy v2 ($deploy_args)"
    # shellcheck disable=SC2086
    python3 "$BENCH_DIR/canary_probe.py" --port "$port" --seconds $((watch + 30)) --stop-file "$dir/stop" $probe_args > "$dir/probe.json" &
    local probe=$!
    BG_PIDS+=("$probe")
    sleep 1
    # shellcheck disable=SC2086
    "$SLIPWAY" deploy hello --version v2 $deploy_args > "$dir/deploy.out" 2>&1 || true
    local i phase=""
    for i in $(seq 1 $((watch * 5))); do
        phase="$("$SLIPWAY" history hello -o json | python3 -c 'import json,sys; print(json.load(sys.stdin)[0]["phase"])')"
        case "$phase" in succeeded|failed) break ;; esac
        sleep 0.2
    done
    sleep 1
    touch "$dir/stop"
    wait "$probe" || true
    "$SLIPWAY" why hello -o json > "$dir/why.json"
    "$SLIPWAY" why hello > "$dir/why.txt"
    "$SLIPWAY" history hello -o json > "$dir/history.json"
    SCENARIO_PORT="$port"
}

# 1. Bad canary under steady load, built-in default analysis.
scenario bad "[ {weight: 10}, {pause: 10m} ]" "" "--threads 8" "--set-env FAULT_ERROR_RATE=0.2" 60
stop_slipway
# 2. Healthy canary through every step (default analysis gates each pause).
scenario healthy "[ {weight: 10}, {pause: 10s}, {weight: 50}, {pause: 10s} ]" "" "--threads 8" "" 120
stop_slipway
# 3. Latency regression on a quarter of the canary's requests.
scenario latency "[ {weight: 50}, {pause: 10m} ]" "analysis:
  default:
    interval: 5s
    checks:
      - { metric: latency_p95, max: 500ms }
      - { compare: baseline, metric: latency, significance: 0.01, min_effect: 0.1 }" \
    "--threads 16" "--set-env FAULT_LATENCY_MS=300 --set-env FAULT_LATENCY_RATE=0.25" 90
stop_slipway
# 4. Low traffic: about one request a second; watched for 75 s (the default policy pauses
#    after 12 inconclusive runs, 60 s).
scenario lowtraffic "[ {weight: 10}, {pause: 10s} ]" "" "--threads 1 --pace 1" "" 75
"$SLIPWAY" abort hello > /dev/null 2>&1 || true
stop_slipway
# 5. Split accuracy and stickiness at weight 10 (held by a pause until promoted).
dir="$BENCH_TMP/split"; mkdir -p "$dir"; STATE_DIR="$dir/state"; port="$(free_port)"
canary_config "$dir/hello.yml" "$port" "[ {weight: 10}, {pause: {}} ]"
start_server "$dir/hello.yml"
wait_version "$port" v1 60
"$SLIPWAY" deploy hello --version v2 > /dev/null
for i in $(seq 1 300); do
    "$SLIPWAY" history hello -o json | python3 -c 'import json,sys; r=json.load(sys.stdin)[0]; sys.exit(0 if r["phase"]=="paused" else 1)' && break
    sleep 0.2
done
python3 "$BENCH_DIR/canary_probe.py" --port "$port" --threads 4 --seconds 120 --max-requests 10000 > "$dir/split.json"
python3 "$BENCH_DIR/canary_probe.py" --port "$port" --threads 100 --seconds 120 --cookies --requests-per-client 100 > "$dir/sticky.json"
"$SLIPWAY" abort hello > /dev/null 2>&1 || true
stop_slipway

python3 "$BENCH_DIR/report_canary.py" "$BENCH_TMP" > "$BENCH_TMP/table.md"
{ bench_header "canary" "$CMD"; cat "$BENCH_TMP/table.md"; } > "$BENCH_TMP/section.md"
cat "$BENCH_TMP/table.md"
write_section canary "$BENCH_TMP/section.md"
log "wrote the canary section of $RESULTS_MD"
