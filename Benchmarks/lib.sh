# Shared helpers of the Slipway benchmark scripts. Sourced, not run.
# Everything here stays on 127.0.0.1 and every load has a duration or a count.

set -euo pipefail

BENCH_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_DIR="$(cd "$BENCH_DIR/.." && pwd)"
# SLIPWAY_BENCH_BIN_DIR: only to dry-run the scripts with other binaries (e.g. debug).
BIN_DIR="${SLIPWAY_BENCH_BIN_DIR:-$REPO_DIR/.build/release}"
SLIPWAY="$BIN_DIR/slipway"
HELLO_APP="$BIN_DIR/hello-app"
RESULTS_MD="$BENCH_DIR/RESULTS.md"
LUA_COUNTER="$BENCH_DIR/count-non2xx.lua"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "FATAL: $*"; exit 1; }

# ---------------------------------------------------------------------------
# Packages and binaries

APT_UPDATED=0
# need_pkg COMMAND PACKAGE: installs PACKAGE with apt-get when COMMAND is missing.
need_pkg() {
    local cmd="$1" pkg="$2"
    command -v "$cmd" >/dev/null 2>&1 && return 0
    log "installing $pkg (for $cmd)"
    if [ "$APT_UPDATED" = 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
        APT_UPDATED=1
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null
    command -v "$cmd" >/dev/null 2>&1 || die "$pkg installed but $cmd still missing"
    # Debian's post-install may start the packaged daemon: stop it, we run our own.
    case "$pkg" in
        nginx*) [ -f /run/nginx.pid ] && kill "$(cat /run/nginx.pid)" 2>/dev/null || true ;;
        haproxy) [ -f /run/haproxy.pid ] && kill "$(cat /run/haproxy.pid)" 2>/dev/null || true ;;
    esac
}

# Builds the two release products once per invocation of run.sh (SLIPWAY_BENCH_BUILT=1
# is exported after a successful build; SLIPWAY_BENCH_SKIP_BUILD=1 skips it entirely).
build_release() {
    if [ "${SLIPWAY_BENCH_SKIP_BUILD:-0}" = 1 ] || [ "${SLIPWAY_BENCH_BUILT:-0}" = 1 ]; then
        [ -x "$SLIPWAY" ] && [ -x "$HELLO_APP" ] || die "release binaries missing: $SLIPWAY, $HELLO_APP"
        return 0
    fi
    log "building release binaries (slow the first time: ~10+ min)"
    (cd "$REPO_DIR" && swift build -c release --product slipway && swift build -c release --product hello-app) >&2 \
        || die "release build failed"
    export SLIPWAY_BENCH_BUILT=1
}

# ---------------------------------------------------------------------------
# Temporary directory, processes and cleanup

BENCH_TMP=""
BG_PIDS=()          # processes started by this script (wrk, hello-app, python, ...)
NGINX_CONF=""       # set when our nginx runs
HAPROXY_PID_FILE="" # set when our haproxy runs
STATE_DIR=""        # slipway state dir
SLIPWAY_SERVER=""   # the API URL of our slipway server
SERVER_PID=""

make_tmp() {
    BENCH_LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg), $(other_compilers)"
    BENCH_TMP="$(mktemp -d /tmp/slipway-bench.XXXXXX)"
    STATE_DIR="$BENCH_TMP/state"
    trap cleanup EXIT
    trap 'exit 130' INT TERM
}

# Kills (SIGKILL) every process whose command line mentions $1 or whose stdout/stderr
# is a file under $1: the fallback when `slipway down` did not stop everything.
kill_mentioning() {
    local text="$1" pid cmd fd target
    [ -n "$text" ] || return 0
    for pid in /proc/[0-9]*; do
        pid="${pid#/proc/}"
        [ "$pid" = "$$" ] && continue
        cmd="$( { tr '\0' ' ' < "/proc/$pid/cmdline"; } 2>/dev/null || true)"
        if [[ "$cmd" == *"$text"* ]] && [[ "$cmd" != *kill_mentioning* ]]; then
            kill -9 "$pid" 2>/dev/null || true
            continue
        fi
        for fd in 1 2; do
            target="$(readlink "/proc/$pid/fd/$fd" 2>/dev/null || true)"
            if [[ "$target" == "$text"* ]]; then kill -9 "$pid" 2>/dev/null || true; break; fi
        done
    done
}

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    log "cleaning up"
    for pid in "${BG_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
    stop_nginx
    stop_haproxy
    if [ -n "$SLIPWAY_SERVER" ] && [ -x "$SLIPWAY" ]; then
        SLIPWAY_SERVER="$SLIPWAY_SERVER" timeout 60 "$SLIPWAY" down >/dev/null 2>&1
        [ -n "$SERVER_PID" ] && for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    fi
    sleep 0.3
    for pid in "${BG_PIDS[@]}"; do kill -9 "$pid" 2>/dev/null; done
    [ -n "$BENCH_TMP" ] && kill_mentioning "$BENCH_TMP"
    if [ -n "$BENCH_TMP" ] && [ "${SLIPWAY_BENCH_KEEP_TMP:-0}" != 1 ]; then rm -rf "$BENCH_TMP"; fi
    [ -n "$BENCH_TMP" ] && [ "${SLIPWAY_BENCH_KEEP_TMP:-0}" = 1 ] && log "kept $BENCH_TMP"
    exit "$rc"
}

