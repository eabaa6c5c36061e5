#!/usr/bin/env bash
# The long API contract run: Schemathesis (PyPI) against a live release `slipway server`
# with the hello service deployed, API_EXAMPLES examples per operation (default 100, the test
# suite runs 5), every operation but the ones that stop or replace the server and the
# endless event stream. Reports requests, operations and failures; the goal is 0 server
# errors, 0 undocumented answers (status or content type) and 0 JSON answers that violate
# their schema.
source "$(dirname "$0")/lib.sh"

EXAMPLES="${API_EXAMPLES:-100}"
if ! python3 -c 'import schemathesis' 2>/dev/null; then
    log "installing schemathesis (PyPI)"
    python3 -m pip install -q schemathesis 2>/dev/null || python3 -m pip install -q --break-system-packages schemathesis
fi
build_release
make_tmp

LISTEN="$(free_port)"
write_config "$BENCH_TMP/hello.yml" "$LISTEN" 1 200ms 1
# Schemathesis sends requests without a valid token on purpose: the failed-authentication
# limit must not turn the run into 429s.
start_server "$BENCH_TMP/hello.yml" --auth-failures 1000000/1m
wait_version "$LISTEN" v1 60
api_port="${SLIPWAY_SERVER##*:}"
TOKEN="$(cat "$STATE_DIR/admin.token")"

excluded=(/v1/shutdown /v1/router/upgrade /v1/servers/setup /v1/secrets/rotate-key /v1/stream)
args=(run "http://127.0.0.1:$api_port/v1/openapi.json" -H "Authorization: Bearer $TOKEN" -n "$EXAMPLES"
      --generation-deterministic --request-timeout 30
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance)
for p in "${excluded[@]}"; do args+=(--exclude-path "$p"); done
# Revoking tokens: the run called DELETE /v1/tokens/{name} with the names GET /v1/tokens
# answered and revoked the token it uses itself (every later request a 401).
args+=(--exclude-operation-id deleteTokensName)
excluded+=("DELETE /v1/tokens/{name}")
# First the reads with the path parameters naming what exists (the service, its first
# rollout and release), so that real answers meet their schemas; then every operation with
# generated parameters.
printf '%s\n' "headers = { Authorization = \"Bearer $TOKEN\" }" "" "[[operations]]" 'include-method = "GET"' \
    'parameters = { "path.name" = "hello", "path.id" = "1", "path.version" = "v1" }' > "$BENCH_TMP/schemathesis.toml"
# One Schemathesis pass: `run_pass NAME LABEL ARGS...` runs it into $BENCH_TMP/NAME.out and
# prints its row of the table from the summary ("Tested: N" operations, "N generated,
# N passed[, N failed]" test cases); returns its exit status.
run_pass() {
    local name=$1 label=$2; shift 2
    local out="$BENCH_TMP/$name.out" start status
    log "schemathesis: $label, $EXAMPLES examples per operation"
    start=$(date +%s)
    set +e
    schemathesis "$@" > "$out" 2>&1
    status=$?
    set -e
    tail -20 "$out" >&2
    local operations cases failures
    operations=$(grep -oE "Tested: [0-9]+" "$out" | tail -1 | cut -d' ' -f2 || true)
    cases=$(grep -oE "[0-9]+ generated" "$out" | tail -1 | cut -d' ' -f1 || true)
    failures=$(grep -oE "[0-9]+ failed" "$out" | tail -1 | cut -d' ' -f1 || true)
    echo "| $label | ${operations:-?} | ${cases:-?} | ${failures:-0} | $status | $(( $(date +%s) - start )) s |" > "$BENCH_TMP/$name.row"
    return "$status"
}
reads_status=0; status=0
run_pass schemathesis-reads "reads of the deployed service, its rollout 1 and release v1" \
    --config-file "$BENCH_TMP/schemathesis.toml" "${args[@]}" --include-method GET --exclude-path "/v1/services/{name}/logs" || reads_status=$?
run_pass schemathesis "every operation, generated parameters" "${args[@]}" || status=$?
warnings=$(sed -n 's/^ *⚠️ *//p' "$BENCH_TMP/schemathesis.out" | paste -sd ';' - || true)
served=$(curl -fsS -D - -o /dev/null "http://127.0.0.1:$LISTEN/" | tr -d '\r' | awk -F': ' 'tolower($1)=="x-version"{print $2}')

md="$BENCH_TMP/api-contract.md"
{
    echo "## API contract"
    echo
    echo "\`Benchmarks/run.sh api-contract\` (API_EXAMPLES=$EXAMPLES), $(date -u +%F), release build, load before: $BENCH_LOAD_START."
    echo "Schemathesis $(python3 -c 'import schemathesis; print(schemathesis.__version__)' 2>/dev/null) against the served OpenAPI document, admin token,"
    echo "checks: no 5xx, every status and content type documented, every JSON answer matching its schema. Left out: ${excluded[*]}."
    echo
    echo "| pass | operations tested | test cases | failures | exit | time |"
    echo "| --- | --- | --- | --- | --- | --- |"
    cat "$BENCH_TMP/schemathesis-reads.row" "$BENCH_TMP/schemathesis.row"
    echo
    echo "hello still served by v1 afterwards: ${served:-no}."
    echo
    echo "Schemathesis's warnings (not failures): ${warnings:-none}."
} > "$md"
cat "$md"
write_section api-contract "$md"
[ "$reads_status" -eq 0 ] && [ "$status" -eq 0 ] && [ "$served" = v1 ]
