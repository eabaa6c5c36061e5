#!/usr/bin/env bash
# Regenerates the reference documents in docs/reference/ from the code (the config's field
# tables, the command definitions, the OpenAPI document), with the JSON Schema and the
# OpenAPI document beside them. The test suite fails when a committed file differs.
#   scripts/docs.sh            (builds the debug binary first)
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product slipway > /dev/null
BIN="$(swift build --show-bin-path 2>/dev/null)/slipway"
mkdir -p docs/reference
for kind in config cli api; do
    "$BIN" reference "$kind" > "docs/reference/$kind.md"
done
"$BIN" schema > Examples/slipway.schema.json
"$BIN" openapi > docs/openapi.json
echo "docs/reference/{config,cli,api}.md, Examples/slipway.schema.json and docs/openapi.json written"
