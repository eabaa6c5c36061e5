#!/usr/bin/env python3
"""report_gates.py TMP RUNS: the gates benchmark's table (markdown on stdout) from the
files gates.sh left in TMP. Exits 1 — after printing what differs — when any run of
Slipway or of the peer did not read the counts make_reports.py wrote, or Slipway's
SHA-256 differs from hashlib's: a wrong parse must fail the benchmark, not look fast."""
import json
import os
import sys

tmp, runs = sys.argv[1], int(sys.argv[2])
expected = json.load(open(os.path.join(tmp, "reports", "expected.json")))
tiny_expected = json.load(open(os.path.join(tmp, "tiny", "expected.json")))
KEYS = {"junit": ("tests", "failures", "errors", "skipped"), "sarif": ("critical", "high", "medium", "low", "unknown")}
SUMMARY = {"junit": "tests", "sarif": "vulnerabilities"}
GOAL_SECONDS = 2.0

median = lambda xs: sorted(xs)[len(xs) // 2]
problems = []


def timing(name):
    e, m = open(os.path.join(tmp, name + ".time")).read().split()[-2:]
    return float(e), int(m) * 1024


def check(kind, name, want):
    """Compares one run's output with the expected counts; returns the digest it printed."""
    out = json.load(open(os.path.join(tmp, name + ".out")))
    if name.startswith("slipway"):
        got = out["summary"][SUMMARY[kind]]
        digest = out["reports"][0]["sha256"]
        if out["reports"][0]["bytes"] != want["bytes"]:
            problems.append(f"{name}: {out['reports'][0]['bytes']} bytes, the file has {want['bytes']}")
    else:
        got, digest = out, out["sha256"]
    for k in KEYS[kind]:
        if got.get(k, 0) != want[k]:
            problems.append(f"{name}: {k} = {got.get(k, 0)}, expected {want[k]}")
    return digest


rows = {}
for kind in ("junit", "sarif"):
    want = expected[kind]
    digests = set()
    for side in ("slipway", "peer"):
        times, rss = [], []
        for i in range(1, runs + 1):
            digests.add(check(kind, f"{side}-{kind}-{i}", want))
            e, m = timing(f"{side}-{kind}-{i}")
            times.append(e)
            rss.append(m)
        check(kind, f"{side}-{kind}-tiny", tiny_expected[kind])
        rows[(kind, side)] = (median(times), median(rss), times, rss, timing(f"{side}-{kind}-tiny"))
    if len(digests) != 1:
        problems.append(f"{kind}: SHA-256 differs between runs or from hashlib's: {sorted(digests)}")

if problems:
    print("COUNTS WRONG:")
    for p in problems:
        print("- " + p)
    sys.exit(1)

MB = 1e6
labels = {"junit": "JUnit, {tests:,} testcases ({failures} failures, {errors} errors, {skipped} skipped)",
          "sarif": "SARIF 2.1.0, {results:,} results in 2 runs ({critical} critical, {high} high, {medium} medium, {low} low)"}
print("| report | file size (MB) | Slipway time (s) | peer time (s) | Slipway ÷ peer time | Slipway peak RSS (MB) | floor RSS (MB) | peer peak RSS (MB) | Slipway RSS ÷ file size | Slipway RSS above floor ÷ file size | Slipway ÷ peer RSS |")
print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
verdicts = []
for kind in ("junit", "sarif"):
    size = expected[kind]["bytes"]
    st, sm, _, _, (_, sfloor) = rows[(kind, "slipway")]
    pt, pm, _, _, _ = rows[(kind, "peer")]
    label = labels[kind].format(**expected[kind])
    print(f"| {label} | {size / MB:.1f} | {st:.2f} | {pt:.2f} | {st / pt:.2f}× | {sm / MB:.1f} | {sfloor / MB:.1f} | {pm / MB:.1f} | "
          f"{sm / size:.2f} | {(sm - sfloor) / size:.3f} | {sm / pm:.2f}× |")
    verdicts.append((kind, st, sm, sfloor, size))
print()
for kind, side in rows:
    _, _, times, rss, _ = rows[(kind, side)]
    print(f"- {kind}, {'Slipway' if side == 'slipway' else 'peer'}: times " + " / ".join(f"{t:.2f}" for t in times)
          + " s; peak RSS " + " / ".join(f"{m / MB:.1f}" for m in rss) + " MB")
print()
for kind, st, sm, sfloor, size in verdicts:
    time_ok = st < GOAL_SECONDS
    # "Memory well below the file size": what the parse adds to the process floor stays
    # under a quarter of the file (a streaming parse: it does not grow with the file).
    mem_ok = (sm - sfloor) < size / 4
    print(f"{kind}: time goal (< {GOAL_SECONDS:.0f} s): **{'met' if time_ok else 'NOT met'}** ({st:.2f} s); "
          f"memory goal (peak RSS above the floor < ¼ of the file): **{'met' if mem_ok else 'NOT met'}** "
          f"({(sm - sfloor) / MB:.1f} MB above a {sfloor / MB:.1f} MB floor for a {size / MB:.1f} MB file; total {sm / MB:.1f} MB).")
    print()
print("Counts: every Slipway and peer run read exactly the generator's counts; Slipway's SHA-256 equals hashlib's.")
