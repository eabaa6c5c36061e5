#!/usr/bin/env bash
# Builds Slipway and runs its main job on the embedded default: a control plane with
# SQLite state in .slipway/, the local-process target, the built-in router, and the
# example service (Examples/hello) deployed as release v1. Ctrl-C stops the control
# plane only (the router and instances keep serving); `.build/debug/slipway down`
# stops everything.
set -euo pipefail
cd "$(dirname "$0")/.."
swift build --product hello-app
swift build --product slipway
exec .build/debug/slipway server --state-dir .slipway --config Examples/hello/slipway.yml "$@"
