#!/usr/bin/env python3
"""Latency probes of Benchmarks/observability.sh; each prints one JSON object.

visibility: a request through the router, then /metrics polled until its counter moved
            (time from the response's end to the first scrape that shows it).
"""
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


def main():
    what = sys.argv[1]
    args = dict(a.split("=", 1) for a in sys.argv[2:])
    if what == "visibility":
        out = visibility(args["router"], args["api"], args["token"], args.get("service", "hello"), args.get("version", "v1"), int(args.get("n", "30")))
    else:
        raise SystemExit("unknown probe " + what)
    print(json.dumps(out))


if __name__ == "__main__":
    main()
