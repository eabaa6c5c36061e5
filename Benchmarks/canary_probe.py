#!/usr/bin/env python3
"""Load for the canary benchmarks: THREADS keep-alive clients send GET / through the
router until --seconds pass or --stop-file appears, recording for every request the time,
the version that answered (X-Version) and the status. Bounded: at most --max-requests.

--pace S: each client sends at most one request per S seconds (low traffic).
--cookies: each client keeps the assignment cookie the router sets (sticky clients).
Prints one JSON object: per-request records are summarised, not dumped."""
import argparse, http.client, json, os, threading, time

ap = argparse.ArgumentParser()
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--threads", type=int, default=8)
ap.add_argument("--seconds", type=float, default=60)
ap.add_argument("--stop-file")
ap.add_argument("--pace", type=float, default=0)
ap.add_argument("--cookies", action="store_true")
ap.add_argument("--max-requests", type=int, default=2_000_000)
ap.add_argument("--requests-per-client", type=int, default=0, help="stop each client after N requests")
a = ap.parse_args()

lock = threading.Lock()
records = []  # (t, version, status) ; status 0 = connection error
clients = []  # per client: list of versions seen
start = time.time()
deadline = start + a.seconds

def stop():
    if time.time() >= deadline: return True
    if a.stop_file and os.path.exists(a.stop_file): return True
    with lock:
        return len(records) >= a.max_requests

def client(index):
    conn = None
    cookie = None
    seen = []
    n = 0
    while not stop():
        if a.requests_per_client and n >= a.requests_per_client: break
        n += 1
        t0 = time.time()
        try:
            if conn is None:
                conn = http.client.HTTPConnection("127.0.0.1", a.port, timeout=10)
            headers = {"Cookie": cookie} if cookie else {}
            conn.request("GET", "/", headers=headers)
            r = conn.getresponse()
            r.read()
            v = r.getheader("X-Version") or "?"
            sc = r.getheader("Set-Cookie")
            if a.cookies and sc and cookie is None:
                cookie = sc.split(";", 1)[0]
            with lock: records.append((t0, v, r.status))
            seen.append(v)
            if r.getheader("Connection", "").lower() == "close":
                conn.close(); conn = None
        except Exception:
            with lock: records.append((t0, None, 0))
            if conn: conn.close()
            conn = None
        if a.pace:
            time.sleep(max(0, a.pace - (time.time() - t0)))
    with lock: clients.append(seen)

threads = [threading.Thread(target=client, args=(i,)) for i in range(a.threads)]
for t in threads: t.start()
for t in threads: t.join()

by_version = {}
for t, v, s in records:
    d = by_version.setdefault(v or "error", {"requests": 0, "non2xx": 0, "first": None, "last": None})
    d["requests"] += 1
    if s < 200 or s >= 300: d["non2xx"] += 1
    d["first"] = t if d["first"] is None else min(d["first"], t)
    d["last"] = t if d["last"] is None else max(d["last"], t)
switched = sum(1 for seen in clients if len(set(seen)) > 1)
print(json.dumps({
    "start": start, "end": time.time(), "requests": len(records),
    "errors": sum(1 for r in records if r[2] == 0),
    "versions": by_version,
    "clients": len(clients), "clients_that_switched": switched,
    "client_versions": [sorted(set(seen)) for seen in clients][:200],
}))
