#!/usr/bin/env bash
# Soak: SOAK_CONNECTIONS (default 1,000) keep-alive connections through the router for
# SOAK_SECONDS (default 600), sending SOAK_RATE requests per second in all (default 2,000:
# a sustained, paced load from soak_load.py, not wrk's saturating one): 80 % to a blue-green service that is deployed or rolled back
# every 30 s, 20 % to a canary service that gets a canary every 2 minutes. Every 10 s it
# samples the RSS and open file descriptors of the router and the control plane and the
# size of the state database (the server runs with --retention 2m, so the database must
# stop growing). Goals: 0 failed requests, RSS growing < 5 % after the warm-up (the first
# fifth of the run), file descriptors flat, the database bounded.
source "$(dirname "$0")/lib.sh"

SECONDS_TOTAL="${SOAK_SECONDS:-600}"
CONNECTIONS="${SOAK_CONNECTIONS:-1000}"
RATE="${SOAK_RATE:-2000}"
CMD="Benchmarks/run.sh soak"
need_pkg curl curl
build_release
make_tmp
# 1,000 client connections, as many to instances, and the router's own: above the usual
# soft limit of 1,024 descriptors: the soft limit goes up to the hard one (the server, its
# router and the load generators inherit it).
ulimit -n "$(ulimit -Hn)" || die "cannot raise the open-file limit"
[ "$(ulimit -n)" -ge 4096 ] || die "the open-file limit ($(ulimit -n)) is too low for $CONNECTIONS connections"

LISTEN="$(free_port)"
CANARY_LISTEN="$(free_port)"
write_config "$BENCH_TMP/hello.yml" "$LISTEN" 1 200ms 2
cat > "$BENCH_TMP/canary.yml" <<EOF
# Written by Benchmarks/soak.sh: a canary through two weights, analysed every 2 s.
service: soak-canary
run: ["$HELLO_APP", "--port", "{{port}}", "--version", "{{version}}"]
health: { path: /health, interval: 200ms, timeout: 200ms, healthy: 1, unhealthy: 3, grace: 10s }
listen: 127.0.0.1:$CANARY_LISTEN
replicas: 2
strategy:
  canary:
    steps: [ {weight: 20}, {pause: 15s}, {weight: 60}, {pause: 15s} ]
    keep_previous: 1m
analysis:
  default:
    interval: 2s
    checks:
      - { metric: error_rate, max: 1%, window: 10s }
EOF
start_server "$BENCH_TMP/hello.yml" --config "$BENCH_TMP/canary.yml" --retention 2m
wait_version "$LISTEN" v1 60
wait_version "$CANARY_LISTEN" v1 60
ROUTER_PID="$(router_pid)"
DB="$STATE_DIR/slipway.sqlite"

sample() {
    local t="$1" pid kb fds db
    local line="$t"
    for pid in "$ROUTER_PID" "$SERVER_PID"; do
        kb="$(awk '/^VmRSS/{print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)"
        fds="$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)"
        line="$line $kb $fds"
    done
    db=0
    for f in "$DB" "$DB-wal"; do [ -f "$f" ] && db=$((db + $(stat -c %s "$f"))); done
    # Then each process's RSS split: anonymous (heap, stacks: what a leak grows) and
    # file-backed (pages of the binary and libraries mapped in as code paths first run).
    local split=""
    for pid in "$ROUTER_PID" "$SERVER_PID"; do
        split="$split $(awk '/^RssAnon/{a=$2} /^RssFile/{f=$2} END{print (a ? a : 0), (f ? f : 0)}' "/proc/$pid/status" 2>/dev/null || echo "0 0")"
    done
    echo "$line $db$split"
}

