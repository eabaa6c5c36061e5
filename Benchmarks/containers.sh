#!/usr/bin/env bash
# Containers on a private Docker Engine (Debian's docker.io, started by
# scripts/test-engines.sh), each figure against what a Docker user has without Slipway:
#   1. deploy overhead: Slipway's deploy of a container release until the router serves it,
#      against the engine's own create + start + first passing health check (same image);
#   2. warm rollback: from the `slipway rollback` command to every new request on the old
#      release, against switching back by hand (`docker stop` + `docker run` on the port);
#   3. zero downtime: failed requests under `wrk -t2 -c64` across 20 deploys + 20
#      rollbacks, against 40 container replacements by hand on the same published port.
source "$(dirname "$0")/lib.sh"

REPS="${CONTAINER_REPS:-5}"
ROLLBACK_REPS="${ROLLBACK_REPS:-10}"
SWITCH_PAIRS="${SWITCH_PAIRS:-20}"
WRK_MAX_S=1200
CMD="Benchmarks/run.sh containers"

need_pkg wrk wrk; need_pkg curl curl
build_release
make_tmp

# The engine: short paths (unix sockets), its own registry port, stopped on exit.
export SLIPWAY_TEST_ENGINES=/tmp/slipway-bench-engines
export SLIPWAY_TEST_REGISTRY_PORT="$(free_port)"
bench_exit() {
    local rc=$?
    set +e
    if [ -n "$SLIPWAY_SERVER" ]; then timeout 60 "$SLIPWAY" down >/dev/null 2>&1; fi
    for c in $(docker ps -aq --filter label=bench.peer 2>/dev/null); do docker rm -f "$c" >/dev/null 2>&1; done
    "$REPO_DIR/scripts/test-engines.sh" stop >/dev/null 2>&1
    (exit "$rc")
    cleanup
}
trap bench_exit EXIT
eval "$("$REPO_DIR/scripts/test-engines.sh" start)"
SOCK="${SLIPWAY_TEST_DOCKER_HOST#unix://}"
export DOCKER_HOST="$SLIPWAY_TEST_DOCKER_HOST"
DOCKER=/usr/bin/docker

# ---------------------------------------------------------------- the image
# The release hello-app with the libraries it links and a static busybox, FROM scratch.
ROOT="$BENCH_TMP/rootfs"; mkdir -p "$ROOT/bin" "$ROOT/tmp"
cp "$HELLO_APP" "$ROOT/hello-app"
cp /bin/busybox "$ROOT/bin/busybox"; ln -s busybox "$ROOT/bin/sh"
LIBDIRS=""
for lib in $(ldd "$HELLO_APP" | awk '/=>/ {print $3} /^[[:space:]]*\// {print $1}'); do
    mkdir -p "$ROOT$(dirname "$lib")"; cp -L "$lib" "$ROOT$lib"
    case ":$LIBDIRS:" in *":$(dirname "$lib"):"*) ;; *) LIBDIRS="${LIBDIRS:+$LIBDIRS:}$(dirname "$lib")" ;; esac
done
tar -C "$ROOT" -cf "$BENCH_TMP/rootfs.tar" .
q() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
curl -fsS --unix-socket "$SOCK" -X POST -H 'Content-Type: application/x-tar' --data-binary @"$BENCH_TMP/rootfs.tar" \
    "http://d/v1.41/images/create?fromSrc=-&repo=bench/hello:v1&changes=$(q 'ENV HOST=0.0.0.0')&changes=$(q "ENV LD_LIBRARY_PATH=$LIBDIRS")&changes=$(q 'CMD ["/hello-app"]')" >/dev/null
IMAGE_ID="$($DOCKER image inspect bench/hello:v1 --format '{{.Id}}')"
for n in $(seq 2 $((SWITCH_PAIRS + ROLLBACK_REPS + REPS + 5))); do $DOCKER tag bench/hello:v1 "bench/hello:v$n"; done
log "image bench/hello:v1 = $IMAGE_ID (tagged v1…v$((SWITCH_PAIRS + ROLLBACK_REPS + REPS + 5)))"

container_config() { # FILE PORT REPLICAS
    cat > "$1" <<YAML
service: hello
image: bench/hello:{{version}}
pull: never
health: { path: /health, interval: 50ms, timeout: 50ms, healthy: 1, unhealthy: 3, grace: 10s }
listen: 127.0.0.1:$2
replicas: $3
strategy:
  blue-green: { keep_previous: 10m, deploy_timeout: 60s, drain_timeout: 30s }
YAML
}

start_container_server() { # CONFIG
    start_server "$1"
    # start_server does not pass --docker-host; the server reads DOCKER_HOST.
}

# ---------------------------------------------------------------- 1. deploy overhead
LISTEN="$(free_port)"
container_config "$BENCH_TMP/hello.yml" "$LISTEN" 1
start_container_server "$BENCH_TMP/hello.yml"
wait_version "$LISTEN" v1 60
log "deploy overhead: $REPS Slipway deploys, then $REPS create+start+health by hand"
python3 "$BENCH_DIR/container_probe.py" --mode slipway --reps "$REPS" --port "$LISTEN" --first 2 > "$BENCH_TMP/deploy-slipway.json"
stop_slipway
python3 "$BENCH_DIR/container_probe.py" --mode engine --reps "$REPS" --socket "$SOCK" --image "$IMAGE_ID" --host-port "$(free_port)" > "$BENCH_TMP/deploy-engine.json"

