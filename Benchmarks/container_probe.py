#!/usr/bin/env python3
"""Container deploy time against the engine's own create + start + first passing check.

Modes (one JSON object on stdout):
  slipway: each repetition POSTs /v1/services/hello/deploy (version vN, straight to the API:
           no CLI start-up in the figure) and polls GET / through the router every 5 ms
           until it answers vN: the time a user waits for the new release to take traffic.
           Then it waits for the rollout to end and reads its events for the breakdown.
  engine:  the peer a Docker user has without Slipway, the same engine and image:
           POST /containers/create (published on 127.0.0.1) + POST /containers/{id}/start,
           then GET /health on the published port every 5 ms until 200; the container is
           removed after each repetition (not timed).
"""
import argparse
import http.client
import json
import os
import socket
import statistics
import sys
import time
import urllib.request


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path):
        super().__init__("docker", timeout=60)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def engine(sock, method, path, body=None):
    c = UnixHTTPConnection(sock)
    c.request(method, "/v1.41" + path, body=json.dumps(body) if body is not None else None,
              headers={"Content-Type": "application/json"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status >= 300:
        raise RuntimeError(f"{method} {path}: {r.status} {data[:300]!r}")
    return json.loads(data) if data else None


def get(port, path, want_version=None):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", path)
        r = c.getresponse()
        r.read()
        c.close()
        if want_version is not None:
            return r.status == 200 and r.getheader("X-Version") == want_version
        return r.status == 200
    except OSError:
        return False


def wait(pred, timeout, every=0.005):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(every)
    return False


def api(server, token, method, path, body=None):
    req = urllib.request.Request(server + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


def stats(values):
    if not values:
        return {"median": None, "min": None, "max": None}
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["slipway", "engine"], required=True)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--port", type=int, help="slipway: the router's port; engine: unused")
    ap.add_argument("--first", type=int, default=2, help="slipway: first version number deployed")
    ap.add_argument("--socket", help="engine: the engine's unix socket")
    ap.add_argument("--image", help="engine: the image")
    ap.add_argument("--host-port", type=int, help="engine: the port to publish")
    a = ap.parse_args()
    runs, detail = [], []
    for i in range(a.reps):
        if a.mode == "slipway":
            server, token = os.environ["SLIPWAY_SERVER"], os.environ["SLIPWAY_TOKEN"]
            version = f"v{a.first + i}"
            t0 = time.monotonic()
            rollout = api(server, token, "POST", "/v1/services/hello/deploy", {"version": version})
            if not wait(lambda: get(a.port, "/", version), 120):
                sys.exit(f"{version} never answered through the router")
            t1 = time.monotonic()
            end = time.monotonic() + 120
            while time.monotonic() < end:
                r = api(server, token, "GET", f"/v1/rollouts/{rollout['id']}")
                if r["phase"] in ("succeeded", "failed"):
                    break
                time.sleep(0.05)
            if r["phase"] != "succeeded":
                sys.exit(f"rollout {rollout['id']} ended {r['phase']}: {r.get('reason')}")
            at = {}
            for e in r.get("events") or []:
                at.setdefault(e["kind"], e["time"])
            def span(a_, b_):
                return round((at[b_] - at[a_]) * 1000, 1) if a_ in at and b_ in at else None
            runs.append((t1 - t0) * 1000)
            detail.append({"version": version, "live_ms": round((t1 - t0) * 1000, 1),
                           "prepare_ms": span("started", "starting"), "create_start_ms": span("starting", "instance_started"),
                           "to_healthy_ms": span("instance_started", "healthy"), "healthy_to_switch_ms": span("healthy", "switched")})
        else:
            name = f"bench-peer-{os.getpid()}-{i}"
            port = a.host_port
            body = {"Image": a.image, "Env": [f"PORT={port}", "SLIPWAY_VERSION=peer"], "ExposedPorts": {f"{port}/tcp": {}},
                    "HostConfig": {"Init": True, "PortBindings": {f"{port}/tcp": [{"HostIp": "127.0.0.1", "HostPort": str(port)}]}}}
            t0 = time.monotonic()
            created = engine(a.socket, "POST", f"/containers/create?name={name}", body)
            engine(a.socket, "POST", f"/containers/{created['Id']}/start")
            t_started = time.monotonic()
            if not wait(lambda: get(port, "/health"), 60):
                sys.exit("the peer container never answered /health")
            t1 = time.monotonic()
            runs.append((t1 - t0) * 1000)
            detail.append({"live_ms": round((t1 - t0) * 1000, 1), "create_start_ms": round((t_started - t0) * 1000, 1),
                           "to_healthy_ms": round((t1 - t_started) * 1000, 1)})
            engine(a.socket, "DELETE", f"/containers/{created['Id']}?force=1")
            time.sleep(0.3)
    print(json.dumps({"mode": a.mode, "reps": a.reps, "live_ms": stats(runs), "detail": detail}))


if __name__ == "__main__":
    main()