SAMPLES="$BENCH_TMP/samples.txt"
OPS="$BENCH_TMP/ops.txt"; : > "$OPS"
MAIN_CONNECTIONS=$((CONNECTIONS * 8 / 10))
CANARY_CONNECTIONS=$((CONNECTIONS - MAIN_CONNECTIONS))
log "soak: $CONNECTIONS connections ($MAIN_CONNECTIONS blue-green, $CANARY_CONNECTIONS canary), $RATE requests/s, for ${SECONDS_TOTAL}s"
python3 "$BENCH_DIR/soak_load.py" "127.0.0.1:$LISTEN" "$MAIN_CONNECTIONS" "$((RATE * 8 / 10))" "$SECONDS_TOTAL" "$BENCH_TMP/main.json" &
MAIN_WRK=$!
BG_PIDS+=("$MAIN_WRK")
python3 "$BENCH_DIR/soak_load.py" "127.0.0.1:$CANARY_LISTEN" "$CANARY_CONNECTIONS" "$((RATE - RATE * 8 / 10))" "$SECONDS_TOTAL" "$BENCH_TMP/canary.json" &
CANARY_WRK=$!
BG_PIDS+=("$CANARY_WRK")
START=$(date +%s)

( while :; do
      now=$(( $(date +%s) - START ))
      [ "$now" -gt "$SECONDS_TOTAL" ] && break
      sample "$now"
      sleep 10
  done > "$SAMPLES" ) &
BG_PIDS+=($!)
SAMPLER=$!

# SOAK_CHANGES=0: the same load with no deploy, rollback or canary (to tell what the
# changes cost from what the load alone does).
CHANGES="${SOAK_CHANGES:-1}"

# A canary every 2 minutes (it takes about 30 s), in the background.
( n=1
  while [ "$CHANGES" = 1 ] && [ $(( $(date +%s) - START + 60 )) -lt "$SECONDS_TOTAL" ]; do
      n=$((n + 1))
      if out="$("$SLIPWAY" deploy soak-canary --version "c$n" --wait 2>&1)"; then rc=0; else rc=$?; fi
      echo "canary c$n rc=$rc $(tail -1 <<<"$out")" >> "$OPS"
      sleep 120
  done ) &
BG_PIDS+=($!)
CANARY_LOOP=$!

# A deploy or a rollback of the blue-green service every 30 s.
i=0
while [ "$CHANGES" = 1 ] && [ $(( $(date +%s) - START + 30 )) -lt "$SECONDS_TOTAL" ]; do
    next=$(( START + (i + 1) * 30 ))
    if (( i % 2 == 0 )); then
        v="v$((i / 2 + 2))"
        if out="$("$SLIPWAY" deploy hello --version "$v" --wait 2>&1)"; then rc=0; else rc=$?; fi
        echo "deploy $v rc=$rc $(tail -1 <<<"$out")" >> "$OPS"
    else
        if out="$("$SLIPWAY" rollback hello 2>&1)"; then rc=0; else rc=$?; fi
        echo "rollback rc=$rc $(tail -1 <<<"$out")" >> "$OPS"
    fi
    i=$((i + 1))
    delay=$(( next - $(date +%s) ))
    [ "$delay" -gt 0 ] && sleep "$delay"
done
log "deploys and rollbacks done; waiting for the load and the canaries to end"
wait "$MAIN_WRK" 2>/dev/null || true
wait "$CANARY_WRK" 2>/dev/null || true
wait "$CANARY_LOOP" 2>/dev/null || true
wait "$SAMPLER" 2>/dev/null || true
sample "end" >> "$SAMPLES"
cat "$OPS" >&2

python3 - "$BENCH_TMP" "$SECONDS_TOTAL" "$CONNECTIONS" "$(machine_line)" "$BENCH_LOAD_START" <<'PY' > "$BENCH_TMP/soak.md"
import re, subprocess, sys
tmp, total, connections, machine, load_before = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
import json
def load(name):
    return json.load(open(f"{tmp}/{name}.json"))
rows = [l.split() for l in open(f"{tmp}/samples.txt") if l.strip()]
timed = [(int(r[0]), [int(x) for x in r[1:]]) for r in rows if r[0] != "end"]
warm = total // 5
after = [s for t, s in timed if t >= warm]
first = after[0] if after else timed[-1][1]
last = after[-1] if after else timed[-1][1]
def growth(i):
    return 100.0 * (last[i] - first[i]) / first[i] if first[i] else float("nan")
