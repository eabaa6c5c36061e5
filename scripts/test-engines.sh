#!/usr/bin/env bash
# Starts (and stops) the container engines the container tests run against, each private to
# the test run: Debian's Docker Engine (its own dockerd, data root, exec root and unix
# socket; no iptables, no registry reachable), Podman's Docker-compatible API service, and a
# local image registry (Debian's docker-registry, htpasswd auth) for the pull path.
#
#   scripts/test-engines.sh start   installs what is missing, starts all three, prints the
#                                   environment the tests read (also written to $W/env)
#   scripts/test-engines.sh stop    stops them, removes their containers, dockerd's bridge
#                                   and the netns mount it leaves behind
#
# W defaults to /tmp/slipway-test-engines (short: unix socket paths are limited to 107 bytes).
set -euo pipefail
W=${SLIPWAY_TEST_ENGINES:-/tmp/slipway-test-engines}
REGISTRY_PORT=${SLIPWAY_TEST_REGISTRY_PORT:-15000}
# dockerd gets a bridge of its own (never the host's docker0), named and numbered after W
# so that two sets of engines (tests, benchmarks) never share one.
TAG=$(printf '%s' "$W" | md5sum | cut -c1-6)
BRIDGE="slw$TAG"
PODMAN_BRIDGE="slp$TAG"
SUBNET_BYTE=$(( 16#$(printf '%s' "$TAG" | cut -c1-2) % 200 + 20 ))

install_missing() {
  local need=()
  command -v dockerd >/dev/null 2>&1 || need+=(docker.io)
  command -v podman >/dev/null 2>&1 || need+=(podman)
  [ -x /usr/bin/catatonit ] || [ -x /usr/libexec/podman/catatonit ] || need+=(catatonit)
  command -v docker-registry >/dev/null 2>&1 || need+=(docker-registry)
  command -v htpasswd >/dev/null 2>&1 || need+=(apache2-utils)
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  [ -x /bin/busybox ] || need+=(busybox-static)
  if ((${#need[@]})); then
    echo "==> installing ${need[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

wait_for() { # what, command…
  local what=$1; shift
  for _ in $(seq 300); do "$@" >/dev/null 2>&1 && return 0; sleep 0.1; done
  echo "error: $what did not come up; its log:" >&2
  return 1
}

start() {
  install_missing
  stop_quietly
  mkdir -p "$W/docker" "$W/podman" "$W/registry/data"

  # Docker Engine: everything under $W, its own bridge, loopback-only publishing through
  # docker-proxy (no iptables rules, no forwarding: containers cannot reach the network).
  ip link show docker0 >/dev/null 2>&1 || touch "$W/docker/no-docker0-before"
  ip link add "$BRIDGE" type bridge
  ip addr add "10.213.$SUBNET_BYTE.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  dockerd --data-root "$W/docker/data" --exec-root "$W/docker/exec" -H "unix://$W/docker.sock" \
          --pidfile "$W/docker/dockerd.pid" --iptables=false --ip-forward=false --bridge="$BRIDGE" \
          >"$W/docker/dockerd.log" 2>&1 &
  wait_for "dockerd" curl -fsS --unix-socket "$W/docker.sock" http://d/_ping || { tail -20 "$W/docker/dockerd.log" >&2; exit 1; }

  # Podman's Docker-compatible service: cgroupfs, file events and explicit rlimits (no
  # systemd and no CAP_SYS_RESOURCE here), catatonit as its init. Its network is ours too:
  # a CNI config of our own (own bridge and subnet, no masquerading, IPAM state under $W);
  # CNI's portmap plugin still adds CNI-* iptables chains, removed on stop when they were
  # not there before.
  if ! iptables -t nat -S 2>/dev/null | grep -q '^-N CNI-'; then touch "$W/podman/made-cni-chains"; fi
  mkdir -p "$W/podman/cni"
  cat >"$W/podman/cni/slipway-test.conflist" <<CFG
{ "cniVersion": "0.4.0", "name": "podman",
  "plugins": [
    { "type": "bridge", "bridge": "$PODMAN_BRIDGE", "isGateway": true, "ipMasq": false, "hairpinMode": true,
      "ipam": { "type": "host-local", "dataDir": "$W/podman/cni-ipam",
                "routes": [{ "dst": "0.0.0.0/0" }],
                "ranges": [[{ "subnet": "10.214.$SUBNET_BYTE.0/24", "gateway": "10.214.$SUBNET_BYTE.1" }]] } },
    { "type": "portmap", "capabilities": { "portMappings": true } } ] }
CFG
  cat >"$W/podman/containers.conf" <<CFG
[containers]
default_ulimits = ["nofile=16384:16384", "nproc=16384:16384"]
[engine]
cgroup_manager = "cgroupfs"
events_logger = "file"
runtime = "runc"
[network]
network_backend = "cni"
network_config_dir = "$W/podman/cni"
default_network = "podman"
CFG
  printf '[storage]\ndriver = "overlay"\ngraphroot = "%s/podman/root"\nrunroot = "%s/podman/run"\n' "$W" "$W" >"$W/podman/storage.conf"
  CONTAINERS_CONF="$W/podman/containers.conf" CONTAINERS_STORAGE_CONF="$W/podman/storage.conf" \
    podman system service --time=0 "unix://$W/podman.sock" >"$W/podman/service.log" 2>&1 &
  echo $! >"$W/podman/service.pid"
  wait_for "podman system service" curl -fsS --unix-socket "$W/podman.sock" http://d/_ping || { tail -20 "$W/podman/service.log" >&2; exit 1; }

  # A registry on loopback with basic auth (dockerd talks plain HTTP to 127.0.0.0/8).
  htpasswd -Bbn slipway registry-secret >"$W/registry/htpasswd" 2>/dev/null
  cat >"$W/registry/config.yml" <<CFG
version: 0.1
log: { level: warn }
storage: { filesystem: { rootdirectory: $W/registry/data }, delete: { enabled: true } }
http: { addr: 127.0.0.1:$REGISTRY_PORT, secret: slipway-test }
auth: { htpasswd: { realm: slipway-test, path: $W/registry/htpasswd } }
CFG
  docker-registry serve "$W/registry/config.yml" >"$W/registry/registry.log" 2>&1 &
  echo $! >"$W/registry/registry.pid"
  wait_for "docker-registry" bash -c "curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$REGISTRY_PORT/v2/ | grep -q 401" || { tail -20 "$W/registry/registry.log" >&2; exit 1; }

  cat >"$W/env" <<ENV
export SLIPWAY_TEST_DOCKER_HOST=unix://$W/docker.sock
export SLIPWAY_TEST_PODMAN_HOST=unix://$W/podman.sock
export SLIPWAY_TEST_REGISTRY=127.0.0.1:$REGISTRY_PORT
export SLIPWAY_TEST_REGISTRY_USER=slipway
export SLIPWAY_TEST_REGISTRY_PASSWORD=registry-secret
ENV
  cat "$W/env"
}

kill_pidfile() {
  local file=$1
  [ -f "$file" ] || return 0
  local pid; pid=$(cat "$file" 2>/dev/null || true)
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -9 "$pid" 2>/dev/null || true
  fi
  rm -f "$file"
}

remove_cni_chains() {
  command -v iptables >/dev/null 2>&1 || return 0
  local table rule chain
  for table in nat filter; do
    # Jumps into CNI-* chains from the built-in chains, then the chains themselves.
    iptables -t "$table" -S 2>/dev/null | { grep -E '^-A [A-Z]+ .*-j CNI-' || true; } | sed 's/^-A /-D /' |
      while read -r rule; do eval "iptables -t $table $rule" 2>/dev/null || true; done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^CNI-/ {print $2}'); do
      iptables -t "$table" -F "$chain" 2>/dev/null || true
    done
    for chain in $(iptables -t "$table" -S 2>/dev/null | awk '$1 == "-N" && $2 ~ /^CNI-/ {print $2}'); do
      iptables -t "$table" -X "$chain" 2>/dev/null || true
    done
  done
}

stop_quietly() {
  # Containers first (through each API, while the engines still run), then the engines.
  for sock in "$W/docker.sock" "$W/podman.sock"; do
    [ -S "$sock" ] || continue
    for id in $(curl -fsS --unix-socket "$sock" 'http://d/v1.41/containers/json?all=1' 2>/dev/null | python3 -c 'import json,sys; print(" ".join(c["Id"] for c in json.load(sys.stdin)))' 2>/dev/null); do
      curl -fsS --unix-socket "$sock" -X DELETE "http://d/v1.41/containers/$id?force=1&v=1" >/dev/null 2>&1 || true
    done
  done
  kill_pidfile "$W/registry/registry.pid"
  kill_pidfile "$W/podman/service.pid"
  kill_pidfile "$W/docker/dockerd.pid"
  # What dockerd leaves behind: our bridge and the default netns mount.
  ip link del "$BRIDGE" 2>/dev/null || true
  # What Podman's CNI plugins leave behind: the bridge, and the iptables chains if we made them.
  ip link del "$PODMAN_BRIDGE" 2>/dev/null || true
  if [ -f "$W/podman/made-cni-chains" ]; then remove_cni_chains; rm -f "$W/podman/made-cni-chains"; fi
  umount "$W/docker/exec/netns/default" 2>/dev/null || true
  # Podman's containers' mounts under its run root.
  if [ -d "$W/podman/run" ]; then
    { grep -F "$W/podman" /proc/mounts || true; } | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
  fi
  rm -f "$W/docker.sock" "$W/podman.sock" "$W/env"
}

case "${1:-}" in
  start) start ;;
  stop) stop_quietly ;;
  *) echo "usage: $0 start|stop" >&2; exit 64 ;;
esac
