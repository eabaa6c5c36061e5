#!/usr/bin/env bash
# Edge: in ONE run, (a) the Slipway router with rate limiting (a limit far above the load)
# and the five security headers ON vs OFF, and (b) Slipway terminating TLS vs nginx
# terminating TLS in front of the SAME two hello-app instances. wrk -t2 -c64 keep-alive,
# interleaved rounds, the better round of each target reported.
source "$(dirname "$0")/lib.sh"

DURATION="${EDGE_SECONDS:-8}"
ROUNDS="${EDGE_ROUNDS:-5}"
CMD="Benchmarks/run.sh edge"

need_pkg wrk wrk; need_pkg nginx nginx-light; need_pkg curl curl; need_pkg openssl openssl
build_release
make_tmp

# ------------------------------------------------------------------ certificates
CERTS="$BENCH_TMP/certs"; mkdir -p "$CERTS"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$CERTS/ca-key.pem" \
    -out "$CERTS/ca.pem" -days 2 -subj "/CN=Slipway Bench CA" 2>/dev/null
openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$CERTS/key.pem" \
    -out "$CERTS/cert.csr" -subj "/CN=localhost" 2>/dev/null
printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\n' > "$CERTS/ext.cnf"
openssl x509 -req -in "$CERTS/cert.csr" -CA "$CERTS/ca.pem" -CAkey "$CERTS/ca-key.pem" -CAcreateserial \
    -out "$CERTS/cert.pem" -days 2 -extfile "$CERTS/ext.cnf" 2>/dev/null

# ------------------------------------------------------------------ two services, one server
# hello-edge: the SAME service and instances measured with its edge rules off and on
# (`slipway apply` of one of two configs before each run swaps the route table; the
# instances stay); hello-tls: TLS only. 2 instances each.
service_config() {
    local file="$1" name="$2" port="$3" extra="$4"
    cat > "$file" <<EOF
# Written by Benchmarks/edge.sh
service: $name
run: ["$HELLO_APP", "--port", "{{port}}", "--version", "{{version}}"]
health: { path: /health, interval: 500ms, timeout: 500ms, healthy: 2, unhealthy: 3, grace: 10s }
listen: 127.0.0.1:$port
replicas: 2
strategy: { blue-green: { keep_previous: 10m, deploy_timeout: 60s, drain_timeout: 30s } }
$extra
EOF
}
EDGE="$(free_port)"; TLS="$(free_port)"
service_config "$BENCH_TMP/edge-off.yml" hello-edge "$EDGE" ""
service_config "$BENCH_TMP/edge-on.yml" hello-edge "$EDGE" \
'rate_limit: { per_client: 1000000/s, burst: 1000000 }
headers: { hsts: "max-age=31536000; includeSubDomains", csp: "default-src '"'"'self'"'"'", content_type_options: nosniff, frame_options: DENY, referrer_policy: no-referrer }'
service_config "$BENCH_TMP/tls.yml" hello-tls "$TLS" "tls: { cert: certs/cert.pem, key: certs/key.pem }"

api_port="$(free_port)"
out="$BENCH_TMP/server.out"
"$SLIPWAY" server --state-dir "$STATE_DIR" --api "127.0.0.1:$api_port" \
    --config "$BENCH_TMP/edge-off.yml" --config "$BENCH_TMP/tls.yml" > "$out" 2>&1 &
SERVER_PID=$!
SLIPWAY_SERVER="http://127.0.0.1:$api_port"; export SLIPWAY_SERVER
for _ in $(seq 1 600); do grep -q "API:" "$out" 2>/dev/null && break; kill -0 "$SERVER_PID" 2>/dev/null || { cat "$out" >&2; die "slipway server exited"; }; sleep 0.1; done
grep -q "API:" "$out" || { cat "$out" >&2; die "slipway server did not start"; }
SLIPWAY_TOKEN="$(cat "$STATE_DIR/admin.token")"; export SLIPWAY_TOKEN
wait_version "$EDGE" v1 60
for _ in $(seq 1 600); do
    curl -fsS -o /dev/null --max-time 1 --cacert "$CERTS/ca.pem" "https://127.0.0.1:$TLS/" 2>/dev/null && break; sleep 0.1
done
curl -fsS -o /dev/null --cacert "$CERTS/ca.pem" "https://127.0.0.1:$TLS/" || die "the TLS service does not answer over https"

