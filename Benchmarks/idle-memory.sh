#!/usr/bin/env bash
# Idle memory: the control plane and the router with one service deployed (the example
# hello service, 2 instances), after a minute of light traffic and IDLE_SETTLE seconds of
# quiet. Reports RSS (what `ps` shows: shared pages of the one binary counted in each
# process) and PSS (shared pages split between the processes mapping them: what the two
# really take together), with the anonymous / file-backed split, beside nginx (2 workers)
# proxying to the same instances. Goal (issue 21): control plane + router < 50 MB.
source "$(dirname "$0")/lib.sh"

SETTLE="${IDLE_SETTLE:-30}"
CMD="Benchmarks/run.sh idle-memory"

need_pkg curl curl; need_pkg nginx nginx-light; need_pkg wrk wrk
build_release
make_tmp
BENCH_LOAD_START="$(cut -d' ' -f1-3 /proc/loadavg)"

start_example_service
RPID="$(router_pid)"
UP="$BENCH_TMP/upstream.conf"
printf 'server 127.0.0.1:%s;\n' "${PORTS[@]}" > "$UP"
NP="$(free_port)"
start_nginx "$NP" "$UP"
NGINX_MASTER="$(cat "$NGINX_DIR/nginx.pid")"

# A deploy and a rollback (what a real service has been through), then light traffic.
"$SLIPWAY" deploy hello --version v2 --wait > /dev/null
"$SLIPWAY" rollback hello > /dev/null
wait_version "$LISTEN" v1 60
log "traffic (10 s, 4 connections) through each proxy"
wrk -t1 -c4 -d10s "http://127.0.0.1:$LISTEN/" > /dev/null 2>&1 || true
wrk -t1 -c4 -d10s "http://127.0.0.1:$NP/" > /dev/null 2>&1 || true
log "quiet for ${SETTLE}s"
sleep "$SETTLE"

# kB fields of one process: rss anon file pss
mem() {
    local pid="$1" rss anon file pss
    rss="$(awk '/^VmRSS/{print $2}' "/proc/$pid/status")"
    anon="$(awk '/^RssAnon/{print $2}' "/proc/$pid/status")"
    file="$(awk '/^RssFile/{print $2}' "/proc/$pid/status")"
    pss="$(awk '/^Pss:/{print $2}' "/proc/$pid/smaps_rollup")"
    echo "$rss $anon $file $pss"
}
mb() { awk -v k="$1" 'BEGIN{printf "%.1f", k/1024}'; }
row() {
    local name="$1"; shift
    local rss=0 anon=0 file=0 pss=0 pid r a f p
    for pid in "$@"; do
        read -r r a f p <<< "$(mem "$pid")"
        rss=$((rss + r)); anon=$((anon + a)); file=$((file + f)); pss=$((pss + p))
    done
    echo "| $name | $(mb "$rss") | $(mb "$anon") | $(mb "$file") | $(mb "$pss") |"
}
NGINX_PIDS=("$NGINX_MASTER" $(ps --ppid "$NGINX_MASTER" -o pid=))
THREADS_CP="$(ls "/proc/$SERVER_PID/task" | wc -l)"; THREADS_R="$(ls "/proc/$RPID/task" | wc -l)"

TABLE="$BENCH_TMP/table.md"
{
    echo "| processes | RSS (MB) | anonymous (MB) | file-backed (MB) | PSS (MB) |"
    echo "| --- | --- | --- | --- | --- |"
    row "control plane (\`slipway server\`, $THREADS_CP threads)" "$SERVER_PID"
    row "router (\`slipway router\`, $THREADS_R threads)" "$RPID"
    row "control plane + router" "$SERVER_PID" "$RPID"
    row "nginx, master + 2 workers" "${NGINX_PIDS[@]}"
} > "$TABLE"
# Totals for the verdict.
both_rss=0; both_pss=0
for pid in "$SERVER_PID" "$RPID"; do read -r r a f p <<< "$(mem "$pid")"; both_rss=$((both_rss + r)); both_pss=$((both_pss + p)); done
nginx_rss=0
for pid in "${NGINX_PIDS[@]}"; do read -r r a f p <<< "$(mem "$pid")"; nginx_rss=$((nginx_rss + r)); done
cat "$TABLE"
# Where each process's RSS lies: the largest mappings (the binary, the Swift runtime and
# Foundation's libraries, anonymous memory).
mappings() {
    awk '/^[0-9a-f]+-[0-9a-f]+ /{name=($6 == "" ? "(anonymous)" : $6)} /^Rss:/{rss[name]+=$2} END{for (n in rss) if (rss[n] >= 512) printf "%d %s\n", rss[n], n}' "/proc/$1/smaps" \
        | sort -rn | head -8 | awk '{n=$2; sub(".*/", "", n); printf "%s %.1f MB, ", n, $1/1024}' | sed 's/, $//'
}
MAP_CP="$(mappings "$SERVER_PID")"; MAP_R="$(mappings "$RPID")"
BIN_MB="$(mb "$(( $(stat -c %s "$SLIPWAY") / 1024 ))")"

SECTION="$BENCH_TMP/section.md"
{
    bench_header "idle-memory" "$CMD"
    echo "One service (hello, 2 instances) deployed, after a deploy, a rollback, 10 s of wrk traffic (4 connections) and ${SETTLE} s of quiet. RSS counts the pages of the one ${BIN_MB} MB binary that both processes map in each of them; PSS splits shared pages between the processes that map them, so the PSS of the two together is the memory they take. nginx (2 workers, same instances) is shown for scale."
    echo
    cat "$TABLE"
    echo
    echo "Largest mappings (RSS): control plane: $MAP_CP; router: $MAP_R."
    echo
    echo "Control plane + router: RSS $(mb "$both_rss") MB, PSS $(mb "$both_pss") MB; nginx RSS $(mb "$nginx_rss") MB (Slipway ÷ nginx RSS = $(awk -v a="$both_rss" -v b="$nginx_rss" 'BEGIN{printf "%.1f", a/b}')×)."
    echo
    if [ "$both_rss" -lt $((50 * 1024)) ]; then
        echo "Goal (control plane + router < 50 MB RSS): **met**."
    else
        echo "Goal (control plane + router < 50 MB RSS): **NOT met** ($(mb "$both_rss") MB RSS; PSS $(mb "$both_pss") MB)."
    fi
} > "$SECTION"
write_section "idle-memory" "$SECTION"
log "wrote the idle-memory section of $RESULTS_MD"