ops = open(f"{tmp}/ops.txt").read().splitlines()
def count(prefix, ok):
    return sum(1 for o in ops if o.startswith(prefix) and (("rc=0" in o) == ok))
main, canary = load("main"), load("canary")
requests = main["requests"] + canary["requests"]
failures = {}
for part in (main, canary):
    for kind, n in part["failures"].items():
        failures[kind] = failures.get(kind, 0) + n
failed = sum(failures.values())
mb = lambda kb: f"{kb / 1024:.1f} MB"
print("## soak\n")
print(f"`Benchmarks/run.sh soak` (SOAK_SECONDS={total}, SOAK_CONNECTIONS={connections}), release build, {machine}; load before: {load_before}.")
print(f"soak_load.py keep-alive, {main['rate'] + canary['rate']:.0f} requests/s paced: 80 % of the connections to a blue-green service deployed or rolled back every 30 s, 20 % to a canary service")
print(f"with a canary (20 %, 60 %, analysis every 2 s) every 2 minutes; server `--retention 2m`; samples every 10 s; warm-up: the first {warm} s.\n")
print("| | figure | goal |\n| --- | --- | --- |")
print(f"| requests | {requests:,} ({requests / max(main['seconds'], 1):,.0f}/s) | |")
print(f"| failed requests (connection errors, timeouts, non-2xx) | {failed}{' (' + ', '.join(f'{k}: {v}' for k, v in sorted(failures.items())) + ')' if failures else ''} | 0 |")
print(f"| deploys / rollbacks / canaries that succeeded (failed) | {count('deploy', True)} ({count('deploy', False)}) / {count('rollback', True)} ({count('rollback', False)}) / {count('canary', True)} ({count('canary', False)}) | all |")
print(f"| router RSS after warm-up → end | {mb(first[0])} → {mb(last[0])} ({growth(0):+.1f} %), max {mb(max(s[0] for s in after))} | < +5 % |")
window = [s for t, s in timed if t >= 300]
if len(window) >= 2:
    print(f"| router RSS from 300 s (one statistics window: the router keeps 300 s of numbers per version) → end | {mb(window[0][0])} → {mb(window[-1][0])} ({100.0 * (window[-1][0] - window[0][0]) / window[0][0]:+.1f} %) | |")
tail = [s for t, s in timed if t >= timed[-1][0] - 120]
print(f"| router RSS over the last 2 minutes  | {mb(tail[0][0])} → {mb(tail[-1][0])} ({100.0 * (tail[-1][0] - tail[0][0]) / tail[0][0]:+.1f} %) | |")
if len(first) >= 9 and first[5]:
    print(f"| router anonymous RSS (heap, stacks) after warm-up → end | {mb(first[5])} → {mb(last[5])} ({growth(5):+.1f} %) | |")
    print(f"| router file-backed RSS (binary and libraries) after warm-up → end | {mb(first[6])} → {mb(last[6])} ({growth(6):+.1f} %) | |")
print(f"| control plane RSS after warm-up → end | {mb(first[2])} → {mb(last[2])} ({growth(2):+.1f} %), max {mb(max(s[2] for s in after))} | < +5 % |")
print(f"| router / control plane file descriptors after warm-up (min–max) | {min(s[1] for s in after)}–{max(s[1] for s in after)} / {min(s[3] for s in after)}–{max(s[3] for s in after)} | flat |")
print(f"| state database (+ WAL) after warm-up → end, max | {first[4] / 1e6:.2f} → {last[4] / 1e6:.2f} MB, max {max(s[4] for s in after) / 1e6:.2f} MB | bounded |")
print("\nSamples (s: router RSS kB, fds; control plane RSS kB, fds; database bytes; router anonymous, file-backed RSS kB; control plane anonymous, file-backed RSS kB):\n")
print("```")
for t, s in timed:
    print(t, *s)
print("```")
PY
cat "$BENCH_TMP/soak.md"
write_section soak "$BENCH_TMP/soak.md"