# edge_rules on|off: applies that config to hello-edge and checks the router serves it.
edge_rules() {
    "$SLIPWAY" apply --yes -f "$BENCH_TMP/edge-$1.yml" > /dev/null || die "slipway apply edge-$1.yml failed"
    local seen
    seen="$(curl -fsS -D - -o /dev/null "http://127.0.0.1:$EDGE/" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-frame-options"{print $2}')"
    if [ "$1" = on ]; then [ "$seen" = DENY ] || die "edge rules not in effect"; else [ -z "$seen" ] || die "edge rules still in effect"; fi
}
RPID="$(router_pid)"

ports_of() {
    "$SLIPWAY" status "$1" -o json | python3 -c '
import json, sys
print(" ".join(str(i["port"]) for i in json.load(sys.stdin)["instances"] if i["state"] == "running"))'
}
read -r -a TLS_PORTS <<< "$(ports_of hello-tls)"
[ "${#TLS_PORTS[@]}" = 2 ] || die "expected 2 hello-tls instances, got ${TLS_PORTS[*]:-none}"

# nginx terminating TLS in front of the same two instances as hello-tls.
NP="$(free_port)"
NGINX_DIR="$BENCH_TMP/nginx"; mkdir -p "$NGINX_DIR/tmp"
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
        server 127.0.0.1:${TLS_PORTS[0]};
        server 127.0.0.1:${TLS_PORTS[1]};
        keepalive 64;
        keepalive_requests 1000000;
    }
    server {
        listen 127.0.0.1:$NP ssl;
        ssl_certificate $CERTS/cert.pem;
        ssl_certificate_key $CERTS/key.pem;
        ssl_protocols TLSv1.2 TLSv1.3;
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
for _ in $(seq 1 100); do curl -fsS -o /dev/null --max-time 1 --cacert "$CERTS/ca.pem" "https://127.0.0.1:$NP/" 2>/dev/null && break; sleep 0.1; done

declare -A URL=(
    [off]="http://127.0.0.1:$EDGE/"
    [on]="http://127.0.0.1:$EDGE/"
    [slipway_tls]="https://127.0.0.1:$TLS/"
    [nginx_tls]="https://127.0.0.1:$NP/"
)
ORDER=(off on slipway_tls nginx_tls)
for t in "${ORDER[@]}"; do
    case "$t" in off|on) edge_rules "$t" ;; esac
    log "warm-up $t (3s)"
    wrk -t2 -c64 -d3s "${URL[$t]}" > "$BENCH_TMP/warmup-$t.txt" 2>&1 || true
done
# Router CPU (utime+stime of all its threads) per run: CPU per request is steadier than
# req/s on a shared machine.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$RPID/stat"; }
for round in $(seq 1 "$ROUNDS"); do
    for t in "${ORDER[@]}"; do
        case "$t" in off|on) edge_rules "$t" ;; esac
        log "round $round: $t"
        c0="$(cpu_ticks)"
        wrk -t2 -c64 -d${DURATION}s --latency "${URL[$t]}" > "$BENCH_TMP/wrk-$t-$round.txt" 2>&1 || log "wrk $t failed"
        c1="$(cpu_ticks)"
        python3 -c "print(($c1 - $c0) / $(getconf CLK_TCK))" > "$BENCH_TMP/cpu-$t-$round.txt"
        sleep 1
    done
done
# Nothing was rate limited (the limit is far above the load) and the counters agree.
LIMITED="$(curl -fsS -H "Authorization: Bearer $SLIPWAY_TOKEN" "$SLIPWAY_SERVER/metrics" | awk '/^slipway_rate_limited_total\{service="hello-edge"\}/{print $2}')"

BENCH_DIR="$BENCH_DIR" python3 - "$BENCH_TMP" "$ROUNDS" "${LIMITED:-?}" > "$BENCH_TMP/table.md" <<'EOF'
import os, sys
sys.path.insert(0, os.environ["BENCH_DIR"])
from wrkparse import parse
tmp, rounds, limited = sys.argv[1], int(sys.argv[2]), sys.argv[3]
names = {"off": "Slipway, hello-edge with no edge rules", "on": "Slipway, hello-edge with rate_limit + 5 security headers",
         "slipway_tls": "Slipway terminating TLS", "nginx_tls": "nginx terminating TLS (same 2 instances)"}
