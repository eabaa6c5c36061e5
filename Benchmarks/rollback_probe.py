#!/usr/bin/env python3
"""Rollback (switch-back) latency as one keep-alive client sees it.

A thread polls GET / over ONE keep-alive connection (http.client) in a tight loop and
records (time, X-Version) of every answer (errors are recorded too, then it reconnects).
Each repetition: move traffic to the new release ("deploy"), wait until the poller sees
only the new release, then at t0 (just before the switch-back command starts) switch
back. The latency is the time from t0 to the first answer of the old release after which
no answer of the new release appears.

Modes:
  slipway: deploy = `slipway deploy hello --version vN --wait`; switch back =
           `slipway rollback hello` (its "rollout N succeeded in XXms" is recorded too).
  nginx:   deploy = rewrite the upstream file to backend B + `nginx -s reload`;
           switch back = rewrite it to A + `nginx -s reload` (the peer).
  shell:   deploy = the --to-new shell command; switch back = the --to-old one (the
           container peer: `docker stop` one container, `docker run` the other on the
           same published port).

Prints one JSON object on stdout.
"""
import argparse
import http.client
import json
import re
import statistics
import subprocess
import sys
import threading
import time

MAX_SECONDS = 900  # hard bound of the poller


class Poller(threading.Thread):
    def __init__(self, port):
        super().__init__(daemon=True)
        self.port = port
        self.stop = threading.Event()
        self.records = []  # (monotonic time of the answer, version or "ERR:...")
        self.lock = threading.Lock()

    def run(self):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        end = time.monotonic() + MAX_SECONDS
        while not self.stop.is_set() and time.monotonic() < end:
            try:
                conn.request("GET", "/")
                r = conn.getresponse()
                r.read()
                v = r.getheader("X-Version") or "none"
                if r.status != 200:
                    v = f"HTTP{r.status}:{v}"
                if r.getheader("Connection", "").lower() == "close":
                    conn.close()
            except Exception as e:  # noqa: BLE001 - every failure is a data point
                v = f"ERR:{type(e).__name__}"
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
            with self.lock:
                self.records.append((time.monotonic(), v))

    def since(self, t):
        with self.lock:
            return [r for r in self.records if r[0] >= t]

    def wait_only(self, version, count=200, timeout=90):
        """Until the last `count` answers all came from `version`."""
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with self.lock:
                tail = self.records[-count:]
            if len(tail) == count and all(v == version for _, v in tail):
                return True
            time.sleep(0.05)
        return False


def run(cmd):
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    return p.returncode, p.stdout + p.stderr


