#!/usr/bin/env python3
"""Reads a wrk output file; prints key=value lines (requests, duration_s, rps, p50_ms,
p99_ms, connect, read, write, timeout, socket_errors, non2xx, statuses, versions)."""
import re
import sys

UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def ms(text):
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text)
    return float(m.group(1)) * UNITS[m.group(2)] if m else float("nan")


def parse(path):
    text = open(path, errors="replace").read()
    out = {"requests": 0, "duration_s": 0.0, "rps": 0.0, "p50_ms": float("nan"), "p99_ms": float("nan"),
           "connect": 0, "read": 0, "write": 0, "timeout": 0, "non2xx": None, "statuses": "", "versions": ""}
    m = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", text)
    if m:
        out["requests"] = int(m.group(1))
        out["duration_s"] = ms(m.group(2) + m.group(3)) / 1000
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    if m:
        out["rps"] = float(m.group(1))
    for pct, key in (("50", "p50_ms"), ("99", "p99_ms")):
        m = re.search(r"^\s+%s(?:\.000)?%%\s+(\S+)" % pct, text, re.M)
        if m:
            out[key] = ms(m.group(1))
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if m:
        out.update(connect=int(m.group(1)), read=int(m.group(2)), write=int(m.group(3)), timeout=int(m.group(4)))
    out["socket_errors"] = out["connect"] + out["read"] + out["write"] + out["timeout"]
    m = re.search(r"LUA responses=(\d+) non2xx=(\d+)", text)
    if m:
        out["non2xx"] = int(m.group(2))
    else:
        m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
        out["non2xx"] = int(m.group(1)) if m else 0
    out["statuses"] = ",".join(sorted(re.findall(r"LUA status (\S+)", text))) or "-"
    out["versions"] = ",".join(sorted(re.findall(r"LUA version (\S+)", text))) or "-"
    return out


if __name__ == "__main__":
    for k, v in parse(sys.argv[1]).items():
        print(f"{k}={v}")