# ---------------------------------------------------------------- 2. warm rollback
rm -rf "$STATE_DIR"
LISTEN="$(free_port)"
container_config "$BENCH_TMP/hello2.yml" "$LISTEN" 2
start_container_server "$BENCH_TMP/hello2.yml"
wait_version "$LISTEN" v1 60
log "warm rollback: $ROLLBACK_REPS deploy + rollback repetitions on containers"
python3 "$BENCH_DIR/rollback_probe.py" --mode slipway --port "$LISTEN" --reps "$ROLLBACK_REPS" --slipway "$SLIPWAY" --old v1 \
    > "$BENCH_TMP/rollback-slipway.json" 2> "$BENCH_TMP/rollback-slipway.err" || { cat "$BENCH_TMP/rollback-slipway.err" >&2; die "slipway rollback probe failed"; }
stop_slipway

# The peer: one published port, the old container stopped and the other run in its place.
PP="$(free_port)"
swap_cmd() { # VERSION-LABEL-TO-RUN
    echo "$DOCKER rm -f bench-peer >/dev/null 2>&1; $DOCKER run -d --pull=never --init --name bench-peer --label bench.peer=1 -e PORT=$PP -e SLIPWAY_VERSION=$1 -p 127.0.0.1:$PP:$PP bench/hello:v1 >/dev/null"
}
eval "$(swap_cmd a)"
wait_http "http://127.0.0.1:$PP/health" 30
python3 "$BENCH_DIR/rollback_probe.py" --mode shell --port "$PP" --reps "$ROLLBACK_REPS" --old a --new b \
    --to-new "$(swap_cmd b)" --to-old "$(swap_cmd a)" > "$BENCH_TMP/rollback-docker.json" 2> "$BENCH_TMP/rollback-docker.err" \
    || { cat "$BENCH_TMP/rollback-docker.err" >&2; die "docker rollback probe failed"; }
$DOCKER rm -f bench-peer >/dev/null

# ---------------------------------------------------------------- 3. zero downtime
rm -rf "$STATE_DIR"
LISTEN="$(free_port)"
container_config "$BENCH_TMP/hello3.yml" "$LISTEN" 2
start_container_server "$BENCH_TMP/hello3.yml"
wait_version "$LISTEN" v1 60
log "zero downtime: wrk -t2 -c64 through the router across $SWITCH_PAIRS deploy/rollback pairs"
FAILED_OPS=0
wrk_start "$BENCH_TMP/wrk-slipway.txt" -t2 -c64 -d${WRK_MAX_S}s --timeout 5s --latency -s "$LUA_COUNTER" "http://127.0.0.1:$LISTEN/"
sleep 2
T0=$(date +%s.%N)
for i in $(seq 1 "$SWITCH_PAIRS"); do
    "$SLIPWAY" deploy hello --version "v$((i + 1))" --wait >> "$BENCH_TMP/ops.log" 2>&1 || FAILED_OPS=$((FAILED_OPS + 1))
    "$SLIPWAY" rollback hello >> "$BENCH_TMP/ops.log" 2>&1 || FAILED_OPS=$((FAILED_OPS + 1))
done
T1=$(date +%s.%N)
sleep 2
wrk_stop
SW_S=$(python3 -c "print(round($T1-$T0,1))")
stop_slipway

log "peer: $((SWITCH_PAIRS * 2)) container replacements by hand under the same load"
eval "$(swap_cmd a)"
wait_http "http://127.0.0.1:$PP/health" 30
wrk_start "$BENCH_TMP/wrk-docker.txt" -t2 -c64 -d${WRK_MAX_S}s --timeout 5s --latency -s "$LUA_COUNTER" "http://127.0.0.1:$PP/"
sleep 2
T0=$(date +%s.%N)
for i in $(seq 1 $((SWITCH_PAIRS * 2))); do
    if [ $((i % 2)) = 1 ]; then eval "$(swap_cmd b)"; else eval "$(swap_cmd a)"; fi
    # As a careful operator would: wait until the new container answers before the next swap.
    wait_http "http://127.0.0.1:$PP/health" 30
done
T1=$(date +%s.%N)
sleep 2
wrk_stop
DK_S=$(python3 -c "print(round($T1-$T0,1))")
$DOCKER rm -f bench-peer >/dev/null