def server_ms(text):
    m = re.search(r"succeeded in ([\d.]+)(ms|s)", text)
    if not m:
        return None
    return float(m.group(1)) * (1 if m.group(2) == "ms" else 1000)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", choices=["slipway", "nginx", "shell"], required=True)
    ap.add_argument("--port", type=int, required=True, help="where the client sends GET /")
    ap.add_argument("--reps", type=int, default=10)
    ap.add_argument("--slipway")
    ap.add_argument("--old", default="v1", help="version label of the release switched back to")
    ap.add_argument("--new", default="b", help="nginx mode: version label of backend B")
    ap.add_argument("--upstream-file")
    ap.add_argument("--port-a", type=int)
    ap.add_argument("--port-b", type=int)
    ap.add_argument("--reload", help="nginx mode: the reload command line (shell)")
    ap.add_argument("--to-new", help="shell mode: the command that moves traffic to --new")
    ap.add_argument("--to-old", help="shell mode: the command that moves traffic back to --old")
    a = ap.parse_args()

    poller = Poller(a.port)
    poller.start()
    if not poller.wait_only(a.old, count=50, timeout=30):
        sys.exit("the poller never saw only %s" % a.old)

    reps = []
    for i in range(a.reps):
        # Move traffic to the new release.
        if a.mode == "slipway":
            new = f"v{i + 2}"
            rc, out = run([a.slipway, "deploy", "hello", "--version", new, "--wait"])
            if rc != 0:
                reps.append({"rep": i + 1, "error": "deploy failed: " + out[-500:]})
                continue
        elif a.mode == "shell":
            new = a.new
            subprocess.run(a.to_new, shell=True, check=True, timeout=120, capture_output=True)
        else:
            new = a.new
            open(a.upstream_file, "w").write(f"server 127.0.0.1:{a.port_b};\n")
            subprocess.run(a.reload, shell=True, check=True, timeout=30)
        if not poller.wait_only(new, count=200, timeout=60):
            reps.append({"rep": i + 1, "error": f"poller never saw only {new}"})
            continue
        time.sleep(0.3)

        # Switch back, timed from just before the command starts.
        t0 = time.monotonic()
        if a.mode == "slipway":
            p = subprocess.run([a.slipway, "rollback", "hello"], capture_output=True, text=True, timeout=180)
            rc, out = p.returncode, p.stdout + p.stderr
        elif a.mode == "shell":
            p = subprocess.run(a.to_old, shell=True, capture_output=True, text=True, timeout=120)
            rc, out = p.returncode, p.stdout + p.stderr
        else:
            open(a.upstream_file, "w").write(f"server 127.0.0.1:{a.port_a};\n")
            p = subprocess.run(a.reload, shell=True, capture_output=True, text=True, timeout=30)
            rc, out = p.returncode, p.stdout + p.stderr
        t_cli = time.monotonic()
        if not poller.wait_only(a.old, count=200, timeout=60):
            reps.append({"rep": i + 1, "error": f"poller never went back to only {a.old}", "cli_rc": rc, "cli_out": out[-500:]})
            continue
        time.sleep(0.5)
        recs = poller.since(t0)
        last_new = max((k for k, (_, v) in enumerate(recs) if v != a.old), default=-1)
        first_old_after = next(k for k in range(last_new + 1, len(recs)) if recs[k][1] == a.old)
        switch_ms = (recs[first_old_after][0] - t0) * 1000
        # Answers between t0 and the switch, by kind.
        window = recs[: first_old_after + 1]
        kinds = {}
        for _, v in window:
            kinds[v] = kinds.get(v, 0) + 1
        errors = sum(n for v, n in kinds.items() if v.startswith(("ERR", "HTTP")))
        reps.append({
            "rep": i + 1, "switch_ms": round(switch_ms, 1), "cli_ms": round((t_cli - t0) * 1000, 1),
            "server_ms": server_ms(out), "cli_rc": rc, "answers_in_window": kinds, "errors_in_window": errors,
            "last_new_ms": round((recs[last_new][0] - t0) * 1000, 1) if last_new >= 0 else None,
        })
        print(json.dumps(reps[-1]), file=sys.stderr)

    poller.stop.set()
    poller.join(timeout=10)
    with poller.lock:
        all_errors = sum(1 for _, v in poller.records if v.startswith(("ERR", "HTTP")))
        total = len(poller.records)
    ok = [r for r in reps if "switch_ms" in r]
    sw = [r["switch_ms"] for r in ok]
    srv = [r["server_ms"] for r in ok if r["server_ms"] is not None]
    cli = [r["cli_ms"] for r in ok]
    summary = {
        "mode": a.mode, "reps": a.reps, "measured": len(ok),
        "switch_ms_median": round(statistics.median(sw), 1) if sw else None,
        "switch_ms_max": round(max(sw), 1) if sw else None,
        "switch_ms_min": round(min(sw), 1) if sw else None,
        "server_ms_median": round(statistics.median(srv), 1) if srv else None,
        "server_ms_max": round(max(srv), 1) if srv else None,
        "cli_ms_median": round(statistics.median(cli), 1) if cli else None,
        "poller_requests": total, "poller_errors": all_errors,
        "rollout_failures": [r for r in reps if "error" in r or r.get("cli_rc")],
        "reps_detail": reps,
    }
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