runs = {t: [parse(os.path.join(tmp, f"wrk-{t}-{i}.txt")) for i in range(1, rounds + 1)] for t in names}
cpu = {t: [float(open(os.path.join(tmp, f"cpu-{t}-{i}.txt")).read()) for i in range(1, rounds + 1)] for t in names}
us_per_req = {t: [c / max(1, r["requests"]) * 1e6 for c, r in zip(cpu[t], runs[t])] for t in names}
median = lambda xs: sorted(xs)[len(xs) // 2]
best = {t: max(rs, key=lambda r: r["rps"]) for t, rs in runs.items()}
print(f"| target | req/s (best of {rounds}) | all runs req/s | p50 (ms) | p99 (ms) | socket errors | non-2xx | Slipway router CPU µs/request (median) |")
print("| --- | --- | --- | --- | --- | --- | --- | --- |")
for t, label in names.items():
    b = best[t]
    allr = " / ".join("%.0f" % r["rps"] for r in runs[t])
    routercpu = "-" if t == "nginx_tls" else "%.1f" % median(us_per_req[t])
    print(f"| {label} | {b['rps']:.0f} | {allr} | {b['p50_ms']:.2f} | {b['p99_ms']:.2f} | {b['socket_errors']} | {b['non2xx']} | {routercpu} |")
print()
on, off = best["on"]["rps"], best["off"]["rps"]
st, nt = best["slipway_tls"], best["nginx_tls"]
# Median-of-rounds ratio too: the best-of ratio alone can flatter or punish one side.
med = lambda t: sorted(r["rps"] for r in runs[t])[rounds // 2]
paired = median([a["rps"] / b["rps"] for a, b in zip(runs["on"], runs["off"])])
cpu_on, cpu_off = median(us_per_req["on"]), median(us_per_req["off"])
print(f"(a) edge rules on ÷ off: **{on / off:.3f}×** best of {rounds}; median of the {rounds} paired rounds **{paired:.3f}×**; "
      f"router CPU per request {cpu_on:.1f} vs {cpu_off:.1f} µs (on ÷ off {cpu_on / cpu_off:.3f}×, i.e. a throughput ratio of about {cpu_off / cpu_on:.3f}× where the router is the bottleneck). "
      f"Goal ≥ 0.95 (judged on the paired median): **{'met' if paired >= 0.95 else 'NOT met'}**. "
      f"429s during the run: {limited} (the limit is 1,000,000/s, so the bucket is checked and refilled on every request but never empties).")
print()
print(f"(b) Slipway TLS ÷ nginx TLS: req/s **{st['rps'] / nt['rps']:.2f}×** (medians {med('slipway_tls') / med('nginx_tls'):.2f}×), "
      f"p99 **{st['p99_ms'] / nt['p99_ms']:.2f}×** ({st['p99_ms']:.2f} vs {nt['p99_ms']:.2f} ms; lower is better).")
EOF
{
    bench_header "edge" "$CMD"
    echo "wrk -t2 -c64 -d${DURATION}s --latency (keep-alive; TLS handshakes happen once per connection), ${ROUNDS} interleaved rounds (off, on, slipway_tls, nginx_tls) after a 3 s warm-up of each. Router CPU per request: utime+stime of the data-plane process over each run ÷ requests wrk completed."
    echo "One \`slipway server\` runs two services with 2 hello-app instances each. hello-edge is measured with its edge rules off and on: the same service, instances and router process; \`slipway apply\` of one of two configs before each run swaps the route table. On: \`rate_limit: { per_client: 1000000/s, burst: 1000000 }\` (every request takes a token from the one bucket of 127.0.0.1, shared by both event loops) and all five security headers. hello-tls has \`tls:\` with an openssl-made P-256 certificate; nginx (2 workers, TLS 1.2/1.3, keepalive 64 to the upstream) terminates TLS with the same certificate in front of hello-tls's two instances."
    echo "wrk, the router, nginx and the backends share the machine's $(nproc) cores."
    echo
    cat "$BENCH_TMP/table.md"
} > "$BENCH_TMP/section.md"
cat "$BENCH_TMP/table.md"
write_section edge "$BENCH_TMP/section.md"
log "wrote the edge section of $RESULTS_MD"
