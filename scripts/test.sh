#!/usr/bin/env bash
# Runs Slipway's whole test suite from a fresh clone: installs what the tests need,
# builds every product (the end-to-end tests start the real `slipway` and `hello-app`
# binaries), then runs all tests. Exit status is the test run's.
set -euo pipefail
cd "$(dirname "$0")/.."

need_apt=()
command -v python3 >/dev/null 2>&1 || need_apt+=(python3 python3-pip)
command -v python3 >/dev/null 2>&1 && ! python3 -m pip --version >/dev/null 2>&1 && need_apt+=(python3-pip)
# The Prometheus provider tests start their own Debian prometheus (and lint /metrics with promtool).
# The TLS tests make their certificates with the openssl CLI (and fetch with curl).
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v curl >/dev/null 2>&1 || need_apt+=(curl)
if ! command -v prometheus >/dev/null 2>&1 && [ ! -x /usr/bin/prometheus ]; then need_apt+=(prometheus); fi
# The dashboard tests drive Debian's headless Chromium over the DevTools protocol.
if ! command -v chromium >/dev/null 2>&1 && [ ! -x /usr/lib/chromium/chromium ]; then need_apt+=(chromium); fi
# The notification tests send alerts to a real Debian Alertmanager (v2 API).
if [ ! -x /usr/bin/prometheus-alertmanager ]; then need_apt+=(prometheus-alertmanager); fi

# The database backup tests start their own PostgreSQL 15 on loopback (and slipway runs
# pg_dump / pg_restore from its client tools).
if [ ! -x /usr/lib/postgresql/15/bin/pg_ctl ] || ! command -v pg_dump >/dev/null 2>&1; then need_apt+=(postgresql-15 postgresql-client-15); fi

# The TLS tests make their certificates with openssl; the secret-store tests edit the state
# database with sqlite3.
command -v openssl >/dev/null 2>&1 || need_apt+=(openssl)
command -v sqlite3 >/dev/null 2>&1 || need_apt+=(sqlite3)
# The man page check renders every generated page with man (groff, col).
command -v man >/dev/null 2>&1 && command -v col >/dev/null 2>&1 || need_apt+=(man-db bsdextrautils)

if ((${#need_apt[@]})); then
  echo "==> installing ${need_apt[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
fi
# The config tests validate the generated JSON Schema with python's jsonschema.
if ! python3 -c 'import jsonschema' >/dev/null 2>&1; then
  echo "==> installing jsonschema (PyPI)"
  python3 -m pip install -q jsonschema 2>/dev/null || python3 -m pip install -q --break-system-packages jsonschema
fi

# The evidence tests parse reports made by the real pytest, coverage.py and ruff; the
# WebSocket and HTTP/2 tests drive the router with the `websockets` and `h2` clients; the
# gRPC tests run gRPC's own Python server and client (grpcio, grpcio-health-checking).
# The API contract tests validate docs/openapi.json with openapi-spec-validator and run
# Schemathesis against a live server. The email notification tests send to aiosmtpd
# (scripts/smtp_server.py); the tracing tests' OTLP receiver (scripts/otlp_receiver.py)
# decodes with the official opentelemetry-proto definitions.
for pair in pytest:pytest coverage:coverage ruff:ruff websockets:websockets h2:h2 grpc:grpcio grpc_health:grpcio-health-checking openapi_spec_validator:openapi-spec-validator schemathesis:schemathesis aiosmtpd:aiosmtpd opentelemetry.proto:opentelemetry-proto; do
  module=${pair%%:*} package=${pair#*:}
  if ! python3 -c "import $module" >/dev/null 2>&1; then
    echo "==> installing $package (PyPI)"
    python3 -m pip install -q "$package" 2>/dev/null || python3 -m pip install -q --break-system-packages "$package"
  fi
done

echo "==> building (debug)"
swift build --build-tests

# The container tests run against a private Docker Engine, Podman's Docker-compatible
# service and a local registry (installed if missing), stopped and cleaned up on exit.
echo "==> starting the test container engines"
# The fleet tests run against 4 "servers": network namespaces on a bridge of their own,
# each with a real sshd from Debian, its own host key and a verified known_hosts; the
# first two with a Docker Engine of their own (containers on fleet servers).
trap 'scripts/test-engines.sh stop; scripts/test-hosts.sh stop' EXIT
engines_env=$(scripts/test-engines.sh start) || { echo "error: the test container engines did not start (see above)" >&2; exit 1; }
eval "$engines_env"
echo "==> starting the test servers (network namespaces with sshd)"
hosts_env=$(scripts/test-hosts.sh start 4 2) || { echo "error: the test servers did not start (see above)" >&2; exit 1; }
eval "$hosts_env"

echo "==> running tests"
# Swift Testing runs suites in parallel; the end-to-end suites are serialized inside. The
# fleet suites (SSH, copying Slipway's bundle to servers) run after the others, so their
# copying and hashing do not slow the timing-sensitive suites down.
# The API contract run (Schemathesis) and the passive-health load loop are CPU-heavy too:
# they run in that second phase as well.
# The crash walk restarts control planes dozens of times: it runs there too, and so do the
# post-deploy verification and email suites (real control planes, SMTP servers and traffic
# for about 45 s), which made the first phase too slow for its deadline-bound suites.
fleet='SSHConnectionTests|FleetServerTests|FleetTests|APIContractTests|PassiveHealthE2ETests|CrashWalkTests|VerificationTests|EmailNotificationTests|TracingTests'
if (($#)); then
  swift test --skip-build "$@"
else
  status=0
  swift test --skip-build --skip "$fleet" || status=$?
  echo "==> running the fleet, API contract, passive-health, crash-walk, verification, email and tracing tests"
  swift test --skip-build --filter "$fleet" || status=$?
  # The man pages: generated from the command definitions by swift-argument-parser's plugin
  # (from this debug build), one per command, each rendered by man.
  echo "==> documentation links"
  python3 scripts/check-links.py || status=$?
  echo "==> man pages"
  scripts/man.sh --check || status=$?
  # The fuzz smoke: every fuzz target under libFuzzer + the address sanitizer for a few
  # seconds (the long runs are `Benchmarks/run.sh fuzz`). It reuses this debug build: only
  # Slipway's own input-reading modules are compiled again, instrumented, last of all.
  echo "==> fuzz smoke (libFuzzer, ${SLIPWAY_FUZZ_SMOKE_SECONDS:-8} s per target)"
  FUZZ_BUILD=debug FUZZ_SCRATCH=.build FUZZ_SEED=1 scripts/fuzz.sh all "${SLIPWAY_FUZZ_SMOKE_SECONDS:-8}" || status=$?
  exit "$status"
fi
