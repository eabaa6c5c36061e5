#!/usr/bin/env bash
# Entry point of the Slipway benchmarks: Benchmarks/run.sh [all|zero-downtime|rollback|throughput|sigkill|canary|edge|gates|observability|state-backup|migration-backup|containers|fleet|fuzz|api-contract|soak|idle-memory|throughput-matrix]
# Builds the release binaries once, then runs the chosen benchmark(s); each prints a
# table and rewrites its section of Benchmarks/RESULTS.md.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
source "$HERE/lib.sh"

what="${1:-all}"
case "$what" in
    all) list=(zero-downtime rollback throughput sigkill canary edge gates observability state-backup migration-backup containers fleet fuzz api-contract soak idle-memory throughput-matrix) ;;
    zero-downtime|rollback|throughput|sigkill|canary|edge|gates|observability|state-backup|migration-backup|containers|fleet|fuzz|api-contract|soak|idle-memory|throughput-matrix) list=("$what") ;;
    -h|--help) sed -n 2,4p "$0"; exit 0 ;;
    *) echo "usage: $0 [all|zero-downtime|rollback|throughput|sigkill|canary|edge|gates|observability|state-backup|migration-backup|containers|fleet|fuzz|api-contract|soak|idle-memory|throughput-matrix]" >&2; exit 64 ;;
esac

need_pkg curl curl; need_pkg wrk wrk; need_pkg nginx nginx-light; need_pkg haproxy haproxy
build_release
export SLIPWAY_BENCH_BUILT=1

failed=()
for b in "${list[@]}"; do
    log "=== $b ==="
    if ! bash "$HERE/$b.sh"; then failed+=("$b"); log "$b FAILED"; fi
done
if [ "${#failed[@]}" -gt 0 ]; then
    log "failed: ${failed[*]}"
    exit 1
fi
log "done; results in $RESULTS_MD"
