#!/usr/bin/env python3
"""Latency probes of Benchmarks/observability.sh; each prints one JSON object.

visibility: a request through the router, then /metrics polled until its counter moved
            (time from the response's end to the first scrape that shows it).
webhook:    a webhook receiver on the given port; each sample POSTs a deploy and times
            from just before that request to the arrival of the rollout's `started`
            notification (an upper bound of event-to-receipt: it includes the API call),
            then waits for `succeeded` before the next deploy.
"""
import http.server
import threading
import json
import re
import statistics
import sys
import time
import urllib.request


def get(url, token=None, timeout=5):
    req = urllib.request.Request(url)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read().decode()


def counter(text, service, version):
    pattern = re.compile(r'^slipway_requests_total\{service="%s",version="%s",code_class="2xx"\} (\d+)$' % (re.escape(service), re.escape(version)), re.M)
    m = pattern.search(text)
    if not m:
        raise SystemExit("no slipway_requests_total sample for %s %s in /metrics" % (service, version))
    return int(m.group(1))


def visibility(router, api, token, service, version, n):
    samples, polls = [], []
    for _ in range(n):
        before = counter(get(api + "/metrics", token), service, version)
        get(router)
        done = time.perf_counter()
        tries = 0
        while True:
            tries += 1
            now = counter(get(api + "/metrics", token), service, version)
            if now > before:
                samples.append(time.perf_counter() - done)
                polls.append(tries)
                break
            if time.perf_counter() - done > 10:
                raise SystemExit("the request did not show on /metrics within 10 s")
    samples.sort()
    return {
        "n": n,
        "median_ms": statistics.median(samples) * 1000,
        "p95_ms": samples[max(0, int(len(samples) * 0.95) - 1)] * 1000,
        "max_ms": samples[-1] * 1000,
        "first_scrape_share": sum(1 for p in polls if p == 1) / n,
    }


def webhook(api, token, port, service, n):
    arrivals = {}
    cond = threading.Condition()

    class Receiver(http.server.BaseHTTPRequestHandler):
        def do_POST(self):
            now = time.time()
            body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", "0"))))
            self.send_response(204)
            self.end_headers()
            with cond:
                arrivals[(body.get("rollout"), body.get("event"))] = now
                cond.notify_all()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    def wait_for(key, timeout=60):
        deadline = time.time() + timeout
        with cond:
            while key not in arrivals:
                left = deadline - time.time()
                if left <= 0:
                    raise SystemExit("no %s notification for rollout %s within %d s" % (key[1], key[0], timeout))
                cond.wait(left)
            return arrivals[key]

    samples = []
    for i in range(n):
        req = urllib.request.Request(api + "/v1/services/%s/deploy" % service, data=json.dumps({"version": "w%d" % i}).encode(), method="POST")
        req.add_header("Authorization", "Bearer " + token)
        req.add_header("Content-Type", "application/json")
        start = time.time()
        with urllib.request.urlopen(req, timeout=30) as r:
            rollout = json.loads(r.read())["id"]
        samples.append(wait_for((rollout, "started")) - start)
        wait_for((rollout, "succeeded"))
    server.shutdown()
    samples.sort()
    return {"n": n, "median_ms": statistics.median(samples) * 1000, "p95_ms": samples[max(0, int(n * 0.95) - 1)] * 1000, "max_ms": samples[-1] * 1000}


def main():
    what = sys.argv[1]
    args = dict(a.split("=", 1) for a in sys.argv[2:])
    if what == "visibility":
        out = visibility(args["router"], args["api"], args["token"], args.get("service", "hello"), args.get("version", "v1"), int(args.get("n", "30")))
    elif what == "webhook":
        out = webhook(args["api"], args["token"], int(args["port"]), args.get("service", "hello"), int(args.get("n", "20")))
    else:
        raise SystemExit("unknown probe " + what)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
