#!/usr/bin/env bash
# Builds the example service (hello-app) as a container image on a Docker-compatible engine,
# without a registry or a Dockerfile: the binary, the shared libraries it links and nothing
# else, imported FROM scratch through the Engine API (curl on the engine's unix socket).
#
#   scripts/hello-image.sh [TAG ...]     default tags: v1 v2 v3 → slipway-example/hello:TAG
#
# The engine is found as Slipway finds it: $DOCKER_HOST (unix://PATH), else
# /var/run/docker.sock. Each tag is imported as an image of its own (its own id), as separate
# builds would be; HELLO_BUILD=… sets the X-Build header the app answers with.
# Then: slipway apply -f Examples/hello/container.yml  (see docs/containers.md).
set -euo pipefail
cd "$(dirname "$0")/.."

REPOSITORY=${HELLO_IMAGE_REPOSITORY:-slipway-example/hello}
TAGS=("$@"); ((${#TAGS[@]})) || TAGS=(v1 v2 v3)
host=${DOCKER_HOST:-unix:///var/run/docker.sock}
case "$host" in
  unix://*) SOCK=${host#unix://} ;;
  *) echo "error: DOCKER_HOST=$host: only unix:// sockets are supported" >&2; exit 64 ;;
esac
if ! curl -fsS --max-time 5 --unix-socket "$SOCK" http://d/_ping >/dev/null 2>&1; then
  echo "error: no container engine answers at $SOCK; start Docker (dockerd) or Podman's service" \
       "(podman system service), or set DOCKER_HOST=unix://PATH" >&2
  exit 1
fi

echo "==> building hello-app (release)" >&2
swift build -c release --product hello-app >&2
BIN="$(swift build -c release --show-bin-path)/hello-app"

ROOT=$(mktemp -d); trap 'rm -rf "$ROOT"' EXIT
mkdir -p "$ROOT/rootfs/tmp"; cp "$BIN" "$ROOT/rootfs/hello-app"
LIBDIRS=""
for lib in $(ldd "$BIN" | awk '/=>/ && $3 ~ /^\// {print $3} /^[[:space:]]*\// {print $1}'); do
  mkdir -p "$ROOT/rootfs$(dirname "$lib")"; cp -L "$lib" "$ROOT/rootfs$lib"
  case ":$LIBDIRS:" in *":$(dirname "$lib"):"*) ;; *) LIBDIRS="${LIBDIRS:+$LIBDIRS:}$(dirname "$lib")" ;; esac
done
tar -C "$ROOT/rootfs" -cf "$ROOT/rootfs.tar" .

q() { python3 -c 'import sys, urllib.parse; print(urllib.parse.quote(sys.argv[1], safe=""))' "$1"; }
changes="changes=$(q 'ENV HOST=0.0.0.0')&changes=$(q "ENV LD_LIBRARY_PATH=$LIBDIRS")&changes=$(q "ENV HELLO_BUILD=${HELLO_BUILD:-1}")&changes=$(q 'CMD ["/hello-app"]')"
for tag in "${TAGS[@]}"; do
  # The tag goes in `repo` (Podman 4 ignores a separate `tag`); Expect: off (Podman hangs on 100-continue).
  out=$(curl -sS --unix-socket "$SOCK" -X POST -H 'Expect:' -H 'Content-Type: application/x-tar' \
        --data-binary @"$ROOT/rootfs.tar" "http://d/v1.41/images/create?fromSrc=-&repo=$(q "$REPOSITORY:$tag")&$changes")
  if grep -q '"error' <<<"$out"; then echo "error: importing $REPOSITORY:$tag: $out" >&2; exit 1; fi
  id=$(curl -fsS --unix-socket "$SOCK" "http://d/v1.41/images/$(q "$REPOSITORY:$tag")/json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["Id"])')
  echo "$REPOSITORY:$tag  $id"
done
