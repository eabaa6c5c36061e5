#!/usr/bin/env bash
# Throughput matrix (issue 19's goals, one run, ratios): the router alone against nginx with
# as many workers as the router has event loops, for every combination of
#   - 1 and 2 event loops / nginx workers,
#   - small answers (the hello app's GET /) and 64 KiB answers (GET /bytes?n=65536),
#   - four route set-ups, each on its own port of the same router:
#       plain   both instances of one version;
#       canary  a split of 90 % / 10 % between two versions (one instance each);
#       sticky  the same split with the signed sticky cookie, every client presenting the
#               cookie the router gave it (nginx: `hash $cookie_… consistent` over the same
#               weights, its nearest equivalent);
#       edge    security headers, a rate limit high enough to refuse nothing and a
#               restricted path (nginx: add_header, limit_req, allow/deny);
# and the plain set-up again under contention (a CPU-bound process on the same cores during
# each run). Per cell: requests per second, p99, proxy CPU µs per request and context
# switches per request, of each proxy, and Slipway ÷ nginx for each.
# MATRIX_SECONDS (default 5) per run, MATRIX_ROUNDS (default 2) interleaved rounds, best
# round reported (rps, and the p99, CPU and switches of that round).
source "$(dirname "$0")/lib.sh"

SECONDS_PER_RUN="${MATRIX_SECONDS:-5}"
ROUNDS="${MATRIX_ROUNDS:-2}"
CMD="Benchmarks/run.sh throughput-matrix"
[[ "$SECONDS_PER_RUN" =~ ^[1-9][0-9]*$ ]] || die "MATRIX_SECONDS must be a whole number of seconds above 0 (got $SECONDS_PER_RUN)"
[[ "$ROUNDS" =~ ^[1-9][0-9]*$ ]] || die "MATRIX_ROUNDS must be a whole number above 0 (got $ROUNDS)"

need_pkg wrk wrk; need_pkg nginx nginx-light; need_pkg curl curl
build_release
make_tmp
BENCH_LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

# The instances: the example service's two v1 instances, started by a control plane.
start_example_service
A="${PORTS[0]}"; B="${PORTS[1]}"
BACKEND_PIDS="$("$SLIPWAY" status hello -o json | python3 -c 'import json,sys; print(" ".join(str(i["pid"]) for i in json.load(sys.stdin)["instances"] if i["state"] == "running"))')"
# Only the instances keep running: the control plane's router would otherwise share the
# cores with the measured ones (it idles, but runs health checks).
log "instances on $A and $B"

SETUPS=(plain canary sticky edge)
declare -A PORT_OF ROUTER_PID NGINX_MASTER COOKIE

# router_table FILE PORT...: the control plane's table (its instances, health checks and
# timeouts) made into one service per set-up, on the given ports.
router_table() {
    python3 - "$STATE_DIR/router-table.json" "$@" <<'PY'
import copy, json, sys
template = json.load(open(sys.argv[1]))["services"][0]
out, plain, canary, sticky, edge = sys.argv[2], *map(int, sys.argv[3:])
endpoints = [e for g in template["groups"] for e in g["endpoints"]]
assert len(endpoints) == 2, endpoints
both = [{"version": "v1", "weight": 100, "endpoints": endpoints}]
split = [{"version": "v1", "weight": 90, "endpoints": endpoints[:1]}, {"version": "v2", "weight": 10, "endpoints": endpoints[1:]}]
def svc(name, port, groups, **extra):
    s = copy.deepcopy(template)
    s.update(service=name, groups=groups, **extra)
    s["listen"] = s["listen"].rsplit(":", 1)[0] + f":{port}"  # "127.0.0.1:PORT"
    return s
services = [
    svc("plain", plain, both),
    svc("canary", canary, split),
    svc("sticky", sticky, split, affinity={"cookie": "slipway_bench", "key": "ab" * 32, "scope": "bench"}),
    svc("edge", edge, both,
        headers={"hsts": "max-age=31536000", "frameOptions": "DENY", "contentTypeOptions": "nosniff", "referrerPolicy": "no-referrer"},
        rateLimit={"perSecond": 1000000, "burst": 1000000},
        restrict=[{"paths": ["/admin"], "allow": ["10.0.0.0/8"]}]),
]
json.dump({"generation": 1, "services": services}, open(out, "w"), indent=1)
PY
}

