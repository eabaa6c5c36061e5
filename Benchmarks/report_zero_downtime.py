#!/usr/bin/env python3
"""Markdown table of the zero-downtime run (args: tmpdir pairs slipway_s nginx_s
failed_ops reload_failures). Reads wrk-slipway.txt, wrk-nginx.txt, slipway-ops.txt."""
import os
import re
import statistics
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from wrkparse import parse  # noqa: E402

tmp, pairs, sw_s, ng_s, failed_ops, reload_fail = sys.argv[1:7]
pairs = int(pairs)
sw = parse(os.path.join(tmp, "wrk-slipway.txt"))
ng = parse(os.path.join(tmp, "wrk-nginx.txt"))


def failed(r):
    return r["socket_errors"] + r["non2xx"]


def ratio(a, b):
    if b == 0:
        return "n/a (peer 0)" if a else "1.00 (both 0)"
    return f"{a / b:.2f}"


def to_ms(text):
    m = re.match(r"([\d.]+)(ms|s)$", text or "")
    if not m:
        return None
    return float(m.group(1)) * (1 if m.group(2) == "ms" else 1000)


ops = open(os.path.join(tmp, "slipway-ops.txt")).read().splitlines()
dep = [to_ms(re.search(r"server=(\S+)", l).group(1)) for l in ops if l.startswith("deploy")]
rb = [to_ms(re.search(r"server=(\S+)", l).group(1)) for l in ops if l.startswith("rollback")]
dep_cli = [float(re.search(r"cli_s=(\S+)", l).group(1)) for l in ops if l.startswith("deploy")]
rb_cli = [float(re.search(r"cli_s=(\S+)", l).group(1)) for l in ops if l.startswith("rollback")]
dep = [x for x in dep if x is not None]
rb = [x for x in rb if x is not None]

rows = [
    ("switches", f"{2 * pairs} ({pairs} deploy --wait + {pairs} rollback)", f"{2 * pairs} (`nginx -s reload`, upstream A↔B)", ""),
    ("switching window (s)", sw_s, ng_s, ""),
    ("wrk duration (s)", f"{sw['duration_s']:.1f}", f"{ng['duration_s']:.1f}", ""),
    ("requests", f"{sw['requests']}", f"{ng['requests']}", ""),
    ("req/s", f"{sw['rps']:.0f}", f"{ng['rps']:.0f}", ratio(sw["rps"], ng["rps"])),
    ("p99 latency (ms)", f"{sw['p99_ms']:.2f}", f"{ng['p99_ms']:.2f}", ratio(sw["p99_ms"], ng["p99_ms"])),
    ("socket errors connect/read/write/timeout",
     f"{sw['connect']}/{sw['read']}/{sw['write']}/{sw['timeout']}",
     f"{ng['connect']}/{ng['read']}/{ng['write']}/{ng['timeout']}", ratio(sw["socket_errors"], ng["socket_errors"])),
    ("non-2xx responses", f"{sw['non2xx']} ({sw['statuses']})", f"{ng['non2xx']} ({ng['statuses']})", ratio(sw["non2xx"], ng["non2xx"])),
    ("failed requests per switch", f"{failed(sw) / (2 * pairs):.2f}", f"{failed(ng) / (2 * pairs):.2f}", ratio(failed(sw), failed(ng))),
    ("versions that answered", sw["versions"], ng["versions"], ""),
    ("failed operations (CLI exit ≠ 0 / reload errors)", failed_ops, reload_fail, ""),
]
print("| | Slipway router | peer: nginx reload | Slipway / nginx |")
print("| --- | --- | --- | --- |")
for r in rows:
    print("| " + " | ".join(str(c) for c in r) + " |")
print()
goal = failed(sw) == 0
print(f"Goal (0 socket errors, 0 non-2xx through Slipway during {2 * pairs} switches): "
      f"**{'met' if goal else 'NOT met'}** ({sw['socket_errors']} socket errors, {sw['non2xx']} non-2xx).")
if dep:
    print(f"Slipway server-side rollout durations: deploy median {statistics.median(dep):.0f} ms (max {max(dep):.0f}); "
          f"rollback median {statistics.median(rb):.0f} ms (max {max(rb):.0f})." if rb else "")
print(f"CLI wall time: deploy --wait median {statistics.median(dep_cli):.2f} s; rollback median {statistics.median(rb_cli):.2f} s."
      if dep_cli and rb_cli else "")