# A free TCP port on 127.0.0.1 (bound then released by the kernel's choice).
free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'
}

# wait_http URL [SECONDS]: until URL answers 2xx.
wait_http() {
    local url="$1" secs="${2:-30}" i
    for i in $(seq 1 $((secs * 10))); do
        curl -fsS -o /dev/null --max-time 1 "$url" 2>/dev/null && return 0
        sleep 0.1
    done
    die "$url did not answer within ${secs}s"
}

# ---------------------------------------------------------------------------
# Slipway

# write_config FILE LISTEN_PORT [HEALTHY] [INTERVAL] [REPLICAS]
write_config() {
    local file="$1" port="$2" healthy="${3:-2}" interval="${4:-200ms}" replicas="${5:-2}"
    cat > "$file" <<EOF
# Written by Benchmarks/lib.sh: Examples/hello/slipway.yml with a free listen port.
service: hello
run: ["$HELLO_APP", "--port", "{{port}}", "--version", "{{version}}"]
health:
  path: /health
  interval: $interval
  timeout: $interval
  healthy: $healthy
  unhealthy: 3
  grace: 10s
listen: 127.0.0.1:$port
replicas: $replicas
strategy:
  blue-green:
    keep_previous: 10m
    deploy_timeout: 60s
    drain_timeout: 30s
EOF
}

# start_server CONFIG [ARGS...]: starts `slipway server` on $STATE_DIR with a free API port
# (and ARGS) and waits for its readiness line.
start_server() {
    local config="$1" api_port out
    shift
    api_port="$(free_port)"
    out="$BENCH_TMP/server.$(date +%s%N).out"
    "$SLIPWAY" server --state-dir "$STATE_DIR" --api "127.0.0.1:$api_port" --config "$config" "$@" > "$out" 2>&1 &
    SERVER_PID=$!
    SLIPWAY_SERVER="http://127.0.0.1:$api_port"
    export SLIPWAY_SERVER
    local i
    for i in $(seq 1 600); do
        grep -q "API:" "$out" 2>/dev/null && break
        kill -0 "$SERVER_PID" 2>/dev/null || { cat "$out" >&2; die "slipway server exited"; }
        sleep 0.1
    done
    grep -q "API:" "$out" || { cat "$out" >&2; die "slipway server did not print its API URL"; }
    SERVER_LOG="$out"
    # The first admin token of the state directory (the CLI and curl send it).
    SLIPWAY_TOKEN="$(cat "$STATE_DIR/admin.token")"
    export SLIPWAY_TOKEN
}

# wait_version PORT VERSION [SECONDS]: until GET / through PORT answers VERSION.
wait_version() {
    local port="$1" want="$2" secs="${3:-60}" got i
    for i in $(seq 1 $((secs * 10))); do
        got="$(curl -fsS -D - -o /dev/null --max-time 1 "http://127.0.0.1:$port/" 2>/dev/null | tr -d '\r' | awk -F': ' 'tolower($1)=="x-version"{print $2}' || true)"
        [ "$got" = "$want" ] && return 0
        sleep 0.1
    done
    die "127.0.0.1:$port did not serve $want within ${secs}s (last: ${got:-nothing})"
}

router_pid() { head -1 "$STATE_DIR/router.pid"; }

# start_example_service: the example hello service (2 instances) on a free port (LISTEN),
# served as v1 through the router; its instances' ports in PORTS.
start_example_service() {
    LISTEN="$(free_port)"
    write_config "$BENCH_TMP/hello.yml" "$LISTEN" 2 500ms 2
    start_server "$BENCH_TMP/hello.yml"
    wait_version "$LISTEN" v1 60
    read -r -a PORTS <<< "$(instance_ports v1)"
    [ "${#PORTS[@]}" = 2 ] || die "expected 2 running v1 instances, got: ${PORTS[*]:-none}"
}