# ---------------------------------------------------------------- report
python3 - "$BENCH_TMP" "$SWITCH_PAIRS" "$SW_S" "$DK_S" "$FAILED_OPS" "$BENCH_DIR" > "$BENCH_TMP/table.md" <<'PY'
import json, subprocess, sys
tmp, pairs, sw_s, dk_s, failed_ops, bench = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], int(sys.argv[5]), sys.argv[6]
ds = json.load(open(f"{tmp}/deploy-slipway.json")); de = json.load(open(f"{tmp}/deploy-engine.json"))
rs = json.load(open(f"{tmp}/rollback-slipway.json")); rd = json.load(open(f"{tmp}/rollback-docker.json"))
def wrk(name):
    out = subprocess.run(["python3", f"{bench}/wrkparse.py", f"{tmp}/wrk-{name}.txt"], capture_output=True, text=True).stdout
    return dict(line.split("=", 1) for line in out.split() if "=" in line)
ws, wd = wrk("slipway"), wrk("docker")
f = lambda x: "-" if x is None else f"{float(x):.0f}"
med = lambda d: d["live_ms"]["median"]
overhead = med(ds) - med(de)
print("### Deploy overhead (replicas 1, health every 50 ms, healthy: 1)")
print()
print("| | Slipway deploy until the router serves it | peer: create + start + first passing /health by hand | overhead |")
print("| --- | --- | --- | --- |")
print(f"| median (ms) | {f(med(ds))} | {f(med(de))} | **{f(overhead)}** |")
print(f"| min / max (ms) | {f(ds['live_ms']['min'])} / {f(ds['live_ms']['max'])} | {f(de['live_ms']['min'])} / {f(de['live_ms']['max'])} | |")
cs = sorted(x["create_start_ms"] for x in ds["detail"] if x.get("create_start_ms") is not None)
hs = sorted(x["to_healthy_ms"] for x in ds["detail"] if x.get("to_healthy_ms") is not None)
ps = sorted(x["prepare_ms"] for x in ds["detail"] if x.get("prepare_ms") is not None)
print(f"| of which: pin the image / create + start / to healthy (median, ms) | {f(ps[len(ps)//2] if ps else None)} / {f(cs[len(cs)//2] if cs else None)} / {f(hs[len(hs)//2] if hs else None)} | — / {f(sorted(x['create_start_ms'] for x in de['detail'])[len(de['detail'])//2])} / {f(sorted(x['to_healthy_ms'] for x in de['detail'])[len(de['detail'])//2])} | |")
print()
print(f"Goal (overhead < 300 ms): **{'met' if overhead < 300 else 'NOT met'}**.")
print()
print("### Warm rollback on containers")
print()
print("| | Slipway `rollback` (previous release warm) | peer: `docker rm -f` + `docker run` on the same port | Slipway / peer |")
print("| --- | --- | --- | --- |")
r = lambda a, b: "-" if a is None or not b else f"{a / b:.3f}"
print(f"| repetitions measured | {rs['measured']}/{rs['reps']} | {rd['measured']}/{rd['reps']} | |")
print(f"| switch-back latency, median (ms) | {f(rs['switch_ms_median'])} | {f(rd['switch_ms_median'])} | {r(rs['switch_ms_median'], rd['switch_ms_median'])} |")
print(f"| switch-back latency, max (ms) | {f(rs['switch_ms_max'])} | {f(rd['switch_ms_max'])} | {r(rs['switch_ms_max'], rd['switch_ms_max'])} |")
print(f"| client errors during the run (one keep-alive poller) | {rs['poller_errors']} | {rd['poller_errors']} | |")
goal = rs["switch_ms_max"] is not None and rs["switch_ms_max"] < 100 and rs["measured"] == rs["reps"]
print()
print(f"Goal (< 100 ms, every repetition): **{'met' if goal else 'NOT met'}** (includes starting the `slipway` CLI process).")
print()
print(f"### Zero downtime: {pairs} deploys + {pairs} rollbacks under `wrk -t2 -c64`")
print()
print("| | Slipway (containers, replicas 2) | peer: replace the container by hand, same port | ")
print("| --- | --- | --- |")
print(f"| switches | {pairs * 2} in {sw_s} s ({failed_ops} failed commands) | {pairs * 2} in {dk_s} s |")
print(f"| requests | {ws.get('requests')} | {wd.get('requests')} |")
print(f"| socket errors (connect / read / write / timeout) | {ws.get('connect')} / {ws.get('read')} / {ws.get('write')} / {ws.get('timeout')} | {wd.get('connect')} / {wd.get('read')} / {wd.get('write')} / {wd.get('timeout')} |")
print(f"| non-2xx responses | {ws.get('non2xx')} | {wd.get('non2xx')} |")
failed = sum(int(ws.get(k, 0) or 0) for k in ("connect", "read", "write", "timeout", "non2xx"))
print()
print(f"Goal (0 failed requests): **{'met' if failed == 0 and failed_ops == 0 else 'NOT met'}** ({failed} failed requests through Slipway).")
PY
{ bench_header "containers" "$CMD"; echo "- engine: $($DOCKER version --format 'Docker Engine {{.Server.Version}} (API {{.Server.APIVersion}})')"; echo; cat "$BENCH_TMP/table.md"; } > "$BENCH_TMP/section.md"
cat "$BENCH_TMP/table.md"
write_section containers "$BENCH_TMP/section.md"
log "wrote the containers section of $RESULTS_MD"
