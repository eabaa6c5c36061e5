#!/usr/bin/env python3
"""fuzz_ledger.py RESULTS.md NEW_ROWS OUT: the table of the section "fuzz-long" keeps one
row per target, that target's latest long run. NEW_ROWS holds this run's rows (markdown
table rows, first cell the target); OUT gets the merged rows: the new ones, then the rows
of targets this run did not fuzz, as RESULTS.md had them, in the order of the targets list
given in the environment variable FUZZ_KNOWN (one name per line)."""
import os
import sys

results, new_rows, out = sys.argv[1:4]
known = [t for t in os.environ.get("FUZZ_KNOWN", "").split() if t]


def target(row):
    cells = [c.strip() for c in row.strip().strip("|").split("|")]
    return cells[0] if cells else ""


rows = {}
begin, end = "<!-- BEGIN fuzz-long -->", "<!-- END fuzz-long -->"
if os.path.exists(results):
    text = open(results).read()
    if begin in text and end in text:
        section = text.split(begin, 1)[1].split(end, 1)[0]
        for line in section.splitlines():
            name = target(line)
            # Rows of the ledger only: a known target's name in the first cell and as many
            # cells as this script writes (older tables had fewer and are dropped).
            if line.startswith("|") and name in known and line.count("|") == 7:
                rows[name] = line.rstrip()
for line in open(new_rows):
    if line.startswith("|"):
        rows[target(line)] = line.rstrip()
with open(out, "w") as f:
    for name in known:
        if name in rows:
            f.write(rows[name] + "\n")