# CPU time (utime + stime, clock ticks) and context switches (all threads) of processes.
cpu_ticks() { local t=0 p; for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done; echo "$t"; }
ctx_switches() { local t=0 p f; for p in "$@"; do for f in /proc/$p/task/*/status; do t=$((t + $(awk '/ctxt_switches/{s+=$2} END{print s+0}' "$f" 2>/dev/null || echo 0))); done; done; echo "$t"; }

# instance_ports VERSION: the ports of the running instances of VERSION.
instance_ports() {
    "$SLIPWAY" status hello -o json | python3 -c '
import json, sys
s = json.load(sys.stdin)
print(" ".join(str(i["port"]) for i in s["instances"] if i["version"] == sys.argv[1] and i["state"] == "running"))
' "$1"
}

# ---------------------------------------------------------------------------
# Peers: nginx and HAProxy with our own config files

NGINX_DIR=""
# start_nginx LISTEN_PORT UPSTREAM_FILE: nginx reverse proxy, 2 workers, keep-alive to
# the upstreams listed (as `server ...;` lines) in UPSTREAM_FILE.
start_nginx() {
    local port="$1" upstream="$2"
    NGINX_DIR="$BENCH_TMP/nginx"
    mkdir -p "$NGINX_DIR/tmp"
    NGINX_CONF="$NGINX_DIR/nginx.conf"
    cat > "$NGINX_CONF" <<EOF
worker_processes 2;
worker_rlimit_nofile 8192;
pid $NGINX_DIR/nginx.pid;
error_log $NGINX_DIR/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $NGINX_DIR/tmp/body;
    proxy_temp_path $NGINX_DIR/tmp/proxy;
    fastcgi_temp_path $NGINX_DIR/tmp/fastcgi;
    uwsgi_temp_path $NGINX_DIR/tmp/uwsgi;
    scgi_temp_path $NGINX_DIR/tmp/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    upstream app {
        include $upstream;
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$port;
        location / {
            proxy_pass http://app;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
        }
    }
}
EOF
    nginx -t -q -p "$NGINX_DIR" -c "$NGINX_CONF" -e "$NGINX_DIR/error.log" || die "nginx config invalid"
    nginx -p "$NGINX_DIR" -c "$NGINX_CONF" -e "$NGINX_DIR/error.log" || die "nginx did not start"
    wait_http "http://127.0.0.1:$port/" 10
}

reload_nginx() { nginx -p "$NGINX_DIR" -c "$NGINX_CONF" -e "$NGINX_DIR/error.log" -s reload; }

stop_nginx() {
    [ -n "$NGINX_CONF" ] || return 0
    local pid
    pid="$(cat "$NGINX_DIR/nginx.pid" 2>/dev/null || true)"
    nginx -p "$NGINX_DIR" -c "$NGINX_CONF" -e "$NGINX_DIR/error.log" -s stop 2>/dev/null || true
    [ -n "$pid" ] && for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    NGINX_CONF=""
}

# start_haproxy LISTEN_PORT BACKEND_PORT...: HTTP mode, 2 threads, connection reuse.
start_haproxy() {
    local port="$1"; shift
    local dir="$BENCH_TMP/haproxy" n=0 p
    mkdir -p "$dir"
    HAPROXY_PID_FILE="$dir/haproxy.pid"
    {
        cat <<EOF
global
    nbthread 2
    maxconn 8000
    pidfile $HAPROXY_PID_FILE
defaults
    mode http
    option http-keep-alive
    timeout connect 5s
    timeout client 60s
    timeout server 60s
    timeout http-keep-alive 60s
frontend fe
    bind 127.0.0.1:$port
    default_backend app
backend app
    balance roundrobin
    http-reuse always
EOF
        for p in "$@"; do n=$((n + 1)); echo "    server s$n 127.0.0.1:$p"; done
    } > "$dir/haproxy.cfg"
    haproxy -c -q -f "$dir/haproxy.cfg" || die "haproxy config invalid"
    haproxy -D -f "$dir/haproxy.cfg" || die "haproxy did not start"
    wait_http "http://127.0.0.1:$port/" 10
}

stop_haproxy() {
    [ -n "$HAPROXY_PID_FILE" ] || return 0
    local pid
    pid="$(cat "$HAPROXY_PID_FILE" 2>/dev/null || true)"
    [ -n "$pid" ] && kill "$pid" 2>/dev/null
    [ -n "$pid" ] && for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    HAPROXY_PID_FILE=""
}

# start_hello PORT VERSION: a standalone hello-app (peer backends).
start_hello() {
    "$HELLO_APP" --port "$1" --version "$2" > "$BENCH_TMP/hello-$2-$1.log" 2>&1 &
    BG_PIDS+=($!)
    wait_http "http://127.0.0.1:$1/health" 10
}

# ---------------------------------------------------------------------------
# wrk

# wrk_start OUTFILE ARGS...: wrk in the background (its pid in WRK_PID).
wrk_start() {
    local out="$1"; shift
    wrk "$@" > "$out" 2>&1 &
    WRK_PID=$!
    BG_PIDS+=("$WRK_PID")
}

# wrk_stop: SIGINT makes wrk stop early and still print its summary and run done().
wrk_stop() {
    kill -INT "$WRK_PID" 2>/dev/null || true
    wait "$WRK_PID" 2>/dev/null || true
}

# wrk_parse OUTFILE: prints "key=value" lines: requests, duration_s, rps, p99_ms,
# connect, read, write, timeout, non2xx (from the Lua counter when present, else wrk's
# own "Non-2xx or 3xx" line).
wrk_parse() { python3 "$BENCH_DIR/wrkparse.py" "$1"; }

# ---------------------------------------------------------------------------
# Machine description and RESULTS.md

machine_line() {
    printf '%s cores, %s, %s GB RAM, %s' "$(nproc)" \
        "$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)" \
        "$(awk '/MemTotal/{printf "%.0f", $2/1048576}' /proc/meminfo)" \
        "$(uname -r)"
}

# write_section NAME FILE: replaces (or appends) the section NAME of RESULTS.md with the
# markdown in FILE.
write_section() { python3 "$BENCH_DIR/results_md.py" "$RESULTS_MD" "$1" "$2"; }

# How many compiler processes not started by us are running right now.
other_compilers() {
    local n
    n="$(ps -eo comm= | grep -c -E '^(swift-frontend|swift-build|swiftc|clang|ld|lld)' || true)"
    echo "$n compiler processes running"
}

bench_header() {
    # bench_header TITLE COMMAND -> markdown preamble of a section
    cat <<EOF
## $1

- date: $(date -u '+%Y-%m-%d %H:%M UTC')
- machine: $(machine_line)
- command: \`$2\`
- tree at run time: $(cd "$REPO_DIR" && git rev-parse --short HEAD 2>/dev/null || echo unknown)$(cd "$REPO_DIR" && [ -n "$(git status --porcelain -- Sources 2>/dev/null)" ] && echo " + uncommitted changes in Sources/")
- tools: $(wrk -v 2>&1 | head -1 | awk '{print $1, $2}'), $(nginx -v 2>&1 | sed 's/.*: //'), $(haproxy -v 2>/dev/null | head -1 | awk '{print "haproxy " $3}')
- binaries: .build/release/slipway built $(date -u -r "$SLIPWAY" '+%Y-%m-%d %H:%M UTC' 2>/dev/null || echo '?')
- load when the run started: ${BENCH_LOAD_START:-?}; when it ended: $(cut -d' ' -f1-3 /proc/loadavg), $(other_compilers) (other engineers share this machine; compiler processes steal CPU from the measurement)

EOF
}

# Stops the Slipway run (control plane, data plane, instances) and waits for the server
# process, so the peer measured next does not share the CPU with it.
stop_slipway() {
    "$SLIPWAY" down >/dev/null 2>&1 || log "slipway down failed"
    for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
    SLIPWAY_SERVER=""
    kill_mentioning "$STATE_DIR"
}

# The nginx peer: two standalone hello-app processes a (port PA) and b (PB) and nginx on NP
# with its upstream file UP pointing at a. Sets PA, PB, NP and UP.
start_nginx_peer() {
    PA="$(free_port)"; PB="$(free_port)"; NP="$(free_port)"
    start_hello "$PA" a
    start_hello "$PB" b
    UP="$BENCH_TMP/upstream.conf"
    echo "server 127.0.0.1:$PA;" > "$UP"
    start_nginx "$NP" "$UP"
}

# timed NAME COMMAND...: wall seconds of one run (under /usr/bin/time) appended to
# $BENCH_TMP/NAME.times; output in NAME.out / NAME.err; a failure ends the benchmark.
timed() {
    local name="$1"; shift
    /usr/bin/time -f '%e' -o "$BENCH_TMP/$name.t" "$@" > "$BENCH_TMP/$name.out" 2> "$BENCH_TMP/$name.err" \
        || { cat "$BENCH_TMP/$name.err" "$BENCH_TMP/$name.out" >&2; die "$name failed: $*"; }
    cat "$BENCH_TMP/$name.t" >> "$BENCH_TMP/$name.times"
}
# median NAME: the median of NAME.times.
median() { sort -n "$BENCH_TMP/$1.times" | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
