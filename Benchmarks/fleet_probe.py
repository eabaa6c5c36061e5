#!/usr/bin/env python3
"""Fleet timings: how long a blue-green deploy and a warm rollback take until EVERY server
serves the new (old) version, and for how long the servers disagree.

One poller thread per server sends GET / over one keep-alive connection in a tight loop
and records (time, X-Version) of every answer. A server "switched" at the first answer of
the target version after which no answer of another version came.

Modes (one JSON object on stdout):
  slipway: each repetition POSTs /v1/services/hello/deploy (vN; straight to the API, no
           CLI start-up in the figure), waits until every server switched, then POSTs
           /v1/services/hello/rollback and waits again. deploy_ms / rollback_ms: from the
           request to the last server switching; window_ms: last server switching minus
           first (the time the fleet served two versions at once).
  peer:    the slowest host's own start + health, the floor of any deploy: on every
           server at once (one ssh command each, over a multiplexed master, as Slipway's),
           start hello-app on a fresh port and poll its /health until 200 on all of them.
"""
import argparse
import http.client
import json
import statistics
import subprocess
import threading
import time
import urllib.request

MAX_SECONDS = 1200


class Poller(threading.Thread):
    def __init__(self, host, port):
        super().__init__(daemon=True)
        self.host, self.port = host, port
        self.stop = threading.Event()
        self.records = []
        self.lock = threading.Lock()
        self.errors = 0

    def run(self):
        conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
        end = time.monotonic() + MAX_SECONDS
        while not self.stop.is_set() and time.monotonic() < end:
            try:
                conn.request("GET", "/")
                r = conn.getresponse()
                r.read()
                v = r.getheader("X-Version") or "none"
                if r.status != 200:
                    v = f"HTTP{r.status}"
                    self.errors += 1
            except Exception as e:  # noqa: BLE001 - every failure is a data point
                v = f"ERR:{type(e).__name__}"
                self.errors += 1
                conn.close()
                conn = http.client.HTTPConnection(self.host, self.port, timeout=5)
            with self.lock:
                self.records.append((time.monotonic(), v))

    def switched_at(self, since, version):
        """First answer of `version` after `since` with no other answer after it, or None."""
        with self.lock:
            records = [r for r in self.records if r[0] >= since]
        last_other = max((t for t, v in records if v != version), default=None)
        first = [t for t, v in records if v == version and (last_other is None or t > last_other)]
        return first[0] if first else None


def api(server, token, method, path, body=None):
    req = urllib.request.Request(server + path, method=method, data=json.dumps(body).encode() if body is not None else None,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=120) as r:
        return json.loads(r.read())


def wait_all(pollers, since, version, timeout=120):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        times = [p.switched_at(since, version) for p in pollers]
        if all(t is not None for t in times):
            # Settled: nothing but `version` for 300 ms on every server.
            time.sleep(0.3)
            times = [p.switched_at(since, version) for p in pollers]
            if all(t is not None for t in times):
                return times
        time.sleep(0.01)
    raise SystemExit(f"not every server served {version} within {timeout}s")


def stats(values):
    return {"median": statistics.median(values), "max": max(values), "min": min(values)} if values else None


def slipway(args):
    hosts = args.hosts.split(",")
    pollers = [Poller(h, args.port) for h in hosts]
    for p in pollers:
        p.start()
    deploys, rollbacks, deploy_windows, rollback_windows = [], [], [], []
    for i in range(args.reps):
        version = f"v{i + 2}"
        t0 = time.monotonic()
        api(args.server, args.token, "POST", "/v1/services/hello/deploy", {"version": version})
        times = wait_all(pollers, t0, version)
        deploys.append((max(times) - t0) * 1000)
        deploy_windows.append((max(times) - min(times)) * 1000)
        # The rollout record ends after the drain; wait for it so the next step is allowed.
        for _ in range(600):
            history = api(args.server, args.token, "GET", "/v1/services/hello/rollouts?limit=1")
            if history and history[0]["phase"] in ("succeeded", "failed"):
                break
            time.sleep(0.05)
        t1 = time.monotonic()
        api(args.server, args.token, "POST", "/v1/services/hello/rollback", {})
        times = wait_all(pollers, t1, "v1")
        rollbacks.append((max(times) - t1) * 1000)
        rollback_windows.append((max(times) - min(times)) * 1000)
        for _ in range(600):
            history = api(args.server, args.token, "GET", "/v1/services/hello/rollouts?limit=1")
            if history and history[0]["phase"] in ("succeeded", "failed"):
                break
            time.sleep(0.05)
    for p in pollers:
        p.stop.set()
    for p in pollers:
        p.join()
    print(json.dumps({"hosts": len(hosts), "reps": args.reps, "deploy_ms": stats(deploys), "deploy_window_ms": stats(deploy_windows),
                      "rollback_ms": stats(rollbacks), "rollback_window_ms": stats(rollback_windows),
                      "poller_errors": sum(p.errors for p in pollers), "requests": sum(len(p.records) for p in pollers)}))


def peer(args):
    hosts = args.hosts.split(",")
    results = []
    for i in range(args.reps):
        port = args.peer_port + i
        t0 = time.monotonic()
        procs = [subprocess.Popen(["ssh", "-F", args.ssh_config, "-o", f"ControlPath={args.control_dir}/%C", "-o", "ControlMaster=auto", "-o", "ControlPersist=60",
                                  h, f"HOST=0.0.0.0 setsid {args.hello_app} --port {port} --version peer </dev/null >/dev/null 2>&1 & echo started"],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE) for h in hosts]
        for p in procs:
            p.wait(timeout=60)
        pending = set(hosts)
        end = time.monotonic() + 60
        while pending and time.monotonic() < end:
            for h in list(pending):
                try:
                    c = http.client.HTTPConnection(h, port, timeout=1)
                    c.request("GET", "/health")
                    if c.getresponse().status == 200:
                        pending.discard(h)
                    c.close()
                except OSError:
                    pass
            time.sleep(0.005)
        if pending:
            raise SystemExit(f"peer hello-app did not answer on {sorted(pending)}")
        results.append((time.monotonic() - t0) * 1000)
        for h in hosts:
            subprocess.run(["ssh", "-F", args.ssh_config, "-o", f"ControlPath={args.control_dir}/%C", "-o", "ControlMaster=auto", "-o", "ControlPersist=60",
                            h, f"pkill -f 'hello-app --port {port} '"], capture_output=True, timeout=60)
    print(json.dumps({"hosts": len(hosts), "reps": args.reps, "start_health_ms": stats(results)}))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["slipway", "peer"], required=True)
    ap.add_argument("--hosts", required=True)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--server")
    ap.add_argument("--token")
    ap.add_argument("--ssh-config")
    ap.add_argument("--control-dir")
    ap.add_argument("--hello-app")
    ap.add_argument("--peer-port", type=int, default=31000)
    args = ap.parse_args()
    slipway(args) if args.mode == "slipway" else peer(args)


if __name__ == "__main__":
    main()
