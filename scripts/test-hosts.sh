#!/usr/bin/env bash
# Makes (and removes) a small fleet of "servers" on this machine for the fleet tests: each
# host is a network namespace on a bridge of its own, with its own address and a real sshd
# from Debian listening there, its own host key, and the test's client key authorized. The
# client side gets a known_hosts file with every host's real key and an ssh_config that
# verifies them (StrictHostKeyChecking yes: nothing is accepted silently).
#
#   scripts/test-hosts.sh start [N] [E]
#                                     makes N hosts (default 3), the first E of them (default
#                                     0) with a Docker Engine of their own; prints the
#                                     environment the tests read (also written to $W/env)
#   scripts/test-hosts.sh stop        stops the sshds, deletes the namespaces and the bridge
#   scripts/test-hosts.sh cut I       cuts host I's link (its namespace keeps running)
#   scripts/test-hosts.sh restore I   puts it back
#
# The namespaces share this machine's file system: each host's Slipway directory is set
# per server in the tests (`dir:`), as each real server has its own disk. A host's engine
# is Debian's dockerd in the host's network namespace (entered with nsenter, so that it
# keeps this machine's cgroup mounts), with its own data root, socket ($W/hostI/docker.sock,
# named per server in the tests with `docker_host:`) and a bridge inside the namespace:
# a container's port published on 127.0.0.1 is the host's loopback, where its router looks.
# W defaults to /tmp/slipway-test-hosts.
set -euo pipefail
W=${SLIPWAY_TEST_HOSTS:-/tmp/slipway-test-hosts}
TAG=$(printf '%s' "$W" | md5sum | cut -c1-5)
BRIDGE="shb$TAG"
NET_BYTE=$(( 16#$(printf '%s' "$TAG" | cut -c1-2) % 200 + 20 ))
NET="10.216.$NET_BYTE"

ns_name() { echo "slwh$TAG-$1"; }
veth_name() { echo "shv$TAG$1"; }
host_ip() { echo "$NET.$((10 + $1))"; }

install_missing() {
  local need=()
  [ -x /usr/sbin/sshd ] || need+=(openssh-server)
  if [ "${ENGINES:-0}" -gt 0 ]; then command -v dockerd >/dev/null 2>&1 || need+=(docker.io); fi
  command -v ssh >/dev/null 2>&1 || need+=(openssh-client)
  command -v ip >/dev/null 2>&1 || need+=(iproute2)
  if ((${#need[@]})); then
    echo "==> installing ${need[*]}" >&2
    apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  fi
}

start() {
  local count=${1:-3}
  ENGINES=${2:-0}
  [[ "$count" =~ ^[0-9]+$ ]] && ((count >= 1 && count <= 50)) || { echo "error: N must be 1-50 (got $count)" >&2; exit 64; }
  [[ "$ENGINES" =~ ^[0-9]+$ ]] && ((ENGINES <= count)) || { echo "error: E must be 0-$count (got $ENGINES)" >&2; exit 64; }
  install_missing
  stop_quietly
  mkdir -p "$W" /run/sshd
  ssh-keygen -q -t ed25519 -N '' -C slipway-test-client -f "$W/id"
  : >"$W/known_hosts"
  ip link add "$BRIDGE" type bridge
  ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  local hosts=() namespaces=()
  for i in $(seq 1 "$count"); do
    local ns veth ip dir
    ns=$(ns_name "$i"); veth=$(veth_name "$i"); ip=$(host_ip "$i"); dir="$W/host$i"
    mkdir -p "$dir"
    ssh-keygen -q -t ed25519 -N '' -C "slipway-test-host$i" -f "$dir/hostkey"
    cp "$W/id.pub" "$dir/authorized_keys"
    cat >"$dir/sshd_config" <<CFG
HostKey $dir/hostkey
AuthorizedKeysFile $dir/authorized_keys
StrictModes no
PasswordAuthentication no
KbdInteractiveAuthentication no
PermitRootLogin prohibit-password
UsePAM no
AllowStreamLocalForwarding yes
StreamLocalBindUnlink yes
Subsystem sftp /usr/lib/openssh/sftp-server
MaxSessions 64
MaxStartups 64:30:128
ListenAddress $ip:22
PidFile $dir/sshd.pid
CFG
    ip netns add "$ns"
    ip link del "$veth" 2>/dev/null || true
    ip link add "$veth" type veth peer name eth0 netns "$ns"
    ip link set "$veth" master "$BRIDGE"
    ip link set "$veth" up
    ip -n "$ns" addr add "$ip/24" dev eth0
    ip -n "$ns" link set eth0 up
    ip -n "$ns" link set lo up
    ip -n "$ns" route add default via "$NET.1"
    ip netns exec "$ns" /usr/sbin/sshd -f "$dir/sshd_config" -E "$dir/sshd.log"
    echo "$ip $(cut -d' ' -f1,2 "$dir/hostkey.pub")" >>"$W/known_hosts"
    hosts+=("$ip"); namespaces+=("$ns")
  done
  cat >"$W/ssh_config" <<CFG
Host *
  User root
  IdentityFile $W/id
  IdentitiesOnly yes
  UserKnownHostsFile $W/known_hosts
  GlobalKnownHostsFile /dev/null
  StrictHostKeyChecking yes
  BatchMode yes
  LogLevel ERROR
CFG
  for i in $(seq 1 "$count"); do
    local ip; ip=$(host_ip "$i")
    for _ in $(seq 200); do
      ssh -F "$W/ssh_config" -o ConnectTimeout=2 "$ip" true >/dev/null 2>&1 && break
      sleep 0.05
    done
    ssh -F "$W/ssh_config" -o ConnectTimeout=2 "$ip" true || { echo "error: sshd on $ip did not come up; its log:" >&2; tail -20 "$W/host$i/sshd.log" >&2; exit 1; }
  done
  local engines=()
  for i in $(seq 1 "$ENGINES"); do
    start_engine "$i"
    engines+=("$i")
  done
  cat >"$W/env" <<ENV
export SLIPWAY_TEST_SSH_ENGINES="${engines[*]}"
export SLIPWAY_TEST_SSH_HOSTS="${hosts[*]}"
export SLIPWAY_TEST_SSH_NAMESPACES="${namespaces[*]}"
export SLIPWAY_TEST_SSH_CONFIG=$W/ssh_config
export SLIPWAY_TEST_SSH_KNOWN_HOSTS=$W/known_hosts
export SLIPWAY_TEST_SSH_DIR=$W
ENV
  cat "$W/env"
}

start_engine() { # I
  local i=$1 ns dir
  ns=$(ns_name "$i"); dir="$W/host$i"
  mkdir -p "$dir/docker"
  ip -n "$ns" link add slhbr type bridge
  ip -n "$ns" addr add "10.217.$i.1/24" dev slhbr
  ip -n "$ns" link set slhbr up
  nsenter --net="/var/run/netns/$ns" dockerd --data-root "$dir/docker/data" --exec-root "$dir/docker/exec" \
    -H "unix://$dir/docker.sock" --pidfile "$dir/docker/dockerd.pid" --iptables=false --ip-forward=false --bridge=slhbr \
    >"$dir/docker/dockerd.log" 2>&1 &
  for _ in $(seq 300); do
    curl -fsS --unix-socket "$dir/docker.sock" http://d/_ping >/dev/null 2>&1 && return 0
    sleep 0.1
  done
  echo "error: dockerd of host $i did not come up; its log:" >&2
  tail -20 "$dir/docker/dockerd.log" >&2
  exit 1
}

stop_engine() { # I
  local dir="$W/host$1" sock="$W/host$1/docker.sock" pid
  if [ -S "$sock" ]; then
    for id in $(curl -fsS --unix-socket "$sock" 'http://d/v1.41/containers/json?all=1' 2>/dev/null | python3 -c 'import json,sys; print(" ".join(c["Id"] for c in json.load(sys.stdin)))' 2>/dev/null); do
      curl -fsS --unix-socket "$sock" -X DELETE "http://d/v1.41/containers/$id?force=1&v=1" >/dev/null 2>&1 || true
    done
  fi
  if [ -f "$dir/docker/dockerd.pid" ]; then
    pid=$(cat "$dir/docker/dockerd.pid" 2>/dev/null || true)
    if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      for _ in $(seq 150); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
  fi
  # Mounts dockerd may leave behind (its netns bind mount, overlay layers).
  { grep -F "$dir/docker" /proc/mounts || true; } | awk '{print $2}' | sort -r | while read -r m; do umount -l "$m" 2>/dev/null || true; done
}

stop_quietly() {
  local i
  for i in $(seq 1 50); do
    [ -d "$W/host$i/docker" ] && stop_engine "$i"
  done
  for i in $(seq 1 50); do
    local ns; ns=$(ns_name "$i")
    if [ -f "$W/host$i/sshd.pid" ]; then kill "$(cat "$W/host$i/sshd.pid")" 2>/dev/null || true; fi
    if ip netns list 2>/dev/null | grep -qw "$ns"; then
      # Whatever still runs in the namespace (routers, instances the tests left) goes with it.
      for pid in $(ip netns pids "$ns" 2>/dev/null); do kill -9 "$pid" 2>/dev/null || true; done
      ip netns del "$ns" 2>/dev/null || true
    fi
    ip link del "$(veth_name "$i")" 2>/dev/null || true
  done
  ip link del "$BRIDGE" 2>/dev/null || true
  rm -rf "$W"
}

link() { # I up|down
  [[ "${1:-}" =~ ^[0-9]+$ ]] || { echo "usage: $0 cut|restore I" >&2; exit 64; }
  ip link set "$(veth_name "$1")" "$2"
}

case "${1:-}" in
  start) start "${2:-3}" "${3:-0}" ;;
  stop) stop_quietly ;;
  cut) link "${2:-}" down ;;
  restore) link "${2:-}" up ;;
  *) echo "usage: $0 start [N [E]]|stop|cut I|restore I" >&2; exit 64 ;;
esac
