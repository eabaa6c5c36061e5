#!/usr/bin/env python3
"""Turns the canary benchmark's saved files into the RESULTS.md table."""
import json, sys, os

root = sys.argv[1]
def load(*p): return json.load(open(os.path.join(root, *p)))

def decisions(name): return load(name, "why.json")["decisions"]
def phase(name): return load(name, "history.json")[0]["phase"]

rows = []
# 1. bad canary
p = load("bad", "probe.json"); v2 = p["versions"].get("v2", {}); v1 = p["versions"].get("v1", {})
span = (v2["last"] - v2["first"]) if v2.get("first") else None
rb = [d for d in decisions("bad") if d["kind"] == "rolled_back"]
beyond = v1.get("non2xx", 0) + p["errors"]
rows.append(("1. bad canary (20 % errors, weight 10, default policy)",
    f"canary's first → last request: **{span:.1f} s** (goal < 10 s; Flagger's documented defaults, 1 min interval × 10 failed checks, take about 10 min); "
    f"canary requests {v2.get('requests', 0)} of which failed {v2.get('non2xx', 0)}; failed beyond the canary's share: **{beyond}** "
    f"(stable non-2xx {v1.get('non2xx', 0)}, connection errors {p['errors']}); outcome: {phase('bad')}; decision: {rb[0]['summary'] if rb else 'none'}"))
# 2. healthy canary
p = load("healthy", "probe.json")
failed = sum(d["non2xx"] for d in p["versions"].values()) + p["errors"]
steps = [d["kind"] for d in decisions("healthy")]
rows.append(("2. healthy canary through every step",
    f"outcome: {phase('healthy')}; requests {p['requests']}, **failed {failed}**; decisions: {', '.join(steps)}"))
# 3. latency regression
rb = [d for d in decisions("latency") if d["kind"] == "rolled_back"]
if rb:
    checks = rb[0]["verdict"]["checks"]
    fixed = next((c for c in checks if c["evidence"]["metric"] == "latency_p95"), None)
    base = next((c for c in checks if c["evidence"]["metric"] == "latency"), None)
    text = (f"outcome: {phase('latency')}; fixed 500 ms p95 threshold: **{fixed['outcome'] if fixed else '?'}** ({fixed['summary'] if fixed else ''}); "
            f"baseline comparison: **{base['outcome'] if base else '?'}** ({base['summary'] if base else ''})")
else:
    text = f"outcome: {phase('latency')}; no rollback decision (NOT caught)"
rows.append(("3. latency regression (300 ms on 25 % of canary requests)", text))
# 4. low traffic
p = load("lowtraffic", "probe.json"); ds = decisions("lowtraffic")
promoted = any(d["kind"] == "promoted" for d in ds)
inc = [d for d in ds if d["kind"] == "inconclusive"]
rows.append(("4. low traffic (~1 request/s, default policy), watched 75 s",
    f"promoted: **{'YES' if promoted else 'no'}**; requests {p['requests']} (canary {p['versions'].get('v2', {}).get('requests', 0)}); "
    f"phase at the end of the watch: {phase('lowtraffic')}; " + (f"{inc[0]['summary']}" if inc else "no inconclusive pause yet")))
# 5. split and stickiness
s = load("split", "split.json"); k = load("split", "sticky.json")
n = s["requests"]; c = s["versions"].get("v2", {}).get("requests", 0)
share = 100.0 * c / n if n else 0
rows.append(("5. split accuracy and stickiness (weight 10)",
    f"{n} requests without cookies: canary share **{share:.2f} %** (goal 10 ± 2); "
    f"{k['clients']} clients × 100 requests with their cookie: **{k['clients_that_switched']}** switched version "
    f"({sum(1 for v in k['client_versions'] if v == ['v2'])} on the canary)"))

print("| scenario | result |")
print("| --- | --- |")
for a, b in rows:
    print(f"| {a} | {b.replace('|', '/')} |")