# nginx_conf FILE DIR WORKERS PORT...: the same four set-ups for nginx.
nginx_conf() {
    local file="$1" dir="$2" workers="$3" plain="$4" canary="$5" sticky="$6" edge="$7"
    cat > "$file" <<EOF
worker_processes $workers;
worker_rlimit_nofile 8192;
pid $dir/nginx.pid;
error_log $dir/error.log warn;
events { worker_connections 4096; }
http {
    access_log off;
    client_body_temp_path $dir/tmp/body;
    proxy_temp_path $dir/tmp/proxy;
    fastcgi_temp_path $dir/tmp/fastcgi;
    uwsgi_temp_path $dir/tmp/uwsgi;
    scgi_temp_path $dir/tmp/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    limit_req_zone \$binary_remote_addr zone=perclient:10m rate=1000000r/s;
    upstream both { server 127.0.0.1:$A; server 127.0.0.1:$B; keepalive 64; keepalive_requests 1000000; }
    upstream split { server 127.0.0.1:$A weight=9; server 127.0.0.1:$B weight=1; keepalive 64; keepalive_requests 1000000; }
    upstream sticky { hash \$cookie_slipway_bench consistent; server 127.0.0.1:$A weight=9; server 127.0.0.1:$B weight=1; keepalive 64; keepalive_requests 1000000; }
    proxy_http_version 1.1;
    proxy_set_header Connection "";
    proxy_buffers 16 8k;
    server { listen 127.0.0.1:$plain; location / { proxy_pass http://both; } }
    server { listen 127.0.0.1:$canary; location / { proxy_pass http://split; } }
    server { listen 127.0.0.1:$sticky; location / { proxy_pass http://sticky; } }
    server {
        listen 127.0.0.1:$edge;
        add_header Strict-Transport-Security "max-age=31536000" always;
        add_header X-Frame-Options DENY always;
        add_header X-Content-Type-Options nosniff always;
        add_header Referrer-Policy no-referrer always;
        limit_req zone=perclient burst=1000000 nodelay;
        location /admin { allow 10.0.0.0/8; deny all; proxy_pass http://both; }
        location / { proxy_pass http://both; }
    }
}
EOF
}

for loops in 1 2; do
    # Slipway: a router of this build alone on its own state directory.
    state="$BENCH_TMP/router-$loops"; mkdir -p "$state"
    ports=(); for _ in "${SETUPS[@]}"; do ports+=("$(free_port)"); done
    router_table "$state/router-table.json" "${ports[@]}"
    "$SLIPWAY" router --state-dir "$state" --event-loops "$loops" > "$BENCH_TMP/router-$loops.log" 2>&1 &
    ROUTER_PID[$loops]=$!; BG_PIDS+=("$!")
    i=0; for s in "${SETUPS[@]}"; do PORT_OF[slipway-$loops-$s]="${ports[$i]}"; i=$((i + 1)); done
    # nginx with as many workers.
    dir="$BENCH_TMP/nginx-$loops"; mkdir -p "$dir/tmp"
    ports=(); for _ in "${SETUPS[@]}"; do ports+=("$(free_port)"); done
    nginx_conf "$dir/nginx.conf" "$dir" "$loops" "${ports[@]}"
    nginx -t -q -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" || die "nginx config invalid"
    nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/error.log" || die "nginx did not start"
    i=0; for s in "${SETUPS[@]}"; do PORT_OF[nginx-$loops-$s]="${ports[$i]}"; i=$((i + 1)); done
    for s in "${SETUPS[@]}"; do
        wait_http "http://127.0.0.1:${PORT_OF[slipway-$loops-$s]}/" 30
        wait_http "http://127.0.0.1:${PORT_OF[nginx-$loops-$s]}/" 10
    done
    NGINX_MASTER[$loops]="$(cat "$dir/nginx.pid")"
    threads="$(grep -l '^NIO-SGLTN' /proc/"${ROUTER_PID[$loops]}"/task/*/comm 2>/dev/null | wc -l)"
    [ "$threads" = "$loops" ] || die "the router started with --event-loops $loops runs $threads event loop threads"
    log "$loops event loop(s): router pid ${ROUTER_PID[$loops]}, nginx master ${NGINX_MASTER[$loops]} (workers: $(ps --ppid "${NGINX_MASTER[$loops]}" -o pid= | wc -l))"
    # The sticky set-up: each client presents the cookie the router gave it.
    COOKIE[$loops]="$(curl -s -D - -o /dev/null "http://127.0.0.1:${PORT_OF[slipway-$loops-sticky]}/" | tr -d '\r' | awk -F': ' 'tolower($1) == "set-cookie" {split($2, c, ";"); print c[1]}')"
    [[ "${COOKIE[$loops]}" == slipway_bench=* ]] || die "the sticky router set no slipway_bench cookie"
    # Every set-up answers 200 from both proxies, for both paths, before anything is measured.
    for p in slipway nginx; do for s in "${SETUPS[@]}"; do for path in / "/bytes?n=65536"; do
        code="$(curl -s -o /dev/null -w '%{http_code}' -H "Cookie: ${COOKIE[$loops]}" "http://127.0.0.1:${PORT_OF[$p-$loops-$s]}$path")"
        [ "$code" = 200 ] || die "$p, $loops loop(s), $s, $path answered $code"
    done; done; done
done

# Stop the control plane's own router so only the measured proxies run (the instances stay:
# `slipway server` was stopped first, then the router it started, leaving the instances).
log "stopping the control plane and its router (the instances keep running)"
kill "$SERVER_PID" 2>/dev/null || true; wait "$SERVER_PID" 2>/dev/null || true
CP_ROUTER="$(router_pid)"
kill "$CP_ROUTER" 2>/dev/null || true
for _ in $(seq 1 100); do kill -0 "$CP_ROUTER" 2>/dev/null || break; sleep 0.1; done
for pid in $BACKEND_PIDS; do kill -0 "$pid" 2>/dev/null || die "instance $pid stopped with the control plane"; done

pids_of() {  # PROXY LOOPS
    if [ "$1" = slipway ]; then echo "${ROUTER_PID[$2]}"; else echo "${NGINX_MASTER[$2]} $(ps --ppid "${NGINX_MASTER[$2]}" -o pid= | tr '\n' ' ')"; fi
}

# The cells: LOOPS SIZE SETUP CONTENTION
CELLS=()
for loops in 1 2; do for size in small 64k; do for s in "${SETUPS[@]}"; do CELLS+=("$loops $size $s no"); done; done; done
for loops in 1 2; do CELLS+=("$loops small plain yes"); done
RAW="$BENCH_TMP/raw.tsv"; : > "$RAW"
BURNER=""
for round in $(seq 1 "$ROUNDS"); do
    for cell in "${CELLS[@]}"; do
        read -r loops size s contention <<< "$cell"
        path=/; [ "$size" = 64k ] && path="/bytes?n=65536"
        # The peer order alternates per round so that neither proxy always runs first.
        order=(slipway nginx); (( round % 2 == 0 )) && order=(nginx slipway)
        for p in "${order[@]}"; do
            url="http://127.0.0.1:${PORT_OF[$p-$loops-$s]}$path"
            # shellcheck disable=SC2046
            pids="$(pids_of "$p" "$loops")"
            wrk -t2 -c64 -d1s -H "Cookie: ${COOKIE[$loops]}" "$url" > /dev/null 2>&1 || true
            if [ "$contention" = yes ]; then
                # A CPU-bound process on the same cores, bounded to the run.
                timeout $((SECONDS_PER_RUN + 2)) sh -c 'while :; do :; done' &
                BURNER=$!; BG_PIDS+=("$BURNER")
            fi
            # shellcheck disable=SC2086
            c0=$(cpu_ticks $pids); x0=$(ctx_switches $pids)
            out="$BENCH_TMP/wrk-$p-$loops-$size-$s-$contention-$round.txt"
            wrk -t2 -c64 -d"${SECONDS_PER_RUN}s" --latency -H "Cookie: ${COOKIE[$loops]}" "$url" > "$out" 2>&1 || log "wrk $p $cell failed"
            # shellcheck disable=SC2086
            c1=$(cpu_ticks $pids); x1=$(ctx_switches $pids)
            if [ -n "$BURNER" ]; then kill "$BURNER" 2>/dev/null || true; wait "$BURNER" 2>/dev/null || true; BURNER=""; fi
            printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$p" "$loops" "$size" "$s" "$contention" "$round" "$((c1 - c0))" "$((x1 - x0))" "$out" >> "$RAW"
        done
        log "round $round: $loops loop(s), $size, $s$([ "$contention" = yes ] && echo ", under contention")"
    done
done

TABLE="$BENCH_TMP/table.md"
BENCH_DIR="$BENCH_DIR" python3 - "$RAW" "$(getconf CLK_TCK)" > "$TABLE" <<'PY'
import os, sys
sys.path.insert(0, os.environ["BENCH_DIR"])
from wrkparse import parse
raw, tck = sys.argv[1], int(sys.argv[2])
runs = {}
for line in open(raw):
    p, loops, size, setup, contention, rnd, ticks, ctx, out = line.rstrip("\n").split("\t")
    w = parse(out)
    n = max(1, w["requests"])
    runs.setdefault((loops, size, setup, contention), {}).setdefault(p, []).append({
        "rps": w["rps"], "p99": w["p99_ms"], "cpu_us": int(ticks) / tck / n * 1e6, "ctx": int(ctx) / n,
        "bad": w["socket_errors"] + (w["non2xx"] or 0)})
print("| event loops / workers | answer | set-up | Slipway req/s | nginx req/s | **req/s ÷ nginx** | Slipway p99 (ms) | nginx p99 (ms) | **p99 ÷ nginx** | CPU µs/req Slipway / nginx | **CPU ÷ nginx** | switches/req Slipway / nginx | errors + non-2xx |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
goals = {"rps": [], "p99": [], "cpu": [], "ctx": [], "contended_p99": []}
for (loops, size, setup, contention), by in runs.items():
    s = max(by["slipway"], key=lambda r: r["rps"]); g = max(by["nginx"], key=lambda r: r["rps"])
    bad = sum(r["bad"] for r in by["slipway"] + by["nginx"])
    label = setup + (", CPU-bound process alongside" if contention == "yes" else "")
    answer = "64 KiB" if size == "64k" else "small"
    rr, pr, cr = s["rps"] / g["rps"], s["p99"] / g["p99"], s["cpu_us"] / g["cpu_us"]
    print(f"| {loops} | {answer} | {label} | {s['rps']:.0f} | {g['rps']:.0f} | **{rr:.2f}×** | {s['p99']:.2f} | {g['p99']:.2f} | **{pr:.2f}×** | "
          f"{s['cpu_us']:.1f} / {g['cpu_us']:.1f} | **{cr:.2f}×** | {s['ctx']:.2f} / {g['ctx']:.2f} | {bad} |")
    if contention == "yes":
        goals["contended_p99"].append(pr)
    else:
        goals["rps"].append(rr); goals["p99"].append(pr); goals["cpu"].append(cr); goals["ctx"].append(s["ctx"] / max(g["ctx"], 1e-9))
def verdict(name, values, ok, goal):
    met = all(ok(v) for v in values)
    print(f"- {name}: {min(values):.2f}× to {max(values):.2f}× over {len(values)} cells; goal {goal}: **{'met' if met else 'NOT met'}**")
print()
verdict("requests per second ÷ nginx", goals["rps"], lambda v: v >= 1.0, "≥ 1.0× in every cell")
verdict("p99 ÷ nginx", goals["p99"], lambda v: v <= 1.0, "≤ 1.0× in every cell")
verdict("CPU per request ÷ nginx", goals["cpu"], lambda v: v <= 1.3, "≤ 1.3× in every cell")
verdict("context switches per request ÷ nginx", goals["ctx"], lambda v: v <= 1.0, "≤ 1.0× in every cell")
verdict("p99 ÷ nginx under contention", goals["contended_p99"], lambda v: v <= 2.0, "≤ 2.0× in every cell")
PY
cat "$TABLE"

SECTION="$BENCH_TMP/section.md"
{
    bench_header "throughput matrix" "$CMD"
    echo "The router alone (this build, \`slipway router --event-loops N\`, on a table of four services) against nginx with N workers, both in front of the same two hello-app instances; \`wrk -t2 -c64 -d${SECONDS_PER_RUN}s --latency\` per cell, ${ROUNDS} interleaved rounds (the proxy order alternates), best round shown; a 1 s warm-up before each run. wrk, the proxy and the instances share the machine's 2 cores. Set-ups: plain (both instances of one version), canary (90 % / 10 % between two versions), sticky (the same split with the signed cookie, every client presenting the cookie it was given; nginx: \`hash \$cookie consistent\` over the same weights), edge (four security headers, a rate limit that refuses nothing, a restricted path; nginx: \`add_header\`, \`limit_req\`, \`allow\`/\`deny\`). Contention: \`sh -c 'while :; do :; done'\` runs during the measured run. CPU and context switches are the proxy's own (all its threads or processes), per request."
    echo
    cat "$TABLE"
} > "$SECTION"
write_section "throughput matrix" "$SECTION"
log "wrote the throughput matrix section of $RESULTS_MD"
